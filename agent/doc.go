// Package agent wires the stages together and owns every goroutine:
//
//	tailer ─Batch─▶ flow (transform.Chain, route.Router) ─sink.Batch─▶ sink ─ack─▶ checkpoint.Tracker ─▶ checkpoint.Store
//
// Each tailer batch becomes one acknowledgement group in the tracker; every
// record handed to a destination adds one to the group, and the group
// completes (advancing the file's checkpoint and returning the batch's bytes
// to the flow's memory budget) when every destination has stored every
// record. Lines a transform drops complete at once.
//
// Shutdown runs in data-flow order: cancelling Run's context stops the
// tailers; the flows finish the batches they hold and close the sink
// channels; sinks deliver what they accepted within the shutdown timeout;
// the final checkpoint is saved last. Anything not acknowledged by then is
// read again after restart, so nothing is lost.
package agent
