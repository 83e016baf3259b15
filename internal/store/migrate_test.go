package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/store"
	"daestro/internal/testenv"
)

func TestMigrationsAreNumberedAndEmbedded(t *testing.T) {
	ms, err := store.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		assert.Equal(t, i+1, m.Version, "migrations must be numbered 1, 2, 3… without gaps (%s)", m.Name)
		assert.NotEmpty(t, m.SQL, m.Name)
	}
	assert.Equal(t, ms[len(ms)-1].Version, store.LatestVersion())
}

// Smoke test 1 of the ladder: the migrations apply to the real Postgres, and a
// second run changes nothing.
func TestSmokeMigrationsApplyToRealPostgresAndAreIdempotent(t *testing.T) {
	ctx := context.Background()
	st := testenv.OpenStore(t, testenv.NewDatabase(t))

	v, err := st.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, v, "a fresh database has no schema")

	applied, err := st.Migrate(ctx)
	require.NoError(t, err)
	assert.Len(t, applied, store.LatestVersion(), "every migration applied once")

	v, err = st.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.LatestVersion(), v)

	again, err := st.Migrate(ctx)
	require.NoError(t, err)
	assert.Empty(t, again, "a second migrate applies nothing")

	// The schema is really there: a project round-trips.
	p, err := st.CreateProject(ctx, "smoke", "")
	require.NoError(t, err)
	got, err := st.ProjectByCode(ctx, "smoke")
	require.NoError(t, err)
	assert.Equal(t, p.ID, got.ID)
}

// Two servers starting together must not race: the advisory lock lets one
// apply each migration and the other see it done.
func TestConcurrentMigrateAppliesEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t)
	stores := []*store.Store{testenv.OpenStore(t, url), testenv.OpenStore(t, url), testenv.OpenStore(t, url)}

	var wg sync.WaitGroup
	results := make([][]int, len(stores))
	errs := make([]error, len(stores))
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = st.Migrate(ctx)
		}()
	}
	wg.Wait()

	total := 0
	for i := range stores {
		require.NoError(t, errs[i])
		total += len(results[i])
	}
	assert.Equal(t, store.LatestVersion(), total, "each migration applied by exactly one of the racing servers")

	var rows int
	require.NoError(t, stores[0].Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows))
	assert.Equal(t, store.LatestVersion(), rows)
}
