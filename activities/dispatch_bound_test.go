package activities

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
	"daestro/internal/placement"
	"daestro/internal/store"
)

// With a backlog larger than the bound, a round reads only the first K jobs
// of each queue in the queue's order (K = the floor plus the room of the
// queue's spawns), places them as before — the higher-priority queue's
// first —, and the jobs past the bound stay runnable, counted as waiting,
// with their queue's reason.
func TestPlanRoundReadsAtMostTheBoundOfEachQueue(t *testing.T) {
	f := newDispatchFixture(t)
	f.st.RoundJobsFloor = 3
	env := store.NewID()
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind) VALUES ($1, $2, 'boxes', 'selfhosted')`, env, f.projectID)
	low := f.queue("low", 500, 0, env)
	high := f.queue("high", 10, 0, env)
	for _, q := range []string{low, high} {
		// Room for two jobs of 10% CPU: the bound is 3 + 2.
		f.exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, capacity_cpu_pct, capacity_memory_mb)
			VALUES ($1, $2, $3, $4, 'selfhosted', 'idle', 20, 1000)`, store.NewID(), f.projectID, q, env)
	}
	def := f.definition(10, 10)
	lowJobs := f.jobs(low, def, "low", 10)
	highJobs := f.jobs(high, def, "high", 10)

	var seen placement.Input
	ctx := context.Background()
	out, err := f.st.PlanRound(ctx, f.projectID, func(in placement.Input) placement.Result {
		seen = in
		return placement.Place(in)
	})
	require.NoError(t, err)
	read := map[string][]string{}
	for _, j := range seen.Jobs {
		read[j.QueueID] = append(read[j.QueueID], j.ID)
	}
	assert.ElementsMatch(t, highJobs[:5], read[high], "the high queue's first five jobs, no more")
	assert.ElementsMatch(t, lowJobs[:5], read[low], "the low queue's first five jobs, no more")

	var order []string
	for _, as := range out.Assigned {
		order = append(order, as.JobID)
	}
	assert.Equal(t, []string{highJobs[0], highJobs[1], lowJobs[0], lowJobs[1]}, order,
		"the high-priority queue's jobs first, each queue in submit order")
	assert.Equal(t, 16, out.Waiting, "the jobs past the bound wait too, so the dispatcher looks again")

	var runnable, allocated int
	require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'runnable'),
			(SELECT count(*) FROM allocations a JOIN job_runs r ON r.id = a.run_id WHERE r.project_id = $1)
		FROM jobs WHERE project_id = $1`, f.projectID).Scan(&runnable, &allocated))
	assert.Equal(t, 20, runnable, "placed jobs are runnable until their workflow starts them; the rest stay runnable")
	assert.Equal(t, 4, allocated)

	last, err := f.st.Job(ctx, f.projectID, highJobs[9])
	require.NoError(t, err)
	require.NotNil(t, last.Pending)
	assert.Equal(t, "no_capacity", last.Pending.Reason, "past the bound, a job waits for its queue's reason")
	assert.Equal(t, "queue 'high' has no place for the jobs ahead of it either: the queue's waiting jobs say why (position 8 in the queue)",
		last.Pending.Detail, "two of the ten are placed, so the tenth is eighth")
	head, err := f.st.Job(ctx, f.projectID, highJobs[2])
	require.NoError(t, err)
	assert.Equal(t, "no_capacity", head.Pending.Reason)
	assert.True(t, strings.HasSuffix(head.Pending.Detail, "has 10% CPU and 10 MB free, and its compute environments are self-hosted, so placement cannot add one (position 1 in the queue)"),
		head.Pending.Detail)

	// A job ahead starts and finishes, freeing room: the next round reads
	// the next jobs.
	f.exec(`DELETE FROM allocations`)
	f.exec(`UPDATE job_runs SET state = 'completed' WHERE job_id = ANY($1::uuid[])`, []string{highJobs[0], highJobs[1]})
	f.exec(`UPDATE jobs SET state = 'completed' WHERE id = ANY($1::uuid[])`, []string{highJobs[0], highJobs[1]})
	out, err = f.st.PlanRound(ctx, f.projectID, placement.Place)
	require.NoError(t, err)
	order = order[:0]
	for _, as := range out.Assigned {
		order = append(order, as.JobID)
	}
	assert.Equal(t, []string{highJobs[2], highJobs[3], lowJobs[0], lowJobs[1]}, order)
	last, err = f.st.Job(ctx, f.projectID, highJobs[9])
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(last.Pending.Detail, "(position 6 in the queue)"), last.Pending.Detail)
}

// A job at position 7,000 of a queue, far past what a round reads, shows
// that position in its detail, and it moves up when a job ahead of it
// starts; the queue's detail counts every waiting job by its reason.
func TestWhyPendingPositionPastTheBound(t *testing.T) {
	f := newDispatchFixture(t)
	env := store.NewID()
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind) VALUES ($1, $2, 'boxes', 'selfhosted')`, env, f.projectID)
	q := f.queue("deep", 10, 0, env)
	def := f.definition(10, 10)
	const backlog = 7500
	f.exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, runnable_at)
		SELECT gen_random_uuid(), $1, $2, $3, 'job-' || i, 'runnable', now() + i * interval '1 ms'
		FROM generate_series(1, $4::int) i`, f.projectID, q, def, backlog)
	f.exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state)
		SELECT gen_random_uuid(), id, project_id, 1, 'runnable' FROM jobs WHERE project_id = $1`, f.projectID)
	f.exec(`UPDATE jobs j SET current_run_id = r.id FROM job_runs r WHERE r.job_id = j.id AND j.project_id = $1`, f.projectID)
	ctx := context.Background()
	jobAt := func(position int) string {
		var id string
		require.NoError(t, f.st.Pool.QueryRow(ctx, `SELECT id::text FROM jobs WHERE project_id = $1 AND name = $2`,
			f.projectID, "job-"+strconv.Itoa(position)).Scan(&id))
		return id
	}

	res, err := (&Activities{Store: f.st}).PlanRound(ctx, PlanRoundInput{ProjectID: f.projectID})
	require.NoError(t, err)
	assert.Equal(t, backlog, res.Waiting)

	j, err := f.st.Job(ctx, f.projectID, jobAt(7000))
	require.NoError(t, err)
	require.NotNil(t, j.Pending)
	assert.Equal(t, "no_spawn_in_queue", j.Pending.Reason)
	assert.Equal(t, "queue 'deep' has no place for the jobs ahead of it either: the queue's waiting jobs say why (position 7000 in the queue)", j.Pending.Detail)
	head, err := f.st.Job(ctx, f.projectID, jobAt(1))
	require.NoError(t, err)
	assert.Equal(t, &domain.PendingReason{Reason: "no_spawn_in_queue",
		Detail: "queue 'deep' has no idle or busy compute spawn, and its compute environments are self-hosted, so placement cannot start one: run the agent on one of your machines (position 1 in the queue)"},
		head.Pending)

	// The first job starts: everyone behind it moves up one, with no round.
	f.exec(`UPDATE job_runs SET state = 'running' WHERE job_id = $1`, jobAt(1))
	f.exec(`UPDATE jobs SET state = 'running' WHERE id = $1`, jobAt(1))
	j, err = f.st.Job(ctx, f.projectID, jobAt(7000))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(j.Pending.Detail, "(position 6999 in the queue)"), j.Pending.Detail)

	w, err := f.st.QueueWaiting(ctx, f.projectID, q)
	require.NoError(t, err)
	assert.Equal(t, backlog-1, w.Runnable)
	assert.Equal(t, map[string]int{"no_spawn_in_queue": backlog - 1}, w.Reasons)
	require.Len(t, w.Jobs, 20)
	assert.True(t, strings.HasSuffix(w.Jobs[0].Detail, "(position 1 in the queue)"), w.Jobs[0].Detail)
	assert.Equal(t, "job-2", w.Jobs[0].Name)
}
