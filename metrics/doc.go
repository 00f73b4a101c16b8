// Package metrics shows what the agent does: Prometheus metrics in a
// private registry, the status model behind /status, /healthz and `kinetail
// status`, and an optional emitter of the Kinesis Agent's CloudWatch
// metrics.
//
// It holds no counters of its own for the pipeline. The stages keep theirs
// (atomics updated per batch or per request, never per line), and the agent
// reads them into a Status snapshot only when someone asks: a scrape, a
// /status request, a CloudWatch round. The Collector turns that snapshot
// into metrics at scrape time, so serving metrics adds nothing to the hot
// path. Only per-request histograms and counters by outcome are updated as
// requests end (RequestMetrics), once per request.
//
// Labels are bounded: flow and destination come from the configuration,
// stream from it or from a templated destination (at most 64 per template),
// and a label per file only with agent.metrics.per_file.
package metrics
