package agent

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kinetail/kinetail/config"
	"github.com/kinetail/kinetail/internal/sdnotify"
)

// ServeOptions are what Serve needs besides the configuration.
type ServeOptions struct {
	Log     *slog.Logger
	Version string
	// Load reads and validates the configuration again for a reload; it
	// must refuse what New would (transforms included).
	Load func() (*config.Config, error)
	// Apply, if set, applies the process-wide settings of a configuration
	// (log level, memory limit) before an agent is built with it.
	Apply func(*config.Config)
	// Notify tells systemd about readiness, reloads and the stop; nil
	// when not run by systemd.
	Notify *sdnotify.Notifier
	// Starting, if set, is called with each agent and its configuration
	// before it runs: at the start and after each reload.
	Starting func(*Agent, *config.Config)
}

// Serve runs an agent for cfg until ctx is cancelled. Each value on reload
// (SIGHUP) loads the configuration again: one that does not load is
// logged with its errors and the running agent goes on untouched, as it
// does when nothing changed. A changed one with the same agent settings is
// applied in place (Agent.Reload): the flows and destinations that did
// not change go on untouched, the others stop after delivering what is in
// flight and start again from the acknowledged offsets. A change of the
// agent settings (checkpoint, memory limit, metrics, ...) stops the
// running agent as SIGTERM does and starts an agent with the new
// configuration. Either way nothing is lost, and nothing is sent again
// unless it was still unacknowledged at the shutdown deadline.
func Serve(ctx context.Context, cfg *config.Config, reload <-chan struct{}, o ServeOptions) error {
	var current atomic.Pointer[Agent]
	stopWatchdog := watchdog(ctx, o, &current)
	defer stopWatchdog()
	var prev *config.Config // the configuration that ran before a reload
	for {
		if o.Apply != nil {
			o.Apply(cfg)
		}
		a, err := New(ctx, cfg, o.Log)
		if err != nil && prev != nil {
			// It loaded and validated, yet cannot be built (a
			// destination the SDK refuses): go on with the one that ran.
			o.Log.Error("reload failed; starting the previous configuration again", "err", err)
			cfg, prev = prev, nil
			continue
		}
		if err != nil {
			return err
		}
		a.Version = o.Version
		if o.Starting != nil {
			o.Starting(a, cfg)
		}
		a.OnReady = func() { o.Notify.Send("READY=1", a.notifyStatus()) }
		current.Store(a)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(runCtx) }()

		var next *config.Config
		for {
			next, err = waitReload(ctx, cfg, reload, done, o)
			if next == nil {
				stop()
				return err
			}
			o.Notify.Send(sdnotify.Reloading()...)
			if !SameSettings(cfg, next) {
				o.Log.Info("agent settings changed: stopping every flow to start the new configuration")
				break
			}
			changes, err := a.Reload(ctx, next)
			var restart *RestartError
			if errors.As(err, &restart) {
				o.Log.Error("reload could not start the new flows; restarting every flow", "err", err)
				break
			}
			if err != nil {
				o.Log.Error("reload refused; the running configuration goes on", "err", err)
				o.Notify.Send("READY=1", "STATUS=reload refused: "+firstLine(err.Error()))
				continue
			}
			if changes.None() {
				o.Log.Info("configuration reloaded: no flow or destination changed")
			} else {
				o.Log.Info("configuration reloaded", "flows_restarted", changes.Stopped, "flows_started", changes.Started,
					"flows_unchanged", changes.Kept, "destinations_closed", changes.Closed, "destinations_opened", changes.Opened)
			}
			cfg = next
			o.Notify.Send("READY=1", a.notifyStatus())
		}
		stop()
		if err := <-done; err != nil {
			return err
		}
		prev, cfg = cfg, next
	}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// waitReload waits for the running agent to end (it returns nil and the
// agent's error) or for a reload that changes the configuration (it
// returns the new one).
func waitReload(ctx context.Context, cfg *config.Config, reload <-chan struct{}, done <-chan error, o ServeOptions) (*config.Config, error) {
	for {
		select {
		case <-ctx.Done():
			// Told before the delivery of what is in flight, which can
			// take up to the shutdown timeout.
			o.Notify.Send("STOPPING=1")
			return nil, <-done
		case err := <-done:
			return nil, err
		case <-reload:
			o.Log.Info("reloading the configuration")
			next, err := o.Load()
			if err != nil {
				o.Log.Error("reload refused: the configuration does not load; the running one goes on", "err", err)
				o.Notify.Send("STATUS=reload refused: " + firstLine(err.Error()))
				continue
			}
			if reflect.DeepEqual(next, cfg) {
				o.Log.Info("configuration unchanged; nothing to reload")
				continue
			}
			if ctx.Err() != nil {
				return nil, <-done
			}
			return next, nil
		}
	}
}

// watchdog sends WATCHDOG=1 at half of $WATCHDOG_USEC while the current
// agent's flows run: a flow whose loop died makes systemd restart us.
func watchdog(ctx context.Context, o ServeOptions, current *atomic.Pointer[Agent]) (stop func()) {
	every, err := sdnotify.WatchdogInterval()
	if err != nil {
		o.Log.Warn("systemd watchdog off", "err", err)
	}
	if every <= 0 || o.Notify == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if a := current.Load(); a != nil && a.Alive() {
					o.Notify.Send("WATCHDOG=1")
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}
