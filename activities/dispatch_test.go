package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/store"
	"daestro/internal/testenv"
)

// dispatchFixture is a project in a fresh database with SQL helpers.
type dispatchFixture struct {
	t         *testing.T
	st        *store.Store
	projectID string
}

func newDispatchFixture(t *testing.T) *dispatchFixture {
	st := testenv.Store(t)
	p, err := st.CreateProject(context.Background(), testenv.RandomName("dispatch"), "")
	require.NoError(t, err)
	return &dispatchFixture{t: t, st: st, projectID: p.ID}
}

func (f *dispatchFixture) exec(sql string, args ...any) {
	f.t.Helper()
	_, err := f.st.Pool.Exec(context.Background(), sql, args...)
	require.NoError(f.t, err, sql)
}

// queue creates an enabled queue of priority on env and returns its ID.
func (f *dispatchFixture) queue(name string, priority, maxSpawns int, envID string) string {
	id := store.NewID()
	f.exec(`INSERT INTO job_queues (id, project_id, name, priority, enabled, max_spawns) VALUES ($1, $2, $3, $4, true, $5)`,
		id, f.projectID, name, priority, maxSpawns)
	f.exec(`INSERT INTO job_queue_compute_envs (job_queue_id, compute_env_id) VALUES ($1, $2)`, id, envID)
	return id
}

// jobs adds n runnable jobs of definition defID to the queue, in order.
func (f *dispatchFixture) jobs(queueID, defID, prefix string, n int) []string {
	var ids []string
	for i := range n {
		id, run := store.NewID(), store.NewID()
		f.exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, runnable_at)
			VALUES ($1, $2, $3, $4, $5, 'runnable', clock_timestamp())`, id, f.projectID, queueID, defID, prefix+"-"+string(rune('a'+i)))
		f.exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state) VALUES ($1, $2, $3, 1, 'runnable')`, run, id, f.projectID)
		f.exec(`UPDATE jobs SET current_run_id = $2 WHERE id = $1`, id, run)
		ids = append(ids, id)
	}
	return ids
}

func (f *dispatchFixture) definition(cpu, mem any) string {
	id := store.NewID()
	f.exec(`INSERT INTO job_definitions (id, project_id, name, version, type, image, cpu_quota_pct, memory_mb)
		VALUES ($1, $2, $3, 1, 'docker', 'x', $4, $5)`, id, f.projectID, testenv.RandomName("def"), cpu, mem)
	return id
}

// The round tells the jobs of the higher-priority queue first, even when a
// lower-priority queue's jobs were submitted earlier.
func TestPlanRoundAssignsHigherPriorityQueuesFirst(t *testing.T) {
	f := newDispatchFixture(t)
	env := store.NewID()
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind) VALUES ($1, $2, 'boxes', 'selfhosted')`, env, f.projectID)
	low := f.queue("low", 500, 0, env)
	high := f.queue("high", 10, 0, env)
	for _, q := range []string{low, high} {
		f.exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, capacity_cpu_pct, capacity_memory_mb)
			VALUES ($1, $2, $3, $4, 'selfhosted', 'idle', 800, 16000)`, store.NewID(), f.projectID, q, env)
	}
	def := f.definition(50, 100)
	lowJobs := f.jobs(low, def, "low", 3)
	highJobs := f.jobs(high, def, "high", 3)

	res, err := (&Activities{Store: f.st}).PlanRound(context.Background(), PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	var order []string
	for _, as := range res.Assigned {
		order = append(order, as.JobID)
	}
	assert.Equal(t, append(highJobs, lowJobs...), order, "the high-priority queue's jobs first, each queue in submit order")
	assert.Empty(t, res.Requested)
}

