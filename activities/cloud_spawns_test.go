package activities

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"go.temporal.io/sdk/testsuite"

	"daestro/internal/cloud"
	"daestro/internal/cloud/localdocker"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// cloudFixture is a project with a localdocker cloud auth, a cloud compute
// env and a queue, and the activities wired to a localdocker provider whose
// "agent" is the busybox test image sleeping.
type cloudFixture struct {
	t         testing.TB
	st        *store.Store
	acts      *Activities
	projectID string
	authID    string
	envID     string
	queueID   string
}

func newCloudFixture(t testing.TB) *cloudFixture {
	testenv.Docker(t)
	st := testenv.SealingStore(t)
	ctx := context.Background()
	p, err := st.CreateProject(ctx, testenv.RandomName("cloud"), "")
	require.NoError(t, err)
	auth, err := st.CreateCloudAuth(ctx, p.ID, domain.CloudAuthInput{Name: "local", Provider: cloud.LocalDocker}, "")
	require.NoError(t, err)
	f := &cloudFixture{t: t, st: st, projectID: p.ID, authID: auth.ID, envID: store.NewID(), queueID: store.NewID()}
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, region, instance_type, instance_vcpu, instance_memory_mb, hourly_price)
		VALUES ($1, $2, 'vms', 'cloud', $3, 'local', 'local-1c-512m', 1, 512, 0)`, f.envID, p.ID, auth.ID)
	f.exec(`INSERT INTO job_queues (id, project_id, name, priority, enabled, max_idle_seconds) VALUES ($1, $2, 'q', 10, true, 42)`, f.queueID, p.ID)
	f.exec(`INSERT INTO job_queue_compute_envs (job_queue_id, compute_env_id) VALUES ($1, $2)`, f.queueID, f.envID)
	clouds := cloud.NewRegistry()
	clouds.Register(cloud.LocalDocker, func(cloud.Credentials, string) (cloud.Provider, error) {
		return localdocker.New(localdocker.WithImage(testenv.TestImage()), localdocker.WithCommand("sleep", "300"))
	})
	f.acts = &Activities{Store: st, Clouds: clouds, Agent: AgentConfig{Image: "unused", ServerURL: "http://127.0.0.1:1"}}
	return f
}

// run executes an activity of f.acts in Temporal's activity test
// environment (activities log and heartbeat through their context).
func (f *cloudFixture) run(fn, in, out any) error {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	v, err := env.ExecuteActivity(fn, in)
	if err != nil || out == nil {
		return err
	}
	return v.Get(out)
}

func (f *cloudFixture) create(spawnID string) (CreateMachineResult, error) {
	var res CreateMachineResult
	err := f.run(f.acts.CreateMachine, MachineInput{SpawnID: spawnID}, &res)
	return res, err
}

func (f *cloudFixture) delete(spawnID string) error {
	return f.run(f.acts.DeleteMachine, MachineInput{SpawnID: spawnID}, nil)
}

func (f *cloudFixture) reconcile(grace time.Duration) (ReconcileResult, error) {
	var res ReconcileResult
	err := f.run(f.acts.ReconcileMachines, ReconcileInput{Grace: grace}, &res)
	return res, err
}

func (f *cloudFixture) exec(sql string, args ...any) {
	f.t.Helper()
	_, err := f.st.Pool.Exec(context.Background(), sql, args...)
	require.NoError(f.t, err, sql)
}

// spawn inserts a cloud spawn of the fixture's env in state.
func (f *cloudFixture) spawn(state string) string {
	id := store.NewID()
	f.exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, provider, cloud_auth_id, region, instance_type)
		VALUES ($1, $2, $3, $4, 'cloud', $5, 'localdocker', $6, 'local', 'local-1c-512m')`, id, f.projectID, f.queueID, f.envID, state, f.authID)
	return id
}

