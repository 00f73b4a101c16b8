// Package awslog sends the AWS SDK's own log output through the agent's
// slog handler, so that a JSON log stream stays JSON: without it the SDK
// prints lines like "SDK 2025/01/02 WARN falling back to IMDSv1" to stderr
// by itself.
//
// The SDK logs requests and responses (which hold record data and signed
// headers) only when a client log mode asks for it; kinetail sets none, so
// what comes through are its warnings, which carry neither.
package awslog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"

	"github.com/kinetail/kinetail/internal/redact"
)

// Logger is a smithy logging.Logger writing to a slog.Logger.
type Logger struct {
	log *slog.Logger
	ctx context.Context
}

// New returns a Logger writing to log, with source=aws-sdk on each line.
func New(log *slog.Logger) *Logger {
	return &Logger{log: log.With("source", "aws-sdk"), ctx: context.Background()}
}

// Logf logs a WARN line at warn level and any other at debug level.
func (l *Logger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	if !l.log.Enabled(l.ctx, level) {
		return
	}
	// A warning may quote an endpoint's URL.
	l.log.Log(l.ctx, level, redact.URLs(fmt.Sprintf(format, v...)))
}

// WithContext returns a Logger that passes ctx to the handler.
func (l *Logger) WithContext(ctx context.Context) logging.Logger {
	return &Logger{log: l.log, ctx: ctx}
}
