// Package logging builds the process-wide slog logger and hands the same
// logger to the Temporal SDK, so server, worker and SDK lines share one format.
package logging

import (
	"context"
	"io"
	"log/slog"

	tlog "go.temporal.io/sdk/log"
)

// New returns a logger writing JSON (format "json") or human-readable text
// (format "text") at the given minimum level.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Temporal adapts l to the Temporal SDK's logger interface.
func Temporal(l *slog.Logger) tlog.Logger {
	return tlog.NewStructuredLogger(l.With("component", "temporal-sdk"))
}

type ctxKey struct{}

// WithLogger returns ctx carrying l, so code below a request logs with the
// request's fields (its ID) without taking a logger argument.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the logger ctx carries, or slog.Default().
func From(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
