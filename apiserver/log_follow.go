package apiserver

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-contrib/sse"
	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
)

// jobLogs answers a page of a run's lines, or with follow=true streams them
// as Server-Sent Events until the run has finished.
func (s *Server) jobLogs(c *gin.Context) {
	q, err := domain.ParseLogQuery(c.Query("after_seq"), c.Query("limit"))
	if err != nil {
		writeError(c, err)
		return
	}
	follow := false
	if v := c.Query("follow"); v != "" {
		if follow, err = strconv.ParseBool(v); err != nil {
			writeError(c, domain.Errorf(domain.EINVALID, "follow: %q must be true or false", v))
			return
		}
	}
	runID, err := s.store.JobRunForOutput(c.Request.Context(), project(c).ID, c.Param("id"), c.Query("run"))
	if err != nil {
		writeError(c, err)
		return
	}
	if !follow {
		page, err := s.store.ReadRunLogs(c.Request.Context(), runID, q)
		if err != nil {
			writeError(c, err)
			return
		}
		writeData(c, http.StatusOK, page)
		return
	}
	// An EventSource that reconnects says where it got to.
	if id := c.GetHeader("Last-Event-ID"); id != "" {
		if seq, err := strconv.ParseInt(id, 10, 64); err == nil && seq > q.AfterSeq {
			q.AfterSeq = seq
		}
	}
	release, err := s.followers.acquire(c.GetString(ctxAPIKeyID))
	if err != nil {
		writeError(c, err)
		return
	}
	defer release()
	s.followRunLogs(c, runID, q)
}

// DefaultMaxFollowersPerKey bounds the log streams one API key holds open:
// each is a connection and a LISTEN subscription on the server.
const DefaultMaxFollowersPerKey = 32

// followerCounts counts each API key's open log streams on this server.
type followerCounts struct {
	mu    sync.Mutex
	max   int
	count map[string]int
}

// acquire takes a stream for key, or says why not (ETOOMANY → 429).
func (f *followerCounts) acquire(key string) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count[key] >= f.max {
		return nil, domain.Errorf(domain.ETOOMANY, "this API key already follows %d log streams, the most one key may hold open on a server: close one, or page with after_seq instead of follow=true", f.max)
	}
	f.count[key]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.count[key]--; f.count[key] <= 0 {
			delete(f.count, key)
		}
	}, nil
}

// followRunLogs streams the run's lines after q.AfterSeq as they are
// stored: `event: line` per line (id = seq, data = the line), then
// `event: end` once the run has finished and every line was sent. The
// client going away cancels the request's context, which ends it.
func (s *Server) followRunLogs(c *gin.Context, runID string, q domain.LogQuery) {
	ctx := c.Request.Context()
	// Subscribed before the first read, so no batch falls between the two.
	sub := s.store.SubscribeRunLogs(ctx, runID)
	defer sub.Close()
	page, err := s.store.ReadRunLogs(ctx, runID, q)
	if err != nil {
		writeError(c, err) // nothing streamed yet: the envelope still fits
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold the stream back
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	c.Writer.Flush()

	recheck := time.NewTicker(logFollowRecheck)
	defer recheck.Stop()
	keepAlive := time.NewTicker(logFollowKeepAlive)
	defer keepAlive.Stop()
	shutdown := s.shutdownOf(c.Request)
	for {
		for _, l := range page.Lines {
			if err := writeEvent(c.Writer, "line", strconv.FormatInt(l.Seq, 10), l); err != nil {
				return
			}
		}
		q.AfterSeq = page.NextAfterSeq
		if page.RunFinished && len(page.Lines) < q.Limit {
			_ = writeEvent(c.Writer, "end", "", gin.H{"run_id": runID, "next_after_seq": q.AfterSeq, "run_finished": true})
			c.Writer.Flush()
			return
		}
		c.Writer.Flush()
		if len(page.Lines) < q.Limit {
			if !waitForLines(c, shutdown, sub.C, recheck.C, keepAlive.C) {
				return
			}
		}
		if page, err = s.store.ReadRunLogs(ctx, runID, q); err != nil {
			if ctx.Err() == nil {
				logger(c).Error("follow run logs", "run_id", runID, "error", err)
				_ = writeEvent(c.Writer, "error", "", gin.H{"message": domain.ErrorMessage(err)})
				c.Writer.Flush()
			}
			return
		}
	}
}

// waitForLines waits for a reason to read again, keeping the stream alive
// meanwhile; false means the client is gone or the server stops.
func waitForLines(c *gin.Context, shutdown, wake <-chan struct{}, recheck, keepAlive <-chan time.Time) bool {
	for {
		select {
		case <-c.Request.Context().Done():
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
			if _, err := io.WriteString(c.Writer, ": keep-alive\n\n"); err != nil {
				return false
			}
			c.Writer.Flush()
		}
	}
}

// writeEvent writes one Server-Sent Event with data as JSON (gin's SSE
// encoder: JSON has no raw newlines, so it is always a single data line).
func writeEvent(w io.Writer, event, id string, data any) error {
	return sse.Encode(w, sse.Event{Event: event, Id: id, Data: data})
}

// jobMetrics answers a page of a run's CPU/memory samples with the summary of all of them.
func (s *Server) jobMetrics(c *gin.Context) {
	runID, err := s.store.JobRunForOutput(c.Request.Context(), project(c).ID, c.Param("id"), c.Query("run"))
	if err != nil {
		writeError(c, err)
		return
	}
	q, err := domain.ParseMetricsQuery(c.Query("after"), c.Query("limit"))
	if err != nil {
		writeError(c, err)
		return
	}
	m, err := s.store.RunMetrics(c.Request.Context(), runID, q)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, m)
}
