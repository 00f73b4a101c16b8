package tailer

import "time"

// Fast sets the timing of a Tailer for tests in other packages (the
// generative test): quick polls, a short grace after rotation, idle files
// closed soon, and quick looks for generations not found.
func Fast(cfg Config) Config {
	cfg.pollInterval = 10 * time.Millisecond
	cfg.closeGrace = 100 * time.Millisecond
	cfg.idleClose = 200 * time.Millisecond
	cfg.searchEvery = 50 * time.Millisecond
	if cfg.RescanInterval == 0 {
		cfg.RescanInterval = 100 * time.Millisecond
	}
	return cfg
}