// containers lists the instance containers of a spawn.
func containers(t *testing.T, spawnID string) []string {
	out, err := exec.Command("docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "label=daestro.localdocker.tag."+store.SpawnTag(spawnID)).CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.Fields(string(out))
}

// A worker killed between "create" and "record the instance ID" retries the
// activity: the retry finds the machine by its tag and adopts it, never
// creating a second.
func TestCreateMachineAdoptsTheMachineOfAnInterruptedAttempt(t *testing.T) {
	f := newCloudFixture(t)
	ctx := context.Background()
	spawnID := f.spawn(domain.SpawnRequested)
	t.Cleanup(func() { _ = f.delete(spawnID) })

	first, err := f.create(spawnID)
	require.NoError(t, err)
	assert.False(t, first.Adopted)
	assert.Equal(t, 42, first.MaxIdleSeconds)
	require.Len(t, containers(t, spawnID), 1)

	// The crash: the instance ID never reached the database.
	f.exec(`UPDATE compute_spawns SET instance_id = '' WHERE id = $1`, spawnID)
	again, err := f.create(spawnID)
	require.NoError(t, err)
	assert.True(t, again.Adopted)
	assert.Equal(t, first.InstanceID, again.InstanceID)
	assert.Len(t, containers(t, spawnID), 1, "still one machine")
	sp, err := f.st.CloudSpawnMachine(ctx, spawnID)
	require.NoError(t, err)
	assert.Equal(t, first.InstanceID, sp.InstanceID, "the adopted machine is recorded")

	require.NoError(t, f.delete(spawnID))
	assert.Empty(t, containers(t, spawnID))
	require.NoError(t, f.delete(spawnID), "deleting again succeeds")
}

// The user-data of a real cloud machine starts the agent with a token the
// API accepts for this spawn.
func TestCreateMachineUserDataCarriesAWorkingToken(t *testing.T) {
	f := newCloudFixture(t)
	ctx := context.Background()
	spawnID := f.spawn(domain.SpawnRequested)
	var got cloud.CreateRequest
	f.acts.Clouds.Register(cloud.LocalDocker, func(cloud.Credentials, string) (cloud.Provider, error) {
		return recordingProvider{req: &got}, nil
	})
	_, err := f.create(spawnID)
	require.NoError(t, err)
	assert.Equal(t, "daestro-"+spawnID, got.Name)
	assert.ElementsMatch(t, []string{"daestro", store.ProjectTag(f.projectID), store.SpawnTag(spawnID)}, got.Tags)
	assert.Contains(t, got.UserData, "docker run -d --name daestro-agent")
	token := got.Agent.Env["DAESTRO_AUTH_TOKEN"]
	assert.Contains(t, got.UserData, token)
	sess, err := f.st.AuthenticateAgentToken(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, spawnID, sess.SpawnID)
}

// recordingProvider records the create request and says nothing exists.
type recordingProvider struct {
	cloud.Provider
	req *cloud.CreateRequest
}

func (r recordingProvider) ListInstancesByTag(context.Context, string) ([]cloud.Instance, error) {
	return nil, nil
}

func (r recordingProvider) CreateInstance(_ context.Context, req cloud.CreateRequest) (cloud.Instance, error) {
	*r.req = req
	return cloud.Instance{ID: "i-1", Status: cloud.StatusPending}, nil
}

// Reconciliation deletes the machines whose spawn failed, terminated or
// whose termination failed (marking that one terminated), and machines of a
// spawn that no longer exists; it leaves a live spawn's machine alone.
func TestReconcileDeletesMachinesWithoutALiveSpawn(t *testing.T) {
	f := newCloudFixture(t)
	ctx := context.Background()
	live := f.spawn(domain.SpawnRequested)
	stuck := f.spawn(domain.SpawnRequested)
	failed := f.spawn(domain.SpawnRequested)
	for _, id := range []string{live, stuck, failed} {
		_, err := f.create(id)
		require.NoError(t, err)
		t.Cleanup(func() { _ = f.delete(id) })
	}
	f.exec(`UPDATE compute_spawns SET state = 'termination_failed', system_note = 'DigitalOcean was down' WHERE id = $1`, stuck)
	f.exec(`UPDATE compute_spawns SET state = 'failed' WHERE id = $1`, failed)
	// An orphan: a machine of this project whose spawn row is gone.
	p, err := localdocker.New(localdocker.WithImage(testenv.TestImage()), localdocker.WithCommand("sleep", "300"))
	require.NoError(t, err)
	ghost := store.NewID()
	orphan, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "daestro-" + ghost, InstanceType: "local-1c-512m",
		Tags: []string{store.DaestroTag, store.ProjectTag(f.projectID), store.SpawnTag(ghost)}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.DeleteInstance(context.Background(), orphan.ID) })
	// Another project's machine is not this account's to judge.
	other := store.NewID()
	foreign, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "daestro-" + other, InstanceType: "local-1c-512m",
		Tags: []string{store.DaestroTag, store.ProjectTag(store.NewID()), store.SpawnTag(other)}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.DeleteInstance(context.Background(), foreign.ID) })

	// Within the grace period nothing of a failed spawn is touched.
	res, err := f.reconcile(time.Hour)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Equal(t, []string{"localdocker/" + orphan.ID}, res.Deleted, "only the orphan goes at once")

	res, err = f.reconcile(0)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Len(t, res.Deleted, 2)
	assert.Len(t, containers(t, live), 1, "a live spawn's machine stays")
	assert.Empty(t, containers(t, stuck))
	assert.Empty(t, containers(t, failed))
	assert.Len(t, containers(t, other), 1, "another project's machine stays")
	sp, err := f.st.ComputeSpawn(ctx, f.projectID, stuck)
	require.NoError(t, err)
	assert.Equal(t, domain.SpawnTerminated, sp.State, "termination_failed becomes terminated once its machine is gone")

	// A termination_failed spawn whose delete worked after all (no machine
	// listed) is settled too.
	gone := f.spawn(domain.SpawnTerminationFailed)
	res, err = f.reconcile(0)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	sp, err = f.st.ComputeSpawn(ctx, f.projectID, gone)
	require.NoError(t, err)
	assert.Equal(t, domain.SpawnTerminated, sp.State)
	assert.Equal(t, "reconciliation found no machine left", sp.SystemNote)
}

