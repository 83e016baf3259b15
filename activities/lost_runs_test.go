package activities

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/agent/executor"
	"daestro/internal/agentapi"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// lostRun is a run placed on spawnID whose agent started its container and
// shipped its first lines, then was lost for good.
type lostRun struct {
	runID, jobID, containerID string
}

func (f *cloudFixture) startLostRun(t *testing.T, spawnID, script string, shipped int) lostRun {
	t.Helper()
	ctx := context.Background()
	r := lostRun{runID: store.NewID(), jobID: store.NewID()}
	def := store.NewID()
	f.exec(`INSERT INTO job_definitions (id, project_id, name, version, type, image) VALUES ($1, $2, $3, 1, 'docker', 'busybox:1')`,
		def, f.projectID, testenv.RandomName("def"))
	f.exec(`INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, current_run_id)
		VALUES ($1, $2, $3, $4, $5, 'running', $6)`, r.jobID, f.projectID, f.queueID, def, testenv.RandomName("job"), r.runID)
	f.exec(`INSERT INTO job_runs (id, job_id, project_id, attempt, state, compute_spawn_id) VALUES ($1, $2, $3, 1, 'running', $4)`,
		r.runID, r.jobID, f.projectID, spawnID)
	docker, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", executor.ContainerName(r.runID)).Run() })
	started, err := executor.New(docker, executor.Options{}).Start(ctx, executor.Spec{RunID: r.runID, JobID: r.jobID,
		Image: testenv.TestImage(), Cmd: []string{"sh", "-c", script}, Labels: map[string]string{"daestro.spawn-id": spawnID}})
	require.NoError(t, err)
	r.containerID = started.ContainerID
	if shipped > 0 {
		// What the agent shipped before it went away.
		require.Eventually(t, func() bool {
			out, _ := exec.Command("docker", "logs", r.containerID).CombinedOutput()
			return len(out) > 0
		}, 10*time.Second, 100*time.Millisecond)
		lines := make([]agentapi.LogLine, shipped)
		for i := range lines {
			lines[i] = agentapi.LogLine{Seq: int64(i + 1), Stream: "stdout", Time: time.Now(), Text: "line " + string(rune('1'+i))}
		}
		_, err := f.st.AppendRunLogs(ctx, spawnID, r.runID, lines)
		require.NoError(t, err)
	}
	return r
}

func (f *cloudFixture) recover(t *testing.T, spawnID string, r lostRun) RecoverLostRunResult {
	t.Helper()
	var res RecoverLostRunResult
	require.NoError(t, f.run(f.acts.RecoverLostRun, RecoverLostRunInput{ProjectID: f.projectID, SpawnID: spawnID, RunID: r.runID,
		JobID: r.jobID, ContainerID: r.containerID, Image: testenv.TestImage(), TimeoutSeconds: 60}, &res))
	return res
}

func (f *cloudFixture) logTexts(t *testing.T, runID string) []string {
	t.Helper()
	logs, err := f.st.ReadRunLogs(context.Background(), runID, domain.LogQuery{Limit: 100})
	require.NoError(t, err)
	var out []string
	for _, l := range logs.Lines {
		out = append(out, l.Text)
	}
	return out
}

// A localdocker spawn's agent is lost for good (#17 item 20): the control
// plane reaches the engine itself, so the run's outcome is the container's
// real exit — also one that ends after the agent went away — its last log
// lines are stored after the ones the agent shipped, and the container is
// removed.
func TestRecoverLostRunReadsTheContainersRealEnd(t *testing.T) {
	f := newCloudFixture(t)
	spawnID := f.spawn(domain.SpawnUnreachable)
	t.Run("exited", func(t *testing.T) {
		r := f.startLostRun(t, spawnID, "echo line 1; echo line 2; echo line 3; echo last", 2)
		res := f.recover(t, spawnID, r)
		require.True(t, res.Known, res.Why)
		assert.Equal(t, 0, res.Result.ExitCode)
		assert.False(t, res.Result.FinishedAt.IsZero(), "the engine's exit time")
		assert.Equal(t, []string{"line 1", "line 2", "line 3", "last"}, f.logTexts(t, r.runID), "the lines after the shipped ones, once each")
		out, err := exec.Command("docker", "inspect", r.containerID).CombinedOutput()
		assert.Error(t, err, "the container is removed: %s", out)
	})
	t.Run("still running", func(t *testing.T) {
		r := f.startLostRun(t, spawnID, "echo started; sleep 2; echo done; exit 3", 0)
		res := f.recover(t, spawnID, r)
		require.True(t, res.Known, res.Why)
		assert.Equal(t, 3, res.Result.ExitCode)
		assert.Equal(t, []string{"started", "done"}, f.logTexts(t, r.runID))
	})
	t.Run("container gone", func(t *testing.T) {
		r := f.startLostRun(t, spawnID, "true", 0)
		require.NoError(t, exec.Command("docker", "rm", "-f", r.containerID).Run())
		res := f.recover(t, spawnID, r)
		assert.False(t, res.Known)
		assert.Equal(t, "its container is gone from the engine", res.Why)
	})
}

// A self-hosted machine's engine is the user's: nothing is read, and the
// answer says why.
func TestRecoverLostRunOfASelfHostedSpawnIsUnknown(t *testing.T) {
	f := newCloudFixture(t)
	env, spawnID := store.NewID(), store.NewID()
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind) VALUES ($1, $2, 'boxes', 'selfhosted')`, env, f.projectID)
	f.exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state) VALUES ($1, $2, $3, $4, 'selfhosted', 'unreachable')`,
		spawnID, f.projectID, f.queueID, env)
	var res RecoverLostRunResult
	require.NoError(t, f.run(f.acts.RecoverLostRun, RecoverLostRunInput{ProjectID: f.projectID, SpawnID: spawnID, RunID: store.NewID(),
		JobID: store.NewID(), ContainerID: "c-1", Image: testenv.TestImage()}, &res))
	assert.False(t, res.Known)
	assert.Equal(t, "a self-hosted machine's Docker engine is reachable only through its agent", res.Why)
}
