package apiserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"daestro/internal/domain"
	"daestro/internal/store"
)

// mustCreateQueue creates a job queue with priority 10 and default limits.
func mustCreateQueue(t *testing.T, c client, name string) string {
	t.Helper()
	return c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": name, "priority": 10}).id(t)
}

// insertCronJobUsing stores a cron job row (and the job definition it needs)
// on queueID, as the cron API will.
func insertCronJobUsing(t *testing.T, a *api, projectID, queueID, name string) string {
	t.Helper()
	id := store.NewID()
	_, err := a.st.Pool.Exec(context.Background(), `WITH d AS (
			INSERT INTO job_definitions (id, project_id, name, version, type, image)
			VALUES ($1, $2, $3, 1, 'docker', 'busybox') RETURNING id)
		INSERT INTO cron_jobs (id, project_id, name, job_queue_id, job_definition_id) SELECT $4, $2, $3, $5, id FROM d`,
		store.NewID(), projectID, name, id, queueID)
	require.NoError(t, err)
	return id
}

// insertJobIn stores a job row in queueID, as job submission will.
func insertJobIn(t *testing.T, a *api, projectID, queueID, state string) string {
	t.Helper()
	id := store.NewID()
	_, err := a.st.Pool.Exec(context.Background(), `WITH d AS (
			INSERT INTO job_definitions (id, project_id, name, version, type, image)
			VALUES ($1, $2, $3, 1, 'docker', 'busybox') RETURNING id)
		INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state) SELECT $4, $2, $5, id, $3, $6 FROM d`,
		store.NewID(), projectID, "def-"+id, id, queueID, state)
	require.NoError(t, err)
	return id
}

// sshKey returns a fresh authorized_keys line.
func sshKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " ops@example.com"
}

func addEnv(c client, queueID, envID string) response {
	return c.do(http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": envID})
}

func removeEnv(c client, queueID, envID string) response {
	return c.do(http.MethodDelete, "/v1/job-queues/"+queueID+"/compute-envs/"+envID, nil)
}

func TestJobQueueCreate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")

	r := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 10})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	var q domain.JobQueue
	r.decode(t, &q)
	assert.Equal(t, "etl", q.Name)
	assert.Equal(t, 10, q.Priority)
	assert.Equal(t, "", q.Description)
	assert.Zero(t, q.MaxConcurrency, "0 = no limit")
	assert.Zero(t, q.MaxSpawns, "0 = no limit")
	assert.Zero(t, q.MaxIdleSeconds, "0 = terminate idle spawns at once")
	assert.Equal(t, "", q.SSHPublicKey)
	assert.False(t, q.Enabled, "queues are created disabled")
	assert.Equal(t, []any{}, r.data(t)["compute_envs"], "compute_envs is an empty list, not null")

	got := c.do(http.MethodGet, "/v1/job-queues/"+q.ID, nil)
	require.Equal(t, http.StatusOK, got.Status, got.Raw)
	detail := got.data(t)
	assert.Equal(t, map[string]any{"runnable": 0.0, "reasons": map[string]any{}, "jobs": []any{}}, detail["waiting"],
		"the detail says why jobs wait: none do yet")
	delete(detail, "waiting")
	assert.Equal(t, r.data(t), detail)

	key := sshKey(t)
	r = c.do(http.MethodPost, "/v1/job-queues", map[string]any{
		"name": "gpu-Batch-2", "description": "nightly model training\nowner: ml team", "priority": 1000,
		"max_concurrency": 4, "max_spawns": 2, "max_idle_seconds": 600, "ssh_public_key": key,
	})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	r.decode(t, &q)
	assert.Equal(t, domain.JobQueue{ID: q.ID, Name: "gpu-Batch-2", Description: "nightly model training\nowner: ml team", Priority: 1000,
		MaxConcurrency: 4, MaxSpawns: 2, MaxIdleSeconds: 600, SSHPublicKey: key, ComputeEnvs: []domain.ComputeEnvRef{},
		CreatedAt: q.CreatedAt, UpdatedAt: q.UpdatedAt}, q)
	c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "first", "priority": 1}).id(t)

	r = c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "pasted", "priority": 5, "ssh_public_key": key + "\n"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, key, r.data(t)["ssh_public_key"], "a pasted key's trailing newline is dropped")
}

func TestJobQueueCreateRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	key := sshKey(t)
	body := func(k string, v any) map[string]any {
		return bodyWith(map[string]any{"name": "etl", "priority": 10}, map[string]any{k: v})
	}
	assertRejected(t, c, "/v1/job-queues", "job_queues", []rejected{
		{"name missing", body("name", nil), "name: job queue name is required"},
		{"name with underscore", body("name", "etl_jobs"), `name: "etl_jobs" is not a valid job queue name`},
		{"name too long", body("name", strings.Repeat("q", 129)), "name:"},
		{"priority missing", body("priority", nil), "priority: is required (1-1000, lower runs first)"},
		{"priority zero", body("priority", 0), "priority: 0 is out of range 1-1000"},
		{"priority too high", body("priority", 1001), "priority: 1001 is out of range 1-1000"},
		{"priority fractional", body("priority", 1.5), "priority: must be a whole number"},
		{"max_concurrency negative", body("max_concurrency", -1), "max_concurrency: -1 is out of range 0-2147483647"},
		{"max_spawns negative", body("max_spawns", -1), "max_spawns: -1 is out of range 0-2147483647"},
		{"max_idle_seconds negative", body("max_idle_seconds", -1), "max_idle_seconds: -1 is out of range 0-2147483647"},
		{"max_idle_seconds beyond int32", body("max_idle_seconds", 1<<40), "max_idle_seconds:"},
		{"enabled true", body("enabled", true), "enabled: queues are created disabled: add a compute environment, then PATCH enabled=true"},
		{"enabled false", body("enabled", false), "enabled: queues are created disabled"},
		{"ssh key garbage", body("ssh_public_key", "hello"), "ssh_public_key: is not an OpenSSH public key line"},
		{"ssh key truncated", body("ssh_public_key", key[:40]), "ssh_public_key: is not an OpenSSH public key line"},
		{"two ssh keys", body("ssh_public_key", key+"\n"+sshKey(t)), "ssh_public_key: holds more than one key"},
		{"ssh key with options", body("ssh_public_key", `command="rm -rf /" `+key), "ssh_public_key: authorized_keys options"},
		{"ssh key after a comment line", body("ssh_public_key", "# laptop\n"+key), "ssh_public_key: must be a single line"},
		{"description too long", body("description", strings.Repeat("d", 1025)), "description: is 1025 characters long; the limit is 1024"},
		{"description with NUL", body("description", "a\x00b"), "description: must not contain control characters"},
		{"unknown field", body("compute_envs", []string{}), `unknown field "compute_envs"`},
		{"empty body", "", "request body is empty"},
	})
	assert.Zero(t, a.count("job_queues"), "no rejected request wrote anything")
}

func TestJobQueueNamesAreUniquePerProject(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	mustCreateQueue(t, c, "etl")
	r := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 5})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "a job queue named 'etl' already exists", r.Message)
	assert.Equal(t, 1, a.count("job_queues"))
	mustCreateQueue(t, a.newProject("other"), "etl")
}

