package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/config/agentjson"
	"github.com/kinetail/kinetail/transform"
)

// loadValidated loads the configuration at path and builds each flow's
// transforms, so that what `run` would refuse is refused here: by `check`,
// and by a reload before the running agent is stopped.
// From a Kinesis Agent agent.json, it also returns what was read from it
// (nil for kinetail's YAML).
func loadValidated(path string) (*config.Config, *agentjson.Result, error) {
	cfg, aj, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, f := range cfg.Flows {
		if _, err := transform.New(f.Transforms); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: flow %q: %w", path, f.Line, f.Name, err))
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return cfg, aj, nil
}

// loadConfig loads the configuration at path: kinetail's YAML, or a Kinesis
// Agent agent.json (with the flows of the agent.d directory beside it),
// which is read as the agent reads it.
func loadConfig(path string) (*config.Config, *agentjson.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load config: %w", err)
	}
	if !agentjson.Detect(path, data) {
		cfg, err := config.Parse(path, data)
		return cfg, nil, err
	}
	aj, err := agentjson.Load(path)
	if err != nil {
		return nil, nil, err
	}
	return aj.Config, aj, nil
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
