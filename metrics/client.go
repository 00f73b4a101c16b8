package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/kinetail/kinetail/checkpoint"
)

// Fetch asks the agent listening on listen (agent.metrics.listen) for its
// status.
func Fetch(ctx context.Context, client *http.Client, listen string) (*Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+dialAddr(listen)+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /status: %s", resp.Status)
	}
	var s Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("GET /status: %w", err)
	}
	return &s, nil
}

// dialAddr is where to reach a listener on listen: an unspecified host
// (every interface) is reached on loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Report prints the status of the agent listening on listen as a table, or,
// when none answers, the contents of checkpointFile, saying so. It returns
// an error only when neither can be printed.
func Report(ctx context.Context, w io.Writer, listen, checkpointFile string) error {
	var why string
	if listen == "" {
		why = "agent.metrics.listen is empty: the agent serves no status"
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, err := Fetch(ctx, http.DefaultClient, listen)
		if err == nil {
			return WriteTable(w, s)
		}
		why = fmt.Sprintf("no agent answers at %s (%v)", dialAddr(listen), err)
	}
	data, err := os.ReadFile(checkpointFile)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s, and there is no checkpoint file %s yet", why, checkpointFile)
	}
	if err != nil {
		return fmt.Errorf("%s; checkpoint: %w", why, err)
	}
	entries, saved, err := checkpoint.Decode(data)
	if err != nil {
		return fmt.Errorf("%s; checkpoint %s: %w", why, checkpointFile, err)
	}
	if _, err := fmt.Fprintf(w, "%s; where reading would resume, from the checkpoint file:\n\n", why); err != nil {
		return err
	}
	return WriteCheckpoint(w, checkpointFile, entries, saved, time.Now())
}
