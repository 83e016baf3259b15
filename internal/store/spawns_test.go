package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/agentapi"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// newSpawn creates a project, a self-hosted environment and queue, and a
// spawn in them (no workflow: start does nothing).
func newSpawn(t *testing.T, st *store.Store) domain.ComputeSpawn {
	t.Helper()
	ctx := context.Background()
	p, err := st.CreateProject(ctx, "acme", "")
	require.NoError(t, err)
	env, err := st.CreateComputeEnv(ctx, p.ID, domain.ComputeEnvInput{Name: "boxes", Kind: domain.ComputeEnvSelfHosted})
	require.NoError(t, err)
	prio := 1
	q, err := st.CreateJobQueue(ctx, p.ID, domain.JobQueueInput{Name: "etl", Priority: &prio})
	require.NoError(t, err)
	_, err = st.AddQueueComputeEnv(ctx, p.ID, q.ID, env.ID)
	require.NoError(t, err)
	sp, _, err := st.CreateSelfHostedSpawn(ctx, p.ID, domain.ComputeSpawnInput{ComputeEnvID: env.ID, JobQueueID: q.ID},
		func(context.Context, domain.ComputeSpawn) error { return nil })
	require.NoError(t, err)
	return sp
}

func events(t *testing.T, st *store.Store, sp domain.ComputeSpawn) []string {
	t.Helper()
	var projectID string
	require.NoError(t, st.Pool.QueryRow(context.Background(), `SELECT project_id::text FROM compute_spawns WHERE id = $1`, sp.ID).Scan(&projectID))
	page, err := st.SpawnEvents(context.Background(), projectID, sp.ID, domain.PageRequest{Limit: 100})
	require.NoError(t, err)
	var out []string
	for _, e := range page.Items {
		out = append(out, e.State)
	}
	return out
}

// A retried activity repeats its transition with the same key: it reports
// success and writes nothing twice.
func TestSpawnTransitionIsIdempotentByKey(t *testing.T) {
	t.Parallel()
	st := testenv.Store(t)
	sp := newSpawn(t, st)
	ctx := context.Background()
	tr := store.SpawnTransition{SpawnID: sp.ID, State: domain.SpawnIdle, Reason: "first ping", Key: "run-1/1"}
	for range 3 {
		applied, err := st.RecordSpawnTransition(ctx, tr)
		require.NoError(t, err)
		assert.True(t, applied)
	}
	assert.Equal(t, []string{domain.SpawnInitialized, domain.SpawnIdle}, events(t, st, sp))

	// A late duplicate of an old decision cannot overwrite a newer state.
	_, err := st.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: sp.ID, State: domain.SpawnBusy, Reason: "1 run", Key: "run-1/2"})
	require.NoError(t, err)
	applied, err := st.RecordSpawnTransition(ctx, tr)
	require.NoError(t, err)
	assert.True(t, applied)
	var state string
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT state FROM compute_spawns WHERE id = $1`, sp.ID).Scan(&state))
	assert.Equal(t, domain.SpawnBusy, state)

	_, err = st.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: "0190a5c2-0000-7000-8000-000000000000", State: domain.SpawnIdle, Key: "x"})
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "a vanished spawn is not found, not a database error")
}

// The unreachable mark holds only while the agent is still silent: a ping
// that lands first wins.
func TestSpawnTransitionRequiresSilence(t *testing.T) {
	t.Parallel()
	st := testenv.Store(t)
	sp := newSpawn(t, st)
	ctx := context.Background()
	_, err := st.RecordAgentPing(ctx, sp.ID, agentapi.PingRequest{CapacityCPUPct: 100, CapacityMemoryMB: 100})
	require.NoError(t, err)

	last, since, err := st.SpawnLiveness(ctx, sp.ID)
	require.NoError(t, err)
	require.NotNil(t, last)
	assert.Less(t, since, 5*time.Second)

	applied, err := st.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: sp.ID, State: domain.SpawnUnreachable,
		Reason: "no ping for 1m0s", Key: "k1", RequireSilence: time.Minute})
	require.NoError(t, err)
	assert.False(t, applied, "the agent pinged a moment ago")
	assert.Equal(t, []string{domain.SpawnInitialized}, events(t, st, sp), "a refused mark leaves no event")

	_, err = st.Pool.Exec(ctx, `UPDATE compute_spawns SET last_ping_at = now() - interval '2 minutes' WHERE id = $1`, sp.ID)
	require.NoError(t, err)
	_, since, err = st.SpawnLiveness(ctx, sp.ID)
	require.NoError(t, err)
	assert.InDelta(t, 2*time.Minute, since, float64(5*time.Second))
	applied, err = st.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: sp.ID, State: domain.SpawnUnreachable,
		Reason: "no ping for 1m0s", Key: "k1", RequireSilence: time.Minute})
	require.NoError(t, err)
	assert.True(t, applied, "the same key may apply once the precondition holds")
	assert.Equal(t, []string{domain.SpawnInitialized, domain.SpawnUnreachable}, events(t, st, sp))
}

func TestCreateSpawnRollsBackWhenStartFails(t *testing.T) {
	t.Parallel()
	st := testenv.Store(t)
	sp := newSpawn(t, st)
	ctx := context.Background()
	var projectID, queueID, envID string
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT project_id::text, job_queue_id::text, compute_env_id::text FROM compute_spawns WHERE id = $1`, sp.ID).
		Scan(&projectID, &queueID, &envID))
	boom := errors.New("temporal down")
	_, token, err := st.CreateSelfHostedSpawn(ctx, projectID, domain.ComputeSpawnInput{ComputeEnvID: envID, JobQueueID: queueID},
		func(context.Context, domain.ComputeSpawn) error { return boom })
	assert.ErrorIs(t, err, boom)
	assert.Empty(t, token)
	for table, want := range map[string]int{"compute_spawns": 1, "agent_tokens": 1, "compute_spawn_events": 1} {
		var n int
		require.NoError(t, st.Pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		assert.Equal(t, want, n, "%s holds only the first spawn's rows", table)
	}
}
