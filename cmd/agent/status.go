package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/kinetail/kinetail/metrics"
)

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	var path, listen string
	code, ok := flags("status", "Prints what the running agent is doing: each flow's files (offset, size, bytes\nbehind) and each destination's records/s, error rate and last error, from its\n/status (agent.metrics.listen). Without a running agent, prints where reading\nwould resume, from the checkpoint file.", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "c", "/etc/kinetail/kinetail.yaml", "configuration `file`")
		fs.StringVar(&listen, "addr", "", "ask the agent at this `host:port` instead of agent.metrics.listen")
	})
	if !ok {
		return code
	}
	cfg, _, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "kinetail: %v\n", err)
		return 1
	}
	if listen == "" {
		listen = cfg.Agent.Metrics.Listen
	}
	if err := metrics.Report(context.Background(), stdout, listen, cfg.Agent.CheckpointFile); err != nil {
		fmt.Fprintf(stderr, "kinetail status: %v\n", err)
		return 1
	}
	return 0
}
