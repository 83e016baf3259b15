package apiserver

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"daestro/internal/domain"
	"daestro/internal/logstream"
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
	q = logstream.LastEventID(q, c.GetHeader("Last-Event-ID"))
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
// stored (logstream.Follow); an error before the first byte still gets the envelope.
func (s *Server) followRunLogs(c *gin.Context, runID string, q domain.LogQuery) {
	if err := logstream.Follow(c.Request.Context(), c.Writer, s.store, runID, q, s.shutdownOf(c.Request), logger(c)); err != nil {
		writeError(c, err) // nothing streamed yet: the envelope still fits
	}
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
