package agent

import (
	"context"
	"errors"
	"fmt"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
)

// HTTPSink ships a run's logs and metrics to the daestro server with the
// spawn's agent token. Every error but a rejection is transient and the
// executor retries it; a rejection (the server has no such run on this
// spawn, or the token is no longer valid) wraps ErrRejected, which no retry
// can change.
type HTTPSink struct {
	server *serverClient
}

var _ executor.Sink = (*HTTPSink)(nil)

// NewHTTPSink returns a sink that ships to the server at serverURL,
// authenticating with the spawn's agent token.
func NewHTTPSink(serverURL, token string) *HTTPSink {
	return newHTTPSink(newServerClient(serverURL, token, nil))
}

// newHTTPSink ships through the agent's own server client.
func newHTTPSink(c *serverClient) *HTTPSink { return &HTTPSink{server: c} }

// logLineOverhead bounds the JSON of a line around its text (seq, stream,
// time, partial, field names); with a worst case of 6 bytes of JSON per
// byte of text ("\u0001") it keeps every request under MaxLogBodyBytes
// without encoding a batch twice.
const logLineOverhead = 160

// ShipLogs sends lines in order, split into requests within the server's
// bounds, and returns nil only once the server acknowledged every line up to
// the last one: the executor moves its cursor past them on nil.
func (s *HTTPSink) ShipLogs(ctx context.Context, runID string, lines []executor.LogLine) error {
	path := agentapi.RunPath(agentapi.PathRunLogs, runID)
	for len(lines) > 0 {
		var (
			chunk       []agentapi.LogLine
			text, bytes int
		)
		for _, l := range lines {
			w := l.Wire()
			cost := 6*len(w.Text) + logLineOverhead
			if len(chunk) > 0 && (len(chunk) == agentapi.MaxLogLines || text+len(w.Text) > agentapi.MaxLogTextBytes ||
				bytes+cost > agentapi.MaxLogBodyBytes) {
				break
			}
			chunk = append(chunk, w)
			text, bytes = text+len(w.Text), bytes+cost
		}
		first, last := chunk[0].Seq, chunk[len(chunk)-1].Seq
		var ack agentapi.LogsResponse
		if err := s.server.post(ctx, path, agentapi.LogsRequest{Lines: chunk}, &ack); err != nil {
			if errors.Is(err, ErrRejected) {
				// Retrying cannot change a refusal: the executor stops shipping.
				err = fmt.Errorf("%w: %w", executor.ErrSinkRejected, err)
			}
			return fmt.Errorf("ship log lines %d-%d of run %s: %w", first, last, runID, err)
		}
		if ack.AckedSeq < last {
			// Lines before this batch are missing on the server. Moving the
			// cursor on would lose them for good; failing makes a retried
			// run re-read the container's log from the last real ack.
			return fmt.Errorf("ship log lines %d-%d of run %s: the server holds lines 1-%d only, so earlier lines are missing", first, last, runID, ack.AckedSeq)
		}
		lines = lines[len(chunk):]
	}
	return nil
}

// ShipMetrics sends samples in requests within the server's bound.
func (s *HTTPSink) ShipMetrics(ctx context.Context, runID string, samples []executor.Metric) error {
	path := agentapi.RunPath(agentapi.PathRunMetrics, runID)
	for len(samples) > 0 {
		n := min(len(samples), agentapi.MaxMetricSamples)
		batch := make([]agentapi.MetricSample, n)
		for i, m := range samples[:n] {
			batch[i] = m.Wire()
		}
		if err := s.server.post(ctx, path, agentapi.MetricsRequest{Samples: batch}, nil); err != nil {
			return fmt.Errorf("ship %d metric samples of run %s: %w", n, runID, err)
		}
		samples = samples[n:]
	}
	return nil
}
