package executor

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"daestro/internal/agentapi"
)

// Wire is the line as the server stores it: its text made valid UTF-8
// within agentapi.MaxLogLineBytes, so it survives JSON and Postgres.
func (l LogLine) Wire() agentapi.LogLine {
	return agentapi.LogLine{Seq: l.Seq, Stream: l.Stream, Time: l.Time, Text: wireText(l.Text), Partial: l.Partial}
}

// wireText replaces invalid UTF-8 ("?" when the replacement character
// would push the line over the server's bound).
func wireText(t string) string {
	if utf8.ValidString(t) {
		return t
	}
	if v := strings.ToValidUTF8(t, "\uFFFD"); len(v) <= agentapi.MaxLogLineBytes {
		return v
	}
	return strings.ToValidUTF8(t, "?")
}

// Wire is the sample as the server stores it.
func (m Metric) Wire() agentapi.MetricSample {
	return agentapi.MetricSample{Time: m.Time, CPUPct: m.CPUPct, MemoryBytes: m.MemoryBytes}
}

// RunContext is Run's context for one attempt of an activity that follows a
// container. The SDK cancels an activity's context for two different
// reasons, told apart by the cause: the workflow asked to cancel
// (requested(cause) is true: the user cancelled the job, so the container is
// stopped), or the attempt is over without anyone asking — its heartbeats
// timed out while the server was away, the worker is stopping for an
// upgrade — and then Run detaches, leaving the container running for the
// next attempt to take back. Stopping it would turn an outage into a killed
// job.
func RunContext(ctx context.Context, requested func(cause error) bool) (context.Context, context.CancelCauseFunc) {
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-runCtx.Done():
			return
		case <-ctx.Done():
		}
		if requested(context.Cause(ctx)) {
			cancel(context.Canceled)
			return
		}
		cancel(fmt.Errorf("%w: %v", ErrDetach, context.Cause(ctx)))
	}()
	return runCtx, cancel
}
