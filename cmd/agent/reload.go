package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/transform"
)

// loadValidated loads the configuration at path and builds each flow's
// transforms, so that what `run` would refuse is refused here: by `check`,
// and by a reload before the running agent is stopped.
func loadValidated(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range cfg.Flows {
		if _, err := transform.New(f.Transforms); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: flow %q: %w", path, f.Line, f.Name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// hangups turns SIGHUP into reload requests until stop is called; it is
// called first thing, so that a SIGHUP sent while the agent starts (a
// logrotate postrotate) asks for a reload instead of killing it. A request
// made while one waits is the same request.
func hangups() (reload <-chan struct{}, stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, func() {
		signal.Stop(sig)
		close(done)
	}
}
