package sink

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// recordingConn keeps each write it is given, and fails those after fail.
type recordingConn struct {
	net.Conn
	writes []string
	fail   int // writes that succeed before the rest fail; -1: all succeed
}

var errWrite = errors.New("broken pipe")

func (c *recordingConn) Write(p []byte) (int, error) {
	if c.fail >= 0 && len(c.writes) >= c.fail {
		return 0, errWrite
	}
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func TestGatherConn(t *testing.T) {
	big := strings.Repeat("b", gatherBytes)
	half := strings.Repeat("h", gatherBytes/2+1)
	tests := []struct {
		name  string
		fail  int
		steps []string // "(" gathers, ")" releases, anything else is written
		want  []string
		err   error // of the last step
	}{
		{"not gathering: each write goes through", -1,
			[]string{"a", "b"}, []string{"a", "b"}, nil},
		{"gathered: one write at the release", -1,
			[]string{"(", "a", "b", "c", ")"}, []string{"abc"}, nil},
		{"nested: written at the last release", -1,
			[]string{"(", "a", "(", "b", ")", "c", ")"}, []string{"abc"}, nil},
		{"a release with nothing gathered writes nothing", -1,
			[]string{"(", ")", "a"}, []string{"a"}, nil},
		{"the buffer full: written before it overflows", -1,
			[]string{"(", half, half, ")"}, []string{half, half}, nil},
		{"a write larger than the buffer goes through after what was gathered", -1,
			[]string{"(", "a", big + "x", "c", ")"}, []string{"a", big + "x", "c"}, nil},
		{"the error of the gathered write comes from the release", 0,
			[]string{"(", "a", ")"}, nil, errWrite},
		{"the error of a flush for room comes from the write", 0,
			[]string{"(", half, half}, nil, errWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recordingConn{fail: tt.fail}
			c := &gatherConn{Conn: rc}
			var err error
			for _, s := range tt.steps {
				switch s {
				case "(":
					c.gather()
				case ")":
					err = c.release()
				default:
					var n int
					n, err = c.Write([]byte(s))
					if err == nil && n != len(s) {
						t.Fatalf("Write(%d bytes) = %d", len(s), n)
					}
				}
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("last step: %v, want %v", err, tt.err)
			}
			if len(rc.writes) != len(tt.want) {
				t.Fatalf("%d writes, want %d", len(rc.writes), len(tt.want))
			}
			for i := range tt.want {
				if rc.writes[i] != tt.want[i] {
					t.Errorf("write %d: %d bytes %.10q…, want %d bytes %.10q…", i, len(rc.writes[i]), rc.writes[i], len(tt.want[i]), tt.want[i])
				}
			}
			if c.buf != nil && c.writers == 0 {
				t.Error("the buffer was kept after the last release")
			}
		})
	}
}