// A queue with a cloud environment and no spawn asks for one spawn for a
// burst of jobs that fit it, records it (requested, with the machine's
// provider facts), and asks for no more while it is being created.
func TestPlanRoundRequestsOneCloudSpawnPerUnmetNeed(t *testing.T) {
	f := newDispatchFixture(t)
	auth, env := store.NewID(), store.NewID()
	f.exec(`INSERT INTO cloud_auths (id, project_id, name, provider, credentials, credentials_hint) VALUES ($1, $2, 'local', 'localdocker', '\x00', '')`, auth, f.projectID)
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, region, instance_type, instance_vcpu, instance_memory_mb, hourly_price)
		VALUES ($1, $2, 'vms', 'cloud', $3, 'local', 'local-2c-2g', 2, 2048, 0)`, env, f.projectID, auth)
	q := f.queue("burst", 10, 3, env)
	def := f.definition(50, 256) // four fit a 2-vCPU machine
	f.jobs(q, def, "j", 4)
	acts := &Activities{Store: f.st}
	ctx := context.Background()

	res, err := acts.PlanRound(ctx, PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	require.Len(t, res.Requested, 1, "four jobs that fit one machine ask for one")
	assert.Empty(t, res.Assigned)
	assert.Equal(t, 4, res.Waiting)
	var kind, state, provider, region, itype string
	require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT kind, state, provider, region, instance_type FROM compute_spawns WHERE id = $1`, res.Requested[0]).
		Scan(&kind, &state, &provider, &region, &itype))
	assert.Equal(t, []string{"cloud", "requested", "localdocker", "local", "local-2c-2g"}, []string{kind, state, provider, region, itype})
	var reason string
	require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT DISTINCT pending_reason FROM jobs WHERE project_id = $1`, f.projectID).Scan(&reason))
	assert.Equal(t, "waiting_for_spawn", reason)

	first := res.Requested[0]
	spawns := func() int {
		var n int
		require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT count(*) FROM compute_spawns WHERE job_queue_id = $1`, q).Scan(&n))
		return n
	}

	res, err = acts.PlanRound(ctx, PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	assert.Equal(t, 1, spawns(), "the spawn being created absorbs the jobs: no stampede")
	assert.Equal(t, []string{first}, res.Requested,
		"every round names the spawns still requested, so a start lost after the first round's commit happens in the next")

	// Four more jobs need a second machine; the queue allows it.
	f.jobs(q, def, "k", 4)
	res, err = acts.PlanRound(ctx, PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	assert.Len(t, res.Requested, 2)
	assert.Equal(t, 2, spawns())

	// A spawn of the environment failed: the environment rests, no request;
	// the other spawn being created keeps its projected size and its jobs.
	f.exec(`UPDATE compute_spawns SET state = 'failed', state_changed_at = now() WHERE id = $1`, first)
	res, err = acts.PlanRound(ctx, PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	assert.Equal(t, 2, spawns(), "a compute environment whose spawn just failed is not asked again at once")
	assert.Len(t, res.Requested, 1)
	var waiting int
	require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE project_id = $1 AND pending_reason = 'waiting_for_spawn'`, f.projectID).Scan(&waiting))
	assert.Equal(t, 4, waiting, "the resting environment's spawn being created still takes four jobs")
}

// A burst never requests more spawns than the queue's max_spawns.
func TestPlanRoundNeverExceedsMaxSpawns(t *testing.T) {
	f := newDispatchFixture(t)
	auth, env := store.NewID(), store.NewID()
	f.exec(`INSERT INTO cloud_auths (id, project_id, name, provider, credentials, credentials_hint) VALUES ($1, $2, 'local', 'localdocker', '\x00', '')`, auth, f.projectID)
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, region, instance_type, instance_vcpu, instance_memory_mb, hourly_price)
		VALUES ($1, $2, 'vms', 'cloud', $3, 'local', 'local-1c-1g', 1, 1024, 0)`, env, f.projectID, auth)
	q := f.queue("wide", 10, 3, env)
	f.jobs(q, f.definition(nil, nil), "whole", 20) // each takes a machine of its own
	res, err := (&Activities{Store: f.st}).PlanRound(context.Background(), PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	assert.Len(t, res.Requested, 3)
	var n int
	require.NoError(t, f.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM compute_spawns WHERE job_queue_id = $1`, q).Scan(&n))
	assert.Equal(t, 3, n)
}

// A spawn whose termination failed (its machine may still exist and bill)
// counts toward the queue's max_spawns: no new machine is asked for.
func TestPlanRoundCountsSpawnsWhoseTerminationFailed(t *testing.T) {
	f := newDispatchFixture(t)
	auth, env := store.NewID(), store.NewID()
	f.exec(`INSERT INTO cloud_auths (id, project_id, name, provider, credentials, credentials_hint) VALUES ($1, $2, 'local', 'localdocker', '\x00', '')`, auth, f.projectID)
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, region, instance_type, instance_vcpu, instance_memory_mb, hourly_price)
		VALUES ($1, $2, 'vms', 'cloud', $3, 'local', 'local-1c-1g', 1, 1024, 0)`, env, f.projectID, auth)
	q := f.queue("one", 10, 1, env)
	f.exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, cloud_auth_id, provider, instance_id)
		VALUES ($1, $2, $3, $4, 'cloud', 'termination_failed', $5, 'localdocker', 'daestro-vm-stuck')`, store.NewID(), f.projectID, q, env, auth)
	f.jobs(q, f.definition(50, 256), "job", 2)
	res, err := (&Activities{Store: f.st}).PlanRound(context.Background(), PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	assert.Empty(t, res.Requested, "the queue is at its max_spawns with the machine that may still bill")
	var reason string
	require.NoError(t, f.st.Pool.QueryRow(context.Background(), `SELECT pending_detail FROM jobs WHERE job_queue_id = $1 LIMIT 1`, q).Scan(&reason))
	assert.Contains(t, reason, "whose termination failed: their machines may still bill")
}
