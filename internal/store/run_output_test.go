package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/store"
	"daestro/internal/testenv"
)

// Each Store owns one listening connection for the followers of run logs:
// its subscriptions share it, another Store's have their own, a
// notification reaches the run's followers on both, and the connection
// closes with the Store's last subscription (an idle server holds none).
func TestRunLogFeedIsOneConnectionPerStoreUntilItsLastFollowerLeaves(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t)
	a, b := testenv.OpenStore(t, url), testenv.OpenStore(t, url)
	listeners := func() int {
		var n int
		require.NoError(t, a.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN ' || $1`, store.RunLogsChannel).Scan(&n))
		return n
	}
	settles := func(want int, msg string) {
		t.Helper()
		assert.Eventually(t, func() bool { return listeners() == want }, 5*time.Second, 20*time.Millisecond, msg)
	}

	run := store.NewID()
	a1 := a.SubscribeRunLogs(ctx, run)
	a2 := a.SubscribeRunLogs(ctx, store.NewID())
	b1 := b.SubscribeRunLogs(ctx, run)
	settles(2, "one listening connection per Store, whatever its number of followers")

	// Connecting wakes every follower once (lines may have been missed);
	// let that pass so the receive below is the notification's.
	time.Sleep(200 * time.Millisecond)
	for _, sub := range []*store.RunLogSubscription{a1, a2, b1} {
		select {
		case <-sub.C:
		default:
		}
	}
	_, err := a.Pool.Exec(ctx, `SELECT pg_notify($1, $2)`, store.RunLogsChannel, run)
	require.NoError(t, err)
	for name, sub := range map[string]*store.RunLogSubscription{"first Store": a1, "second Store": b1} {
		select {
		case <-sub.C:
		case <-time.After(5 * time.Second):
			t.Fatalf("the run's follower on the %s was not woken by its notification", name)
		}
	}

	a1.Close()
	assert.Equal(t, 2, listeners(), "the Store still has a follower")
	a2.Close()
	settles(1, "the Store's last follower left: its connection closes, the other Store's stays")
	b1.Close()
	settles(0, "no follower left on any Store")

	a3 := a.SubscribeRunLogs(ctx, run)
	settles(1, "a new follower opens the Store's connection again")
	a3.Close()
	settles(0, "and it closes with it")
}