func TestJobQueueUpdate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	id := mustCreateQueue(t, c, "etl")

	r := c.do(http.MethodPatch, "/v1/job-queues/"+id, map[string]any{
		"description": "loads the warehouse", "priority": 1, "max_concurrency": 8, "max_idle_seconds": 300,
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	var q domain.JobQueue
	r.decode(t, &q)
	assert.Equal(t, "loads the warehouse", q.Description)
	assert.Equal(t, 1, q.Priority)
	assert.Equal(t, 8, q.MaxConcurrency)
	assert.Equal(t, 300, q.MaxIdleSeconds)
	assert.Equal(t, "etl", q.Name)

	r = c.do(http.MethodPatch, "/v1/job-queues/"+id, map[string]any{"max_concurrency": 0, "description": ""})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r.decode(t, &q)
	assert.Zero(t, q.MaxConcurrency, "a limit can be lifted again")
	assert.Equal(t, "", q.Description)
	assert.Equal(t, 1, q.Priority, "absent fields stay as they are")

	for _, tt := range []struct {
		field string
		value any
	}{{"name", "etl2"}, {"max_spawns", 3}, {"ssh_public_key", sshKey(t)}, {"ssh_public_key", ""}} {
		r := c.do(http.MethodPatch, "/v1/job-queues/"+id, map[string]any{"priority": 7, tt.field: tt.value})
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.Equal(t, tt.field+" cannot be changed: create a new job queue", r.Message)
	}
	for _, tt := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"priority": 0}, "priority: 0 is out of range 1-1000"},
		{map[string]any{"priority": 1001}, "priority: 1001 is out of range 1-1000"},
		{map[string]any{"max_concurrency": -1}, "max_concurrency: -1 is out of range"},
		{map[string]any{"max_idle_seconds": -1}, "max_idle_seconds: -1 is out of range"},
		{map[string]any{"description": strings.Repeat("d", 1025)}, "description: is 1025 characters long"},
		{map[string]any{"compute_envs": []string{}}, `unknown field "compute_envs"`},
	} {
		r := c.do(http.MethodPatch, "/v1/job-queues/"+id, tt.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.Contains(t, r.Message, tt.want)
	}
	var after domain.JobQueue
	c.do(http.MethodGet, "/v1/job-queues/"+id, nil).decode(t, &after)
	assert.Equal(t, q, after, "rejected patches changed nothing")
}

func TestJobQueueEnableNeedsAComputeEnv(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	q := mustCreateQueue(t, c, "etl")
	e1 := mustCreateEnv(t, c, "rack-1")
	e2 := mustCreateEnv(t, c, "rack-2")

	r := c.do(http.MethodPatch, "/v1/job-queues/"+q, map[string]any{"enabled": true, "priority": 5})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' has no compute environment, so it could not run anything: add one (POST /v1/job-queues/"+q+"/compute-envs), then enable it", r.Message)
	got := c.do(http.MethodGet, "/v1/job-queues/"+q, nil).data(t)
	assert.Equal(t, false, got["enabled"])
	assert.EqualValues(t, 10, got["priority"], "the refused patch changed nothing")

	require.Equal(t, http.StatusCreated, addEnv(c, q, e1).Status)
	r = c.do(http.MethodPatch, "/v1/job-queues/"+q, map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, true, r.data(t)["enabled"])

	// The last environment of an enabled queue stays.
	r = removeEnv(c, q, e1)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "compute environment 'rack-1' is the last one of job queue 'etl', which is enabled: disable the queue first (PATCH enabled=false)", r.Message)
	assert.Equal(t, 1, a.count("job_queue_compute_envs"))

	require.Equal(t, http.StatusCreated, addEnv(c, q, e2).Status)
	require.Equal(t, http.StatusOK, removeEnv(c, q, e1).Status, "not the last one any more")
	r = removeEnv(c, q, e2)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Contains(t, r.Message, "'rack-2' is the last one")

	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+q, map[string]any{"enabled": false}).Status)
	r = removeEnv(c, q, e2)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": e2, "deleted": true}, r.data(t))
	assert.Zero(t, a.count("job_queue_compute_envs"))
}

