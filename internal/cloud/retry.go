package cloud

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Cloud calls are retried at one level: the caller's. Temporal's activity
// retry policy (workflows/spawn_cloud.go) repeats a failed machine create,
// get or delete with backoff, and the create activity looks for a machine
// carrying the spawn's tag before it creates one, so a create whose answer
// was lost (a 5xx, a dropped connection) is never blindly repeated.
//
// Within one call the providers repeat only throttling, through Retry: a
// throttled request was refused before the provider did any work, so
// repeating it is safe for every call, a create included, and the provider
// says how long to wait (Retry-After). A server error or a network failure is
// tried once and returned as ErrUnavailable for the caller's policy to
// repeat. What each provider decides is only what "throttled" looks like and
// how to word the last failure; the loop, the backoff and the cancellation
// are here, once. (AWS uses its SDK's own retryer, limited the same way.)

// RetryConfig bounds the attempts of one call.
type RetryConfig struct {
	// MinWait is the first backoff; it doubles per attempt up to MaxWait,
	// which also caps a server's Retry-After.
	MinWait, MaxWait time.Duration
	// MaxAttempts is the most attempts, the first included.
	MaxAttempts int
}

// NewRetryConfig is what a provider's WithRetry option sets: at most
// attempts tries (at least one), waiting from minWait doubling up to maxWait
// (at least minWait) between them; a Retry-After header overrides the wait
// but is capped at maxWait so a hostile header cannot stall a workflow.
func NewRetryConfig(attempts int, minWait, maxWait time.Duration) RetryConfig {
	return RetryConfig{MaxAttempts: max(attempts, 1), MinWait: minWait, MaxWait: max(maxWait, minWait)}
}

// DefaultRetryConfig bounds a provider's throttle retries unless its
// WithRetry option says otherwise.
var DefaultRetryConfig = NewRetryConfig(5, time.Second, 30*time.Second)

// Attempt is what one failed try says about trying again.
type Attempt struct {
	// Throttled says the provider refused the request for its rate limit
	// before doing any work: the one failure Retry repeats.
	Throttled bool
	// RetryAfter is the wait the server asked for, when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

// Retry runs try until it succeeds (nil error), fails other than by
// throttling, the attempts run out (exhausted: throttled every time), or ctx
// ends (the caller
// checks ctx.Err() first). It returns the last error and how many attempts
// were made.
func Retry(ctx context.Context, cfg RetryConfig, try func(context.Context) (Attempt, error)) (attempts int, exhausted bool, err error) {
	wait := cfg.MinWait
	for attempt := 1; ; attempt++ {
		a, err := try(ctx)
		if err == nil || ctx.Err() != nil || !a.Throttled {
			return attempt, false, err
		}
		if attempt >= cfg.MaxAttempts {
			return attempt, true, err
		}
		d := wait
		if a.HasRetryAfter {
			d = a.RetryAfter
		}
		t := time.NewTimer(min(d, cfg.MaxWait))
		select {
		case <-ctx.Done():
			t.Stop()
			return attempt, false, err
		case <-t.C:
		}
		wait = min(wait*2, cfg.MaxWait)
	}
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func ParseRetryAfter(h http.Header) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
