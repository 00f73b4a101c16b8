package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// sampleEvery is how often the destinations' counters are sampled for the
// rates of /status.
const sampleEvery = 10 * time.Second

// Server serves Metrics' handlers on one listener.
type Server struct {
	m   *Metrics
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr now, so that an address in use is reported at start.
func Listen(addr string, m *Metrics, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &Server{m: m, ln: ln, srv: srv}, nil
}

// Addr is the address listened on (with the port chosen, for port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done, then closes the listener and waits up to
// a second for requests being served. It samples the rates meanwhile.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	s.m.Sample()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.m.Sample()
		case err := <-errc:
			return fmt.Errorf("metrics listener: %w", err)
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			err := s.srv.Shutdown(sctx)
			if err != nil {
				s.srv.Close() // requests still served after the second
			}
			if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
				err = serr
			}
			return err
		}
	}
}