// Check and write share a locked transaction: two removals racing for an
// enabled queue's last two environments, or an enable racing the removal of
// the only one, never leave an enabled queue with none.
func TestJobQueueRulesHoldUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	e1 := mustCreateEnv(t, c, "rack-1")
	e2 := mustCreateEnv(t, c, "rack-2")
	race := func(f, g func() response) (response, response) {
		var wg sync.WaitGroup
		var rf, rg response
		wg.Add(2)
		go func() { defer wg.Done(); rf = f() }()
		go func() { defer wg.Done(); rg = g() }()
		wg.Wait()
		return rf, rg
	}
	for i := range 10 {
		q := mustCreateQueue(t, c, "race-"+string(rune('a'+i)))
		addEnv(c, q, e1).id(t)
		addEnv(c, q, e2).id(t)
		require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+q, map[string]any{"enabled": true}).Status)
		r1, r2 := race(func() response { return removeEnv(c, q, e1) }, func() response { return removeEnv(c, q, e2) })
		assert.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, []int{r1.Status, r2.Status}, "exactly one removal wins: %s %s", r1.Raw, r2.Raw)

		q2 := mustCreateQueue(t, c, "race2-"+string(rune('a'+i)))
		addEnv(c, q2, e1).id(t)
		race(func() response { return c.do(http.MethodPatch, "/v1/job-queues/"+q2, map[string]any{"enabled": true}) },
			func() response { return removeEnv(c, q2, e1) })
		var got domain.JobQueue
		c.do(http.MethodGet, "/v1/job-queues/"+q2, nil).decode(t, &got)
		assert.False(t, got.Enabled && len(got.ComputeEnvs) == 0, "enabled with no compute environment")
	}
}

