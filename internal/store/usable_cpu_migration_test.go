package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/store"
	"daestro/internal/testenv"
)

// Migration 8 turns the usable_cpu_pct a self-hosted environment stored as a
// share of its machine into percent of one core, using the largest host an
// agent of the environment registered; an environment without a registered
// agent keeps its number.
func TestUsableCPUBecomesPercentOfACore(t *testing.T) {
	st := testenv.Store(t)
	ctx := context.Background()
	ms, err := store.Migrations()
	require.NoError(t, err)
	var m8 string
	for _, m := range ms {
		if m.Version == 8 {
			m8 = m.SQL
		}
	}
	require.NotEmpty(t, m8, "migration 8 exists")

	p, err := st.CreateProject(ctx, testenv.RandomName("cpu"), "")
	require.NoError(t, err)
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := st.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	env := func(name string, usable any) string {
		id := store.NewID()
		exec(`INSERT INTO compute_envs (id, project_id, name, kind, usable_cpu_pct, enabled) VALUES ($1, $2, $3, 'selfhosted', $4, true)`, id, p.ID, name, usable)
		return id
	}
	half, small, whole, unseen := env("half", 50), env("small", 10), env("whole", nil), env("unseen", 50)
	queue := store.NewID()
	exec(`INSERT INTO job_queues (id, project_id, name, priority, enabled) VALUES ($1, $2, 'q', 1, true)`, queue, p.ID)
	spawn := func(envID string, host int) {
		exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, host_cpu_pct) VALUES ($1, $2, $3, $4, 'selfhosted', 'idle', $5)`,
			store.NewID(), p.ID, queue, envID, host)
	}
	spawn(half, 400)
	spawn(half, 800) // the largest machine counts
	spawn(small, 200)
	spawn(whole, 800)

	exec(m8)
	usable := func(id string) *int {
		var v *int
		require.NoError(t, st.Pool.QueryRow(ctx, `SELECT usable_cpu_pct FROM compute_envs WHERE id = $1`, id).Scan(&v))
		return v
	}
	assert.Equal(t, 400, *usable(half), "half of an 8-core machine is 4 cores")
	assert.Equal(t, 20, *usable(small), "10% of 2 cores is a fifth of a core")
	assert.Nil(t, usable(whole), "the whole machine stays the whole machine")
	assert.Equal(t, 50, *usable(unseen), "no machine known: the number stays, as percent of a core")
}
