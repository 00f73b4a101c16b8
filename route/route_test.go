package route

import (
	"slices"
	"testing"
)

func TestRoute(t *testing.T) {
	index := map[string]int{"events": 0, "errors": 1}
	tests := []struct {
		name    string
		dest    string
		want    []int
		wantErr bool
	}{
		{"named destination", "errors", []int{1}, false},
		{"first destination", "events", []int{0}, false},
		{"undefined destination", "nowhere", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.dest, index)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			buf := make([]int, 0, 4)
			if got := r.Route([]byte(`{}`), buf); !slices.Equal(got, tt.want) {
				t.Fatalf("Route() = %v, want %v", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { buf = r.Route(nil, buf[:0]) }); n != 0 {
				t.Fatalf("Route allocates %v times per call", n)
			}
		})
	}
}