func TestJobQueueComputeEnvMembership(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	other := a.newProject("other")
	q := mustCreateQueue(t, c, "etl")
	e1 := mustCreateEnv(t, c, "zeta")
	e2 := mustCreateEnv(t, c, "alpha")
	foreign := mustCreateEnv(t, other, "theirs")

	r := addEnv(c, q, e1)
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": e1, "name": "zeta"}, r.data(t))
	require.Equal(t, http.StatusCreated, addEnv(c, q, e2).Status)

	r = c.do(http.MethodGet, "/v1/job-queues/"+q+"/compute-envs", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	var page domain.Page[domain.ComputeEnvRef]
	r.decode(t, &page)
	want := []domain.ComputeEnvRef{{ID: e1, Name: "zeta"}, {ID: e2, Name: "alpha"}}
	assert.Equal(t, want, page.Items, "in the order they were added")
	assert.Equal(t, "", page.NextToken)

	var got domain.JobQueue
	c.do(http.MethodGet, "/v1/job-queues/"+q, nil).decode(t, &got)
	assert.Equal(t, want, got.ComputeEnvs, "the queue's detail lists its compute environments")
	var list domain.Page[domain.JobQueue]
	c.do(http.MethodGet, "/v1/job-queues", nil).decode(t, &list)
	require.Len(t, list.Items, 1)
	assert.Equal(t, want, list.Items[0].ComputeEnvs, "so does the list")

	// A rename shows through.
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/compute-envs/"+e2, map[string]any{"name": "alpha-2"}).Status)
	c.do(http.MethodGet, "/v1/job-queues/"+q, nil).decode(t, &got)
	assert.Equal(t, "alpha-2", got.ComputeEnvs[1].Name)

	before := a.count("job_queue_compute_envs")
	for _, tt := range []struct {
		body   any
		status int
		want   string
	}{
		{map[string]any{"compute_env_id": e1}, http.StatusConflict, "compute environment 'zeta' is already in job queue 'etl'"},
		{map[string]any{"compute_env_id": foreign}, http.StatusBadRequest, `compute_env_id: no compute environment with id "` + foreign + `" in this project`},
		{map[string]any{"compute_env_id": store.NewID()}, http.StatusBadRequest, "compute_env_id: no compute environment with id"},
		{map[string]any{"compute_env_id": "rack"}, http.StatusBadRequest, `compute_env_id: no compute environment with id "rack"`},
		{map[string]any{}, http.StatusBadRequest, "compute_env_id: is required"},
		{map[string]any{"compute_env_id": 7}, http.StatusBadRequest, "compute_env_id: must be a string"},
		{map[string]any{"compute_env_id": e1, "position": 1}, http.StatusBadRequest, `unknown field "position"`},
	} {
		r := c.do(http.MethodPost, "/v1/job-queues/"+q+"/compute-envs", tt.body)
		assert.Equal(t, tt.status, r.Status, r.Raw)
		assert.Contains(t, r.Message, tt.want)
		assert.Equal(t, before, a.count("job_queue_compute_envs"), "a rejected request writes nothing")
	}

	for _, id := range []string{foreign, store.NewID(), "rack"} {
		r := removeEnv(c, q, id)
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
		assert.Equal(t, `no compute environment with id "`+id+`" in job queue 'etl'`, r.Message)
	}
	r = removeEnv(c, q, strings.ToUpper(e1))
	require.Equal(t, http.StatusOK, r.Status, "ids are case-insensitive like everywhere else: %s", r.Raw)
	c.do(http.MethodGet, "/v1/job-queues/"+q+"/compute-envs", nil).decode(t, &page)
	assert.Equal(t, []domain.ComputeEnvRef{{ID: e2, Name: "alpha-2"}}, page.Items)

	// Added again, it goes to the end of the list.
	require.Equal(t, http.StatusCreated, addEnv(c, q, e1).Status)
	c.do(http.MethodGet, "/v1/job-queues/"+q+"/compute-envs", nil).decode(t, &page)
	assert.Equal(t, []domain.ComputeEnvRef{{ID: e2, Name: "alpha-2"}, {ID: e1, Name: "zeta"}}, page.Items)
}

func TestJobQueueDeleteRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	ctx := context.Background()
	q := mustCreateQueue(t, c, "etl")
	env := mustCreateEnv(t, c, "rack")
	require.Equal(t, http.StatusCreated, addEnv(c, q, env).Status)
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+q, map[string]any{"enabled": true}).Status)
	del := func() response { return c.do(http.MethodDelete, "/v1/job-queues/"+q, nil) }

	// Active spawns: refuse, naming how many.
	s1 := insertComputeSpawn(t, a, c.project.ID, q, env, "busy")
	s2 := insertComputeSpawn(t, a, c.project.ID, q, env, "unreachable")
	insertComputeSpawn(t, a, c.project.ID, q, env, "terminated")
	r := del()
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' has 2 active compute spawns: disable the queue and wait until they are terminated", r.Message)
	setRowState(t, a, "compute_spawns", s1, "terminated")
	setRowState(t, a, "compute_spawns", s2, "failed")

	// Unfinished jobs: refuse, naming how many.
	j := insertJobIn(t, a, c.project.ID, q, "runnable")
	insertJobIn(t, a, c.project.ID, q, "completed")
	r = del()
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' has 1 unfinished job: cancel it or wait until it finishes", r.Message)
	setRowState(t, a, "jobs", j, "cancelled")

	// Cron jobs: refuse, naming them.
	c1 := insertCronJobUsing(t, a, c.project.ID, q, "nightly")
	c2 := insertCronJobUsing(t, a, c.project.ID, q, "hourly")
	r = del()
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' is used by cron jobs 'hourly' and 'nightly': delete them or move them to another queue first", r.Message)
	_, err := a.st.Pool.Exec(ctx, `DELETE FROM cron_jobs WHERE id = $1`, c1)
	require.NoError(t, err)
	r = del()
	assert.Equal(t, "job queue 'etl' is used by cron job 'hourly': delete it or move it to another queue first", r.Message)
	_, err = a.st.Pool.Exec(ctx, `DELETE FROM cron_jobs WHERE id = $1`, c2)
	require.NoError(t, err)
	assert.Equal(t, 1, a.count("job_queue_compute_envs"), "every refusal left the queue in place")

	// Every condition cleared: delete, even enabled and with history.
	r = del()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": q, "deleted": true}, r.data(t))
	assert.Zero(t, a.count("job_queue_compute_envs"), "its membership rows are gone")
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodGet, "/v1/job-queues/"+q, nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodGet, "/v1/job-queues/"+q+"/compute-envs", nil).Status)
	assert.Equal(t, http.StatusNotFound, del().Status, "deleting twice")
	var list domain.Page[domain.JobQueue]
	c.do(http.MethodGet, "/v1/job-queues", nil).decode(t, &list)
	assert.Empty(t, list.Items)
	var jobs int
	require.NoError(t, a.st.Pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE job_queue_id = $1`, q).Scan(&jobs))
	assert.Equal(t, 2, jobs, "the jobs' history keeps its queue")

	// The name is free again, and the environment can go once disabled.
	mustCreateQueue(t, c, "etl")
	byName, err := a.st.JobQueueByName(ctx, c.project.ID, "etl")
	require.NoError(t, err)
	assert.NotEqual(t, q, byName.ID, "lookups by name find the live queue")
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/compute-envs/"+env, map[string]any{"enabled": false}).Status)
	insertComputeSpawn(t, a, c.project.ID, q, env, "terminated")
	assert.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/compute-envs/"+env, nil).Status)
}

func TestJobQueueListPaginates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	mustCreateQueue(t, a.newProject("other"), "not-mine")
	want := []string{"q1", "q2", "q3", "q4", "q5"}
	for _, n := range want {
		mustCreateQueue(t, c, n)
	}
	// Queue names are unique in a project, so each name listed once is each queue listed once.
	assertPaginates(t, c, paging[domain.JobQueue]{path: "/v1/job-queues", limit: 2, pages: 3, want: want, order: "every item once, in creation order",
		key: func(q domain.JobQueue) string { return q.Name }, refused: map[string]string{"limit=501": "limit:", "limit=-1": "limit:", "next_token=bogus": "next_token:"}})
}

func TestJobQueueIsInvisibleToOtherProjects(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	owner := a.newProject("acme")
	intruder := a.newProject("intruder")
	q := mustCreateQueue(t, owner, "etl")
	env := mustCreateEnv(t, owner, "rack")
	require.Equal(t, http.StatusCreated, addEnv(owner, q, env).Status)
	intruderEnv := mustCreateEnv(t, intruder, "rack")
	intruderQueue := mustCreateQueue(t, intruder, "etl")

	notFound := `no job queue with id "` + q + `" in this project`
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v1/job-queues/" + q, nil},
		{http.MethodPatch, "/v1/job-queues/" + q, map[string]any{"priority": 1}},
		{http.MethodPatch, "/v1/job-queues/" + q, map[string]any{"enabled": true}},
		{http.MethodDelete, "/v1/job-queues/" + q, nil},
		{http.MethodGet, "/v1/job-queues/" + q + "/compute-envs", nil},
		{http.MethodPost, "/v1/job-queues/" + q + "/compute-envs", map[string]any{"compute_env_id": intruderEnv}},
		{http.MethodPost, "/v1/job-queues/" + q + "/compute-envs", map[string]any{"compute_env_id": env}},
		{http.MethodDelete, "/v1/job-queues/" + q + "/compute-envs/" + env, nil},
	} {
		r := intruder.do(req.method, req.path, req.body)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", req.method, req.path, r.Raw)
		assert.Equal(t, notFound, r.Message, "%s %s", req.method, req.path)
	}
	// The intruder's own queue cannot take the owner's environment either.
	r := addEnv(intruder, intruderQueue, env)
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "compute_env_id: no compute environment with id")
	r = removeEnv(intruder, intruderQueue, env)
	assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)

	var list domain.Page[domain.JobQueue]
	intruder.do(http.MethodGet, "/v1/job-queues", nil).decode(t, &list)
	require.Len(t, list.Items, 1, "another project's list does not show the owner's queue")
	assert.Equal(t, intruderQueue, list.Items[0].ID)

	var got domain.JobQueue
	owner.do(http.MethodGet, "/v1/job-queues/"+q, nil).decode(t, &got)
	assert.Equal(t, 10, got.Priority, "the intruder changed nothing")
	assert.False(t, got.Enabled)
	assert.Equal(t, []domain.ComputeEnvRef{{ID: env, Name: "rack"}}, got.ComputeEnvs)

	for _, id := range []string{"not-a-uuid", store.NewID()} {
		r := owner.do(http.MethodGet, "/v1/job-queues/"+id, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
		assert.Contains(t, r.Message, "no job queue with id")
	}
}
