package main

// This file parses the flags of `kinetail replay`; package replay does the
// work.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os/signal"
	"syscall"

	"github.com/kinetail/kinetail/replay"
)

const replaySummary = `Sends the records of dead-letter files (destinations' dead_letter_file)
again, each to the destination and stream named in the record. With
--destination, every record goes to that destination instead (to its own
stream; to the record's stream only when its stream is a template).

Every record is checked first: one naming a destination the configuration
does not define stops the replay before anything is sent. Records are then
retried until stored, whatever the destination's retry limits, and never
written to a dead-letter file again. Once every record of a file is
stored, the file is renamed to DEADLETTER.replayed (unless --keep). On
SIGINT or SIGTERM the replay stops; files not completely sent are left as
they are, and sending them again repeats the records already sent.

Exits 0 when every file was replayed, 1 otherwise.`

func cmdReplay(args []string, stdout, stderr io.Writer) int {
	var o replay.Options
	var path string
	files, code, ok := flagsArgs("replay", "-c FILE [--destination NAME] [--keep] DEADLETTER...", replaySummary, args, math.MaxInt, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "c", "/etc/kinetail/kinetail.yaml", "configuration `file`")
		fs.StringVar(&o.Destination, "destination", "", "send every record to the destination called `name`")
		fs.BoolVar(&o.Keep, "keep", false, "do not rename replayed files")
	})
	if !ok {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "kinetail replay: no DEADLETTER file given")
		return 2
	}
	o.Files = files
	cfg, _, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o.Stdout, o.Stderr = stdout, stderr
	if !replay.Run(ctx, cfg, o) {
		return 1
	}
	return 0
}
