// Package logstream streams a run's stored log lines as Server-Sent Events:
// the API's `GET /v1/jobs/{id}/logs?follow=true` and the console's live log
// view are this one loop, so both follow a run the same way.
package logstream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-contrib/sse"

	"daestro/internal/domain"
	"daestro/internal/store"
)

// Following a run's logs. Notifications wake a follower at once; the
// re-check catches what they cannot (the run finishing, a lost listening
// connection), and the keep-alive stops proxies from closing a quiet stream.
const (
	Recheck   = time.Second
	KeepAlive = 15 * time.Second
)

// Follow streams the run's lines after q.AfterSeq as they are stored:
// `event: line` per line (id = seq, data = the line), then `event: end`
// once the run has finished and every line was sent. ctx ending (the client
// going away) or shutdown closing ends it without an end event, so an
// EventSource reconnects after its Last-Event-ID. An error is returned only
// when nothing was written yet, so the caller can still answer with it.
func Follow(ctx context.Context, w http.ResponseWriter, st *store.Store, runID string, q domain.LogQuery, shutdown <-chan struct{}, log *slog.Logger) error {
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	// Subscribed before the first read, so no batch falls between the two.
	sub := st.SubscribeRunLogs(ctx, runID)
	defer sub.Close()
	page, err := st.ReadRunLogs(ctx, runID, q)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold the stream back
	w.WriteHeader(http.StatusOK)
	flush()

	recheck := time.NewTicker(Recheck)
	defer recheck.Stop()
	keepAlive := time.NewTicker(KeepAlive)
	defer keepAlive.Stop()
	for {
		for _, l := range page.Lines {
			if err := writeEvent(w, "line", strconv.FormatInt(l.Seq, 10), l); err != nil {
				return nil
			}
		}
		q.AfterSeq = page.NextAfterSeq
		if page.RunFinished && len(page.Lines) < q.Limit {
			_ = writeEvent(w, "end", "", map[string]any{"run_id": runID, "next_after_seq": q.AfterSeq, "run_finished": true})
			flush()
			return nil
		}
		flush()
		if len(page.Lines) < q.Limit {
			if !waitForLines(ctx, w, flush, shutdown, sub.C, recheck.C, keepAlive.C) {
				return nil
			}
		}
		if page, err = st.ReadRunLogs(ctx, runID, q); err != nil {
			if ctx.Err() == nil {
				log.Error("follow run logs", "run_id", runID, "error", err)
				_ = writeEvent(w, "error", "", map[string]any{"message": domain.ErrorMessage(err)})
				flush()
			}
			return nil
		}
	}
}

// waitForLines waits for a reason to read again, keeping the stream alive
// meanwhile; false means the client is gone or the server stops.
func waitForLines(ctx context.Context, w io.Writer, flush func(), shutdown, wake <-chan struct{}, recheck, keepAlive <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-shutdown:
			// Without an end event: the client's EventSource reconnects,
			// to another server, after its Last-Event-ID.
			return false
		case <-wake:
			return true
		case <-recheck:
			return true
		case <-keepAlive:
			// A comment line: EventSource ignores it, proxies see traffic.
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return false
			}
			flush()
		}
	}
}

// writeEvent writes one Server-Sent Event with data as JSON (gin's SSE
// encoder: JSON has no raw newlines, so it is always a single data line).
func writeEvent(w io.Writer, event, id string, data any) error {
	return sse.Encode(w, sse.Event{Event: event, Id: id, Data: data})
}

// LastEventID is where a reconnecting EventSource got to: q.AfterSeq moved
// past the Last-Event-ID header's sequence number when it is later.
func LastEventID(q domain.LogQuery, header string) domain.LogQuery {
	if header != "" {
		if seq, err := strconv.ParseInt(header, 10, 64); err == nil && seq > q.AfterSeq {
			q.AfterSeq = seq
		}
	}
	return q
}
