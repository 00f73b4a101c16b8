package config

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestSizeUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "512", want: 512},
		{in: "51200", want: 51200},
		{in: "0", want: 0},
		{in: "512B", want: 512},
		{in: "512KiB", want: 512 * 1024},
		{in: "5MiB", want: 5 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "10KB", want: 10000},
		{in: "5MB", want: 5000000},
		{in: "2GB", want: 2000000000},
		{in: "'5 MiB'", want: 5 << 20},
		{in: "8589934591GiB", want: 8589934591 << 30},
		{in: "8589934592GiB", wantErr: "too large"},
		{in: "99999999999999999999", wantErr: "too large"},
		{in: "-1", wantErr: "must not be negative"},
		{in: "-5MiB", wantErr: "must not be negative"},
		{in: "1.5MiB", wantErr: `unknown unit ".5MiB"`},
		{in: "5mb", wantErr: `unknown unit "mb"`},
		{in: "MiB", wantErr: "expected a whole number"},
		{in: "''", wantErr: "expected a whole number"},
		{in: "[1]", wantErr: "expected a size like 512KiB, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct{ S Size }
			err := yaml.Unmarshal([]byte("s: "+tt.in), &v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", v.S, err, tt.wantErr)
				}
				return
			}
			if err != nil || v.S != tt.want {
				t.Fatalf("got %d, %v; want %d", v.S, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{51200, "50KiB"},
		{1<<20 - 1024, "1023KiB"},
		{5 << 20, "5MiB"},
		{10 << 30, "10GiB"},
		{1000, "1KB"},
		{5000000, "5MB"},
		{3000000000, "3GB"},
		{1500, "1500B"},
	}
	for _, tt := range tests {
		got := tt.in.String()
		if got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := parseSize(got)
		if err != nil || back != tt.in {
			t.Errorf("parseSize(%q) = %d, %v; want %d", got, back, err, tt.in)
		}
	}
}

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "0s", want: 0},
		{in: `"10s"`, want: 10 * time.Second},
		{in: "10", wantErr: "invalid duration 10: durations need a unit, e.g. 500ms"},
		{in: "0", wantErr: "durations need a unit"},
		{in: `"500"`, wantErr: "durations need a unit"},
		{in: "-1s", wantErr: "must not be negative"},
		{in: "5 seconds", wantErr: `invalid duration "5 seconds"`},
		{in: "1.5", wantErr: `invalid duration "1.5"`},
		{in: "{a: 1}", wantErr: "expected a duration like 500ms, got a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v struct{ D Duration }
			err := yaml.Unmarshal([]byte("d: "+tt.in), &v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", v.D, err, tt.wantErr)
				}
				return
			}
			if err != nil || v.D.D() != tt.want {
				t.Fatalf("got %v, %v; want %v", v.D.D(), err, tt.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{time.Second, "1s"},
		{90 * time.Second, "1m30s"},
		{time.Minute, "1m"},
		{90 * time.Minute, "1h30m"},
		{168 * time.Hour, "168h"},
		{time.Hour + time.Second, "1h0m1s"},
	}
	for _, tt := range tests {
		got := Duration(tt.in).String()
		if got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
		back, err := parseDuration(got)
		if err != nil || back.D() != tt.in {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", got, back, err, tt.in)
		}
	}
}
