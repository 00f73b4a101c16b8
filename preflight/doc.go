// Package preflight checks what a valid configuration needs of the host it
// runs on, which config.Load cannot see: that the checkpoint directory can
// be written, that the globs' directories exist, that the files they match
// can be read by the user kinetail runs as, and that the metrics address is
// free. `kinetail check` prints the findings (and fails on an error); the
// agent logs them at start and runs on, as files may appear and
// permissions change while it runs.
//
// Checks only look: the one side effect is the checkpoint directory, which
// is created if missing (as the agent would create it).
package preflight
