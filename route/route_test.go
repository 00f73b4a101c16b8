package route

import (
	"slices"
	"testing"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/transform"
)

func TestRoute(t *testing.T) {
	yes := true
	index := map[string]int{"events": 0, "errors": 1, "archive": 2, "debug": 3}
	flow := &config.Flow{
		Routes: []*config.Route{
			{When: &config.When{Condition: config.Condition{Field: "status", Matches: `^5`}}, To: []string{"errors", "archive"}, Continue: true},
			{When: &config.When{Path: "/var/log/debug/*.log"}, To: []string{"debug"}},
			{When: &config.When{Condition: config.Condition{LineMatches: `GET /health`}}, To: []string{"debug"}},
			{When: &config.When{Condition: config.Condition{Field: "user", Exists: &yes}}, To: []string{"events", "archive"}},
		},
	}
	withDefault := *flow
	withDefault.Destination = "events"
	tests := []struct {
		name string
		flow *config.Flow
		path string
		line string
		rec  string
		want []int
	}{
		{"continue adds later matches once", flow, "/var/log/app.log", "x", `{"status":503,"user":"u"}`, []int{1, 2, 0}},
		{"continue with nothing later", flow, "/var/log/app.log", "x", `{"status":"500"}`, []int{1, 2}},
		{"first match wins", flow, "/var/log/debug/a.log", "GET /health", `{"user":"u"}`, []int{3}},
		{"line condition on the raw line", flow, "/var/log/app.log", "GET /health", `{}`, []int{3}},
		{"field condition", flow, "/var/log/app.log", "x", `{"user":"u"}`, []int{0, 2}},
		{"no match, no default: dropped", flow, "/var/log/app.log", "x", `{"other":1}`, nil},
		{"not JSON fails field conditions", flow, "/var/log/app.log", "x", `plain text`, nil},
		{"no match goes to the default", &withDefault, "/var/log/app.log", "x", `{}`, []int{0}},
		{"a match with continue goes on to the default", &withDefault, "/var/log/app.log", "x", `{"status":500}`, []int{1, 2, 0}},
		{"a match without continue does not", &withDefault, "/var/log/debug/a.log", "x", `{}`, []int{3}},
		{"simple form", &config.Flow{Destination: "errors"}, "/a", "x", `x`, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.flow, index)
			if err != nil {
				t.Fatal(err)
			}
			r.SetPath(tt.path)
			var rec transform.Record
			rec.Reset([]byte(tt.rec))
			got := r.Route(nil, []byte(tt.line), &rec)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Route() = %v, want %v", got, tt.want)
			}
			if wantUnrouted := int64(0); len(tt.want) == 0 {
				wantUnrouted = 1
				if r.Unrouted != wantUnrouted {
					t.Fatalf("Unrouted = %d, want %d", r.Unrouted, wantUnrouted)
				}
			}
		})
	}
}

func TestRouteErrors(t *testing.T) {
	index := map[string]int{"events": 0}
	for _, f := range []*config.Flow{
		{Destination: "nowhere"},
		{Routes: []*config.Route{{To: []string{"nowhere"}}}},
		{},
	} {
		if _, err := New(f, index); err == nil {
			t.Errorf("New(%+v) accepted", f)
		}
	}
}

func TestRouteAllocs(t *testing.T) {
	index := map[string]int{"events": 0, "errors": 1}
	r, err := New(&config.Flow{Destination: "events", Routes: []*config.Route{
		{When: &config.When{Condition: config.Condition{Field: "status", Matches: `^5`}}, To: []string{"errors"}},
	}}, index)
	if err != nil {
		t.Fatal(err)
	}
	r.SetPath("/var/log/app.log")
	buf := make([]int, 0, 4)
	line := []byte(`{"time":"x","status":503,"msg":"boom"}`)
	var rec transform.Record
	if n := testing.AllocsPerRun(100, func() { rec.Reset(line); buf = r.Route(buf[:0], line, &rec) }); n != 0 {
		t.Fatalf("Route allocates %v times per call", n)
	}
}
