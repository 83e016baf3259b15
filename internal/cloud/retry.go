package cloud

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// The providers on hand-rolled HTTP SDKs (DigitalOcean, Linode, Vultr)
// retry a call within one activity attempt through Retry: throttling and
// server errors are short-lived, and a create must be repeated only when the
// provider refused it before doing any work. What each provider decides is
// only which failures are worth another attempt and how to word the last
// one; the loop, the backoff and the cancellation are here, once. (AWS uses
// its SDK's own retryer, configured the same way.)

// RetryConfig bounds the attempts of one call.
type RetryConfig struct {
	// MinWait is the first backoff; it doubles per attempt up to MaxWait,
	// which also caps a server's Retry-After.
	MinWait, MaxWait time.Duration
	// MaxAttempts is the most attempts, the first included.
	MaxAttempts int
}

// Attempt is what one failed try says about trying again.
type Attempt struct {
	// Retryable says another attempt may succeed.
	Retryable bool
	// RetryAfter is the wait the server asked for, when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

// Retry runs try until it succeeds (nil error), fails in a way that is not
// retryable, the attempts run out (exhausted), or ctx ends (the caller
// checks ctx.Err() first). It returns the last error and how many attempts
// were made.
func Retry(ctx context.Context, cfg RetryConfig, try func(context.Context) (Attempt, error)) (attempts int, exhausted bool, err error) {
	wait := cfg.MinWait
	for attempt := 1; ; attempt++ {
		a, err := try(ctx)
		if err == nil || ctx.Err() != nil || !a.Retryable {
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
