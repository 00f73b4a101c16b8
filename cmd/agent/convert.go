package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"

	"github.com/kinetail/kinetail/config/agentjson"
)

func cmdConvert(args []string, stdout, stderr io.Writer) int {
	files, code, ok := flagsArgs("convert", "AGENT.JSON [AGENT.D/*.JSON]",
		"Prints a Kinesis Agent configuration as kinetail YAML: one destination per\n"+
			"stream, one flow per agent flow, comments on where each value came from and\n"+
			"on what kinetail does differently. Without fragment files, the flows of the\n"+
			"agent.d directory beside AGENT.JSON are read, as the agent and\n"+
			"`kinetail run -c AGENT.JSON` read them. Credentials (awsAccessKeyId,\n"+
			"awsSecretAccessKey) are not printed.",
		args, 1<<16, stderr, func(*flag.FlagSet) {})
	if !ok {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "kinetail convert: name the agent.json to convert")
		return 2
	}
	var res *agentjson.Result
	var err error
	if len(files) == 1 {
		res, err = agentjson.Load(files[0])
	} else {
		res, err = agentjson.LoadFiles(files[0], files[1:])
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if _, err := stdout.Write(res.YAML); err != nil {
		fmt.Fprintf(stderr, "kinetail convert: %v\n", err)
		return 1
	}
	return 0
}

// logAgentNotes logs what kinetail does differently with an agent.json
// (info) and the keys it ignores (debug).
func logAgentNotes(log *slog.Logger, aj *agentjson.Result) {
	log.Info("configuration read as the Kinesis Agent's", "files", aj.Files)
	for _, n := range aj.Notes {
		if n.Pos.Line > 0 {
			log.Log(context.Background(), n.Level, n.Msg, "at", n.Pos.String())
		} else {
			log.Log(context.Background(), n.Level, n.Msg)
		}
	}
	if len(aj.Env) > 0 {
		log.Info("AWS SDK settings from the agent.json (not in the kinetail YAML)", "variables", slices.Sorted(maps.Keys(aj.Env)))
	}
}

// printAgentNotes prints what `check` says about an agent.json: what
// kinetail does differently (the debug notes are for the log only).
func printAgentNotes(w io.Writer, aj *agentjson.Result) {
	fmt.Fprintf(w, "Read as a Kinesis Agent configuration (%d file(s)). kinetail differs from the agent here:\n", len(aj.Files))
	for _, n := range aj.Notes {
		if n.Level >= slog.LevelInfo {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	fmt.Fprintln(w)
}

// setAgentEnv gives the AWS SDK what an agent.json sets for the whole
// process and kinetail's YAML has no place for: its static credentials
// (which the agent tries before every other source, as the SDK tries its
// environment first) and the STS endpoint.
func setAgentEnv(aj *agentjson.Result) {
	for k, v := range aj.Env {
		os.Setenv(k, v)
	}
}
