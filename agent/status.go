package agent

import "github.com/kinetail/kinetail/metrics"

// Status returns what /status would answer now: every flow with its files,
// every destination, health checked, and rates when metrics are served
// (they are sampled by the listener). It may be called at any time after
// New, also while Run runs.
func (a *Agent) Status() *metrics.Status {
	if a.mon.metrics != nil {
		return a.mon.metrics.Status()
	}
	s := a.mon.Snapshot(true)
	s.Check()
	return s
}