// countingProvider counts the provider calls made through it.
type countingProvider struct {
	cloud.Provider
	calls *int
}

func (c countingProvider) CreateInstance(ctx context.Context, r cloud.CreateRequest) (cloud.Instance, error) {
	*c.calls++
	return c.Provider.CreateInstance(ctx, r)
}

func (c countingProvider) Instance(ctx context.Context, id string) (cloud.Instance, error) {
	*c.calls++
	return c.Provider.Instance(ctx, id)
}

func (c countingProvider) DeleteInstance(ctx context.Context, id string) error {
	*c.calls++
	return c.Provider.DeleteInstance(ctx, id)
}

func (c countingProvider) ListInstancesByTag(ctx context.Context, tag string) ([]cloud.Instance, error) {
	*c.calls++
	return c.Provider.ListInstancesByTag(ctx, tag)
}

// BenchmarkSpawnLifecycleProviderCalls counts the provider API calls of one
// cloud spawn's lifecycle as SpawnWorkflow drives it without retries:
// create (look up by tag, create), refresh at the first ping, delete (look
// up by tag, delete). Throttling retries inside a provider add to it.
func BenchmarkSpawnLifecycleProviderCalls(b *testing.B) {
	f := newCloudFixture(b)
	calls := 0
	f.acts.Clouds.Register(cloud.LocalDocker, func(cloud.Credentials, string) (cloud.Provider, error) {
		p, err := localdocker.New(localdocker.WithImage(testenv.TestImage()), localdocker.WithCommand("sleep", "300"))
		return countingProvider{Provider: p, calls: &calls}, err
	})
	lifecycles := 0
	for b.Loop() {
		id := f.spawn(domain.SpawnRequested)
		_, err := f.create(id)
		require.NoError(b, err)
		require.NoError(b, f.run(f.acts.RefreshMachine, MachineInput{SpawnID: id}, nil))
		require.NoError(b, f.delete(id))
		lifecycles++
	}
	b.ReportMetric(float64(calls)/float64(lifecycles), "provider-calls/spawn")
}
