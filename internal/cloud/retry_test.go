package cloud_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"daestro/internal/cloud"
)

func TestParseRetryAfter(t *testing.T) {
	h := func(v string) http.Header { x := http.Header{}; x.Set("Retry-After", v); return x }
	d, ok := cloud.ParseRetryAfter(h("3"))
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, d)

	d, ok = cloud.ParseRetryAfter(h(time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)))
	assert.True(t, ok)
	assert.InDelta(t, float64(time.Minute), float64(d), float64(2*time.Second))

	for _, v := range []string{"", "-1509450059", "soon"} {
		_, ok = cloud.ParseRetryAfter(h(v))
		assert.False(t, ok, "Retry-After %q", v)
	}
	_, ok = cloud.ParseRetryAfter(nil)
	assert.False(t, ok)
}

// The one retry loop: retryable failures are tried again up to the bound,
// a permanent one ends it at once, and a cancelled context stops the wait.
func TestRetry(t *testing.T) {
	cfg := cloud.RetryConfig{MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond, MaxAttempts: 3}
	boom := errors.New("boom")
	tries := 0
	n, exhausted, err := cloud.Retry(context.Background(), cfg, func(context.Context) (cloud.Attempt, error) {
		tries++
		return cloud.Attempt{Throttled: true}, boom
	})
	assert.Equal(t, 3, n)
	assert.Equal(t, 3, tries)
	assert.True(t, exhausted)
	assert.ErrorIs(t, err, boom)

	tries = 0
	n, exhausted, err = cloud.Retry(context.Background(), cfg, func(context.Context) (cloud.Attempt, error) {
		tries++
		if tries == 2 {
			return cloud.Attempt{}, nil
		}
		return cloud.Attempt{Throttled: true, RetryAfter: time.Hour, HasRetryAfter: true}, boom // capped at MaxWait
	})
	assert.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.False(t, exhausted)

	n, exhausted, err = cloud.Retry(context.Background(), cfg, func(context.Context) (cloud.Attempt, error) {
		return cloud.Attempt{Throttled: false}, boom
	})
	assert.Equal(t, 1, n, "a failure other than throttling (a 5xx, say) is left to the caller")
	assert.False(t, exhausted)
	assert.ErrorIs(t, err, boom)

	ctx, cancel := context.WithCancel(context.Background())
	slow := cloud.RetryConfig{MinWait: time.Hour, MaxWait: time.Hour, MaxAttempts: 5}
	n, _, err = cloud.Retry(ctx, slow, func(context.Context) (cloud.Attempt, error) {
		cancel()
		return cloud.Attempt{Throttled: true}, boom
	})
	assert.Equal(t, 1, n, "a cancelled context ends the wait")
	assert.ErrorIs(t, err, boom)
}
