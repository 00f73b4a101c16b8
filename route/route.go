// Package route decides which destinations a record goes to.
//
// A flow either names one destination (every record goes there) or lists
// rules. Rules are tried in order; a rule matches when every condition it
// has holds (a glob on the file's path, a regular expression on the raw
// line, a condition on a field of the transformed record); the first match
// wins unless it says continue. Records no rule matches go to the flow's
// destination if it has one, else they are dropped and counted.
// Destinations are referred to by their index in the flow's list, so
// routing a record allocates nothing.
package route

import (
	"fmt"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/tailer"
	"github.com/kinetail/kinetail/transform"
)

// Router routes the records of one flow. It is used by one goroutine.
type Router struct {
	rules []rule
	def   []int // the flow's destination, for records no rule matched

	pathOK []bool // per rule: its path glob holds for the current file
	// Unrouted counts records that matched no rule and had no default.
	Unrouted int64
}

type rule struct {
	glob  *tailer.Glob
	match *transform.Match // nil: no line or field condition
	to    []int
	cont  bool
}

// New builds the router of flow f; index maps destination names to the
// flow's indexes.
func New(f *config.Flow, index map[string]int) (*Router, error) {
	r := &Router{}
	lookup := func(name string) (int, error) {
		i, ok := index[name]
		if !ok {
			return 0, fmt.Errorf("route: destination %q is not defined", name)
		}
		return i, nil
	}
	if f.Destination != "" {
		i, err := lookup(f.Destination)
		if err != nil {
			return nil, err
		}
		r.def = []int{i}
	}
	for n, rc := range f.Routes {
		var ru rule
		if w := rc.When; w != nil {
			if w.Path != "" {
				g, err := tailer.CompileGlob(w.Path)
				if err != nil {
					return nil, fmt.Errorf("route %d: %w", n+1, err)
				}
				ru.glob = &g
			}
			m, err := transform.NewMatch(&w.Condition)
			if err != nil {
				return nil, fmt.Errorf("route %d: %w", n+1, err)
			}
			if !m.Empty() {
				ru.match = m
			}
		}
		for _, name := range rc.To {
			i, err := lookup(name)
			if err != nil {
				return nil, err
			}
			ru.to = append(ru.to, i)
		}
		ru.cont = rc.Continue
		r.rules = append(r.rules, ru)
	}
	if len(r.rules) == 0 && r.def == nil {
		return nil, fmt.Errorf("route: no destination and no routes")
	}
	r.pathOK = make([]bool, len(r.rules))
	r.SetPath("")
	return r, nil
}

// SetPath tells the router the path of the file the next records come
// from. Path globs are matched here, once per batch, not per record.
func (r *Router) SetPath(path string) {
	for i := range r.rules {
		g := r.rules[i].glob
		r.pathOK[i] = g == nil || g.Match(path)
	}
}

// Route appends the destinations of the record read by rec, made from the
// raw line, to dst and returns it. A destination named by several matching rules is
// listed once. An empty result means the record matched nothing and is
// counted in Unrouted.
func (r *Router) Route(dst []int, line []byte, rec *transform.Record) []int {
	if len(r.rules) == 0 {
		return append(dst, r.def...)
	}
	start := len(dst)
	for i := range r.rules {
		ru := &r.rules[i]
		if !r.pathOK[i] {
			continue
		}
		if ru.match != nil {
			// A record that is not a JSON object fails field
			// conditions: it does not match.
			if ok, err := ru.match.Match(line, rec); !ok || err != nil {
				continue
			}
		}
		for _, d := range ru.to {
			dst = appendOnce(dst, start, d)
		}
		if !ru.cont {
			return dst
		}
	}
	// Past the last rule: the flow's destination acts as a final rule
	// that matches everything.
	for _, d := range r.def {
		dst = appendOnce(dst, start, d)
	}
	if len(dst) == start {
		r.Unrouted++
	}
	return dst
}

func appendOnce(dst []int, start, d int) []int {
	for _, x := range dst[start:] {
		if x == d {
			return dst
		}
	}
	return append(dst, d)
}
