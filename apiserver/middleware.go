package apiserver

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"daestro/internal/domain"
	"daestro/internal/logging"
)

const ctxLogger = "daestro.logger"

// requestID gives every request an ID (the client's, when it sent a sane one),
// echoes it on the response and puts it on every log line of the request.
func (s *Server) requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !saneRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Header(HeaderRequestID, id)
		l := s.logger.With("request_id", id)
		c.Set(ctxLogger, l)
		c.Request = c.Request.WithContext(logging.WithLogger(c.Request.Context(), l))
		c.Next()
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r < '!' || r > '~' {
			return false
		}
	}
	return true
}

// accessLog writes one line per request.
func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		level := slog.LevelInfo
		if c.Request.URL.Path == PathHealthz || c.Request.URL.Path == PathReadyz {
			level = slog.LevelDebug
		}
		logger(c).Log(c.Request.Context(), level, "http request",
			"method", c.Request.Method, "path", c.Request.URL.Path,
			"status", c.Writer.Status(), "duration_ms", time.Since(start).Milliseconds())
	}
}

// recoverPanic turns a panic into a 500 with the envelope and logs it.
func (s *Server) recoverPanic() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				logger(c).Error("panic in handler", "panic", r)
				writeError(c, domain.Errorf(domain.EINTERNAL, "internal error"))
			}
		}()
		c.Next()
	}
}

// logger returns the request-scoped logger.
func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// countRequests records each request in the metrics by its route template
// (c.FullPath(), "/v1/jobs/:id"), never the raw path: IDs in paths would
// make a series per job.
func (s *Server) countRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		s.metrics.HTTPRequest(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start))
	}
}

// traceRequests makes each request a span named by its route template
// ("GET /v1/jobs/:id"), a child of the caller's span when the request
// carries W3C trace context; workflows the handler starts join the trace.
// No-op without a tracer.
func (s *Server) traceRequests() gin.HandlerFunc {
	if s.tracer == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := otel.GetTextMapPropagator().Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := s.tracer.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		code := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", code))
		if code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(code))
		}
	}
}
