package apiserver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
)

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingFetch returns a fetch that lists one region per call, named by
// the call's number, so a test can tell listings apart.
func countingFetch(calls *atomic.Int32) func(context.Context) (catalogEntry, error) {
	return func(context.Context) (catalogEntry, error) {
		n := calls.Add(1)
		return catalogEntry{regions: []cloud.Region{{ID: string('a' + rune(n))}}}, nil
	}
}

func TestCatalogCacheServesUntilTheTTLEnds(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cc := newCatalogCache(15*time.Minute, clock.now)
	key := catalogKey{authID: "a1", version: 1}
	var calls atomic.Int32
	fetch := countingFetch(&calls)
	ctx := context.Background()

	e, err := cc.get(ctx, key, false, fetch)
	require.NoError(t, err)
	assert.True(t, e.fresh)
	assert.Equal(t, clock.now(), e.at)

	clock.advance(15*time.Minute - time.Second)
	e2, err := cc.get(ctx, key, false, fetch)
	require.NoError(t, err)
	assert.False(t, e2.fresh, "served from the cache")
	assert.Equal(t, e.regions, e2.regions)
	assert.Equal(t, e.at, e2.at)
	assert.EqualValues(t, 1, calls.Load())

	clock.advance(time.Second)
	e3, err := cc.get(ctx, key, false, fetch)
	require.NoError(t, err)
	assert.True(t, e3.fresh, "15 minutes old: read again")
	assert.EqualValues(t, 2, calls.Load())

	_, err = cc.get(ctx, key, true, fetch)
	require.NoError(t, err)
	assert.EqualValues(t, 3, calls.Load(), "refresh bypasses the cache")

	// Another version of the cloud auth (it was updated, maybe through
	// another process) is another listing.
	_, err = cc.get(ctx, catalogKey{authID: "a1", version: 2}, false, fetch)
	require.NoError(t, err)
	assert.EqualValues(t, 4, calls.Load())
}

func TestCatalogCacheDropAndPrune(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cc := newCatalogCache(time.Minute, clock.now)
	var calls atomic.Int32
	fetch := countingFetch(&calls)
	ctx := context.Background()
	for _, k := range []catalogKey{
		{authID: "a1"}, {authID: "a1", types: true, region: "nyc3"}, {authID: "a2"},
	} {
		_, err := cc.get(ctx, k, false, fetch)
		require.NoError(t, err)
	}
	cc.drop("a1")
	assert.Len(t, cc.entries, 1, "a1's listings are gone, a2's stay")
	_, err := cc.get(ctx, catalogKey{authID: "a2"}, false, fetch)
	require.NoError(t, err)
	assert.EqualValues(t, 3, calls.Load())

	clock.advance(time.Minute)
	_, err = cc.get(ctx, catalogKey{authID: "a3"}, false, fetch)
	require.NoError(t, err)
	assert.Len(t, cc.entries, 1, "storing a listing prunes the expired ones")
}

func TestCatalogCacheDoesNotKeepFailures(t *testing.T) {
	cc := newCatalogCache(time.Minute, time.Now)
	boom := errors.New("boom")
	calls := 0
	failing := func(context.Context) (catalogEntry, error) {
		calls++
		return catalogEntry{}, boom
	}
	_, err := cc.get(context.Background(), catalogKey{authID: "a1"}, false, failing)
	assert.ErrorIs(t, err, boom)
	assert.Empty(t, cc.entries)
	_, err = cc.get(context.Background(), catalogKey{authID: "a1"}, false, failing)
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 2, calls, "a failed read is not kept: the next request asks the provider again")
}

// A request whose client hung up stops waiting, but the listing it started
// completes for the others and is stored.
func TestCatalogCacheFetchOutlivesACancelledRequest(t *testing.T) {
	cc := newCatalogCache(time.Minute, time.Now)
	key := catalogKey{authID: "a1"}
	release := make(chan struct{})
	var calls atomic.Int32
	fetch := func(ctx context.Context) (catalogEntry, error) {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return catalogEntry{}, ctx.Err()
		}
		return catalogEntry{regions: []cloud.Region{{ID: "nyc3"}}}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cc.get(ctx, key, false, fetch)
		done <- err
	}()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	waiter := make(chan catalogEntry, 1)
	go func() {
		e, _ := cc.get(context.Background(), key, false, fetch)
		waiter <- e
	}()
	time.Sleep(10 * time.Millisecond) // the waiter joins the call in flight
	close(release)
	e := <-waiter
	assert.Equal(t, []cloud.Region{{ID: "nyc3"}}, e.regions)
	assert.EqualValues(t, 1, calls.Load(), "the waiter joined the first call")
	e, err := cc.get(context.Background(), key, false, fetch)
	require.NoError(t, err)
	assert.False(t, e.fresh, "and it was stored")
}
