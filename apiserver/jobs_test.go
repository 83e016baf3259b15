package apiserver_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	temporalclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"

	"daestro/apiserver"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// stubRecordActivity is the activity the stub JobWorkflow records states with.
const stubRecordActivity = "TestRecordJobRunState"

// stubJobWorkflow stands in for workflows.JobWorkflow, registered under its
// name on the test's own task queue: these tests are about the API's side of
// the contract (rows, start, signal), not about placement and agents. Like
// the real one it waits, and on the cancel signal records the run cancelled.
func stubJobWorkflow(ctx workflow.Context, in contract.JobWorkflowInput) error {
	workflow.GetSignalChannel(ctx, contract.SignalJobCancel).Receive(ctx, nil)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, stubRecordActivity, in.RunID, domain.JobCancelled, "cancel signal received").Get(ctx, nil)
}

// stubArrayJobWorkflow stands in for ArrayJobWorkflow: it starts no
// children and ends on the cancel signal.
func stubArrayJobWorkflow(ctx workflow.Context, _ contract.ArrayJobWorkflowInput) error {
	workflow.GetSignalChannel(ctx, contract.SignalJobCancel).Receive(ctx, nil)
	return nil
}

// newJobAPI is newAPI wired to the real Temporal dev server, with a worker of
// the test's own (its own task queue) running stubJobWorkflow against the
// test's database.
func newJobAPI(t *testing.T) *api {
	t.Helper()
	st := newTestStore(t)
	tc := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	w := sdkworker.New(tc, queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(stubJobWorkflow, workflow.RegisterOptions{Name: "JobWorkflow"})
	w.RegisterWorkflowWithOptions(stubArrayJobWorkflow, workflow.RegisterOptions{Name: contract.ArrayJobWorkflowName})
	w.RegisterActivityWithOptions(func(ctx context.Context, runID string, state domain.JobState, reason string) error {
		return st.SetJobRunState(ctx, runID, state, reason, store.RunFields{})
	}, activity.RegisterOptions{Name: stubRecordActivity})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	a := serveAPI(t, st, apiserver.Options{Temporal: tc, ControlTaskQueue: queue})
	// The stub waits for a cancel forever: end the test's workflows so the
	// shared dev server does not collect them. (Runs before the worker stops
	// and the database is dropped: cleanups run last-in first-out.)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ids, err := pgx.CollectRows(mustQuery(t, st, `SELECT id::text FROM jobs`), pgx.RowTo[string])
		if err != nil {
			return
		}
		for _, id := range ids {
			_ = tc.TerminateWorkflow(ctx, contract.JobWorkflowID(id), "", "test over")
		}
	})
	return a
}

// readyQueue creates an enabled queue named name with a self-hosted environment.
func readyQueue(t *testing.T, c client, name string) string {
	t.Helper()
	queueID, _ := selfHostedQueue(t, c, name)
	r := c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	return queueID
}

// etlDefinition creates "etl": its command needs Param::day (no default)
// and Param::mode (default full), and its env has a plain and a sensitive variable.
func etlDefinition(t *testing.T, c client) {
	t.Helper()
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "etl", "type": "docker", "image": "ghcr.io/acme/etl:1",
		"command": []string{"etl", "--day", "Param::day", "--mode", "Param::mode"}, "parameters": map[string]string{"mode": "full"},
		"env":           map[string]any{"REGION": map[string]any{"value": "eu"}, "DB_PASSWORD": map[string]any{"value": "def-secret-pw", "sensitive": true}},
		"cpu_quota_pct": 50, "memory_mb": 256, "timeout_seconds": 600}).id(t)
}

// etlJob is a valid management API body for etlDefinition in queue "etl".
func etlJob(extra map[string]any) map[string]any {
	body := map[string]any{"job_definition": "etl", "job_queue": "etl", "container_cmd_parameter": map[string]string{"day": "2025-05-17"}}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

// getJob is the job's detail as the management API shows it.
func getJob(t *testing.T, c client, id string) domain.JobDetail {
	t.Helper()
	return getData[domain.JobDetail](t, c, "/v1/jobs/"+id)
}

// waitForJobState polls the job until it is in state, as a user would.
func waitForJobState(t *testing.T, c client, id string, state domain.JobState) domain.JobDetail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d := getJob(t, c, id)
		if d.State == state {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %s; events: %+v", id, d.State, state, d.Events)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jobRows counts what a submission writes, to prove a rejection wrote nothing.
func jobRows(a *api) [3]int {
	return [3]int{a.count("jobs"), a.count("job_runs"), a.count("job_events")}
}

func eventStatesOf(evs []domain.JobEvent) []domain.JobState {
	out := make([]domain.JobState, len(evs))
	for i, e := range evs {
		out[i] = e.State
	}
	return out
}

// describeJob returns the job's latest workflow run.
func describeJob(t *testing.T, a *api, id string) *workflowservice.DescribeWorkflowExecutionResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := a.temporal.DescribeWorkflowExecution(ctx, contract.JobWorkflowID(id), "")
	require.NoError(t, err)
	return desc
}

// jobHistory returns every event of the job's latest workflow run, each as
// its wire bytes (payloads included), and the run's input.
func jobHistory(t *testing.T, a *api, id string) ([][]byte, contract.JobWorkflowInput) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := a.temporal.GetWorkflowHistory(ctx, contract.JobWorkflowID(id), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var (
		out   [][]byte
		input contract.JobWorkflowInput
	)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if attrs := ev.GetWorkflowExecutionStartedEventAttributes(); attrs != nil {
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(attrs.Input, &input))
		}
		b, err := proto.Marshal(ev)
		require.NoError(t, err)
		out = append(out, b)
	}
	return out, input
}

func keywordAttr(t *testing.T, desc *workflowservice.DescribeWorkflowExecutionResponse, name string) string {
	t.Helper()
	var v string
	p := desc.WorkflowExecutionInfo.SearchAttributes.IndexedFields[name]
	require.NotNil(t, p, "search attribute %s is set", name)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
	return v
}

// The management API submits with or without the project code, fills the
// command's placeholders, stores the job with its first run and event, and
// starts the job's workflow with IDs only and the search attributes.
func TestJobSubmitThroughManagementAPI(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	queueID := readyQueue(t, c, "etl")
	etlDefinition(t, c)

	r := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"name": "nightly-2025-05-17"}))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	var j domain.Job
	r.decode(t, &j)
	assert.Equal(t, "nightly-2025-05-17", j.Name)
	assert.Equal(t, domain.JobSubmitted, j.State)
	assert.Equal(t, domain.JobQueueRef{ID: queueID, Name: "etl"}, j.JobQueue)
	assert.Equal(t, "etl", j.JobDefinition.Name)
	assert.Equal(t, 1, j.JobDefinition.Version)
	assert.Equal(t, []string{"etl", "--day", "2025-05-17", "--mode", "full"}, j.Command, "Param:: placeholders are filled at submission")
	assert.Equal(t, map[string]string{"day": "2025-05-17"}, j.Parameters, "the job's own parameters as submitted")
	assert.Equal(t, 1, j.Attempt)
	assert.NotEmpty(t, j.CurrentRunID)
	assert.Nil(t, j.Pending)

	// With the project code, as the client API spells it, and a later version.
	c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"command": []string{"etl", "v2", "Param::day"}}).id(t)
	r = c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"job_definition": "acme::etl", "job_queue": "acme::etl"}))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	var latest domain.Job
	r.decode(t, &latest)
	assert.Equal(t, 2, latest.JobDefinition.Version, "no version means the latest active one")
	assert.Equal(t, []string{"etl", "v2", "2025-05-17"}, latest.Command)
	assert.Regexp(t, `^[a-z]+-[a-z]+-[0-9]{4}$`, latest.Name, "a random readable name when none is given")

	d := getJob(t, c, j.ID)
	assert.Equal(t, j, d.Job)
	require.Len(t, d.Runs, 1)
	run := d.Runs[0]
	assert.Equal(t, j.CurrentRunID, run.ID)
	assert.Equal(t, 1, run.Attempt)
	assert.Equal(t, domain.JobSubmitted, run.State)
	assert.Nil(t, run.ComputeSpawnID)
	assert.Nil(t, run.ExitCode)
	assert.Nil(t, run.StartedAt)
	require.Len(t, d.Events, 1)
	assert.Equal(t, domain.JobSubmitted, d.Events[0].State)
	assert.Equal(t, "submitted via API", d.Events[0].Reason)
	assert.Equal(t, &run.ID, d.Events[0].RunID)

	// The detail's runs and events have exactly the documented fields.
	raw := c.do(http.MethodGet, "/v1/jobs/"+j.ID, nil).data(t)
	assert.ElementsMatch(t, []string{"id", "attempt", "state", "compute_spawn_id", "image_digest", "exit_code", "oom_killed", "reason", "system_note",
		"created_at", "started_at", "finished_at", "logs_purged_at"}, keysOf(raw["runs"].([]any)[0].(map[string]any)))
	assert.Nil(t, raw["runs"].([]any)[0].(map[string]any)["logs_purged_at"], "a new run's logs are kept")
	assert.ElementsMatch(t, []string{"state", "reason", "run_id", "at"}, keysOf(raw["events"].([]any)[0].(map[string]any)))

	desc := describeJob(t, a, j.ID)
	assert.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status)
	assert.Equal(t, c.project.ID, keywordAttr(t, desc, contract.SearchAttrProjectID))
	assert.Equal(t, "etl", keywordAttr(t, desc, contract.SearchAttrJobQueue))
	assert.Equal(t, string(domain.JobSubmitted), keywordAttr(t, desc, contract.SearchAttrJobState))
	_, input := jobHistory(t, a, j.ID)
	assert.Equal(t, contract.JobWorkflowInput{JobID: j.ID, RunID: run.ID, ProjectID: c.project.ID}, input)
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A sensitive env override reaches the agent's spec and nothing else: no
// response, no table in clear, no workflow history.
func TestJobSensitiveEnvOverrideNeverLeaks(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	const secret = "job-ONLY-secret-value-never-shown-7f3a"
	const plain = "plain-override-value-still-sealed-at-rest"

	var responses []string
	r := c.do(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "acme::etl", "job_queue": "acme::etl",
		"container_cmd_parameter": map[string]string{"day": "d"},
		"container_env": map[string]any{"API_TOKEN": map[string]any{"value": secret, "sensitive": true}, "REGION": map[string]any{"value": plain},
			"DB_PASSWORD": map[string]any{"value": ""}}})
	id := r.id(t)
	responses = append(responses, r.Raw)
	mr := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"container_env": map[string]any{"API_TOKEN": map[string]any{"value": secret, "sensitive": true}}}))
	require.Equal(t, http.StatusAccepted, mr.Status, mr.Raw)
	responses = append(responses, mr.Raw)
	for _, p := range []string{"/v1/client/job/" + id, "/v1/jobs/" + id, "/v1/jobs", "/v1/jobs?state=submitted"} {
		r := c.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		responses = append(responses, r.Raw)
	}
	for _, raw := range responses {
		assert.NotContains(t, raw, secret)
	}
	d := getJob(t, c, id)
	assert.Equal(t, domain.Env{"API_TOKEN": {Sensitive: true}, "REGION": {Value: plain}, "DB_PASSWORD": {}}, d.Env,
		"the management API shows which variables the job overrides, never a sensitive value")

	var dump strings.Builder
	for _, tbl := range []string{"jobs", "job_runs", "job_events"} {
		rows := mustQuery(t, a.st, "SELECT t::text FROM "+tbl+" t")
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			dump.WriteString(s + "\n")
		}
		rows.Close()
	}
	require.Contains(t, dump.String(), id, "the dump has the job")
	for _, s := range []string{secret, plain} {
		assert.NotContains(t, dump.String(), s, "the job's env is sealed as a whole")
		assert.NotContains(t, dump.String(), hex.EncodeToString([]byte(s)), "bytea columns render as hex")
	}

	// Cancel too, so the history holds a signal and the activity's arguments.
	require.Equal(t, http.StatusAccepted, c.do(http.MethodPost, "/v1/client/job/"+id+"/cancel", nil).Status)
	waitForJobState(t, c, id, domain.JobCancelled)
	events, input := jobHistory(t, a, id)
	assert.Equal(t, id, input.JobID, "the history was read")
	assert.Greater(t, len(events), 5)
	for _, ev := range events {
		assert.False(t, bytes.Contains(ev, []byte(secret)), "a workflow history event holds the secret")
		assert.False(t, bytes.Contains(ev, []byte(plain)), "a workflow history event holds an env value")
	}

	// The agent's spec has it: the definition's env with the job's overrides.
	spec, err := a.st.JobRunSpec(context.Background(), d.CurrentRunID)
	require.NoError(t, err)
	assert.Equal(t, []string{"API_TOKEN=" + secret, "REGION=" + plain}, spec.Env,
		"overrides replace by key, an empty one removes the definition's DB_PASSWORD")
	spec, err = a.st.JobRunSpec(context.Background(), getJob(t, c, mr.id(t)).CurrentRunID)
	require.NoError(t, err)
	assert.Equal(t, []string{"API_TOKEN=" + secret, "DB_PASSWORD=def-secret-pw", "REGION=eu"}, spec.Env)
}

// JobRunSpec hands the agent everything it needs, and SetJobRunState moves
// a run, mirrors it on the job and keeps the history, idempotently.
func TestJobRunSpecAndSetJobRunState(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	queueID, envID := selfHostedQueue(t, c, "etl")
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": true}).Status)
	etlDefinition(t, c)
	j := getJob(t, c, c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"name": "n1"})).id(t))
	ctx := context.Background()
	runID := j.CurrentRunID

	spec, err := a.st.JobRunSpec(ctx, runID)
	require.NoError(t, err)
	fifty, mb := 50, 256
	assert.Equal(t, domain.RunSpec{RunID: runID, Attempt: 1, JobID: j.ID, JobName: "n1", ProjectID: c.project.ID, State: domain.JobSubmitted,
		JobQueueID: queueID, JobQueueName: "etl", Type: domain.JobDefinitionDocker, Image: "ghcr.io/acme/etl:1", Script: "",
		Command: []string{"etl", "--day", "2025-05-17", "--mode", "full"}, Env: []string{"DB_PASSWORD=def-secret-pw", "REGION=eu"},
		CPUQuotaPct: &fifty, MemoryMB: &mb, TimeoutSeconds: 600}, spec)
	_, err = a.st.JobRunSpec(ctx, "0190a5c2-0000-7000-8000-000000000000")
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))

	// runnable: stamped, with the default pending reason, then placement's own.
	require.NoError(t, a.st.SetJobRunState(ctx, runID, domain.JobRunnable, "waiting for capacity", store.RunFields{}))
	d := getJob(t, c, j.ID)
	assert.Equal(t, domain.JobRunnable, d.State)
	require.NotNil(t, d.RunnableAt)
	assert.Equal(t, &domain.PendingReason{Reason: "queued", Detail: "waiting for the dispatcher to place it"}, d.Pending)
	_, err = a.st.Pool.Exec(ctx, `UPDATE jobs SET pending_reason = 'no_capacity', pending_detail = 'every spawn of the queue is busy' WHERE id = $1`, j.ID)
	require.NoError(t, err)
	require.NoError(t, a.st.SetJobRunState(ctx, runID, domain.JobRunnable, "again", store.RunFields{}), "a repeat is harmless")
	d2 := getJob(t, c, j.ID)
	assert.Equal(t, &domain.PendingReason{Reason: "no_capacity", Detail: "every spawn of the queue is busy"}, d2.Pending)
	assert.Equal(t, d.RunnableAt, d2.RunnableAt, "a repeat keeps the job's place in the queue")
	assert.Len(t, d2.Events, 2, "a repeat writes no event")

	// Through the store: its workflow is not what this test is about.
	sp, _, err := a.st.CreateSelfHostedSpawn(ctx, c.project.ID, domain.ComputeSpawnInput{ComputeEnvID: envID, JobQueueID: queueID},
		func(context.Context, domain.ComputeSpawn) error { return nil })
	require.NoError(t, err)
	digest, container := "sha256:abc", "c0ffee"
	require.NoError(t, a.st.SetJobRunState(ctx, runID, domain.JobStarting, "placed on a spawn", store.RunFields{SpawnID: &sp.ID}))
	require.NoError(t, a.st.SetJobRunState(ctx, runID, domain.JobRunning, "container started", store.RunFields{ContainerID: &container, ImageDigest: &digest}))
	d = getJob(t, c, j.ID)
	assert.Nil(t, d.Pending, "only a runnable job is pending")
	require.NotNil(t, d.Runs[0].StartedAt, "running stamps started_at")
	assert.Equal(t, &sp.ID, d.Runs[0].ComputeSpawnID)
	assert.Equal(t, digest, d.Runs[0].ImageDigest)
	spec, err = a.st.JobRunSpec(ctx, runID)
	require.NoError(t, err)
	assert.Equal(t, &sp.ID, spec.ComputeSpawnID, "the server checks the agent's spawn against it")

	exit, oom, note := 137, true, "out of memory: the container used its 256 MB"
	finished := time.Date(2025, 5, 17, 7, 0, 0, 0, time.UTC)
	require.NoError(t, a.st.SetJobRunState(ctx, runID, domain.JobFailed, "exited 137",
		store.RunFields{ExitCode: &exit, OOMKilled: &oom, SystemNote: &note, FinishedAt: &finished}))
	require.NoError(t, a.st.SetJobRunState(ctx, runID, domain.JobFailed, "exited 137", store.RunFields{ExitCode: &exit}), "a retried write is harmless")
	d = getJob(t, c, j.ID)
	assert.Equal(t, domain.JobFailed, d.State)
	assert.Equal(t, note, d.SystemNote, "the job shows its current run's note")
	run := d.Runs[0]
	assert.Equal(t, &exit, run.ExitCode)
	assert.True(t, run.OOMKilled)
	assert.True(t, finished.Equal(*run.FinishedAt))
	assert.Equal(t, []domain.JobState{"submitted", "runnable", "starting", "running", "failed"}, eventStatesOf(d.Events))
	assert.Equal(t, "exited 137", d.Events[4].Reason)

	err = a.st.SetJobRunState(ctx, runID, domain.JobCompleted, "late", store.RunFields{})
	assert.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "a finished run keeps its state")
	assert.Equal(t, domain.JobFailed, getJob(t, c, j.ID).State)
	assert.Equal(t, domain.EINVALID, domain.ErrorCode(a.st.SetJobRunState(ctx, runID, "done", "", store.RunFields{})))
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(a.st.SetJobRunState(ctx, "0190a5c2-0000-7000-8000-000000000000", domain.JobRunning, "", store.RunFields{})))
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(a.st.SetJobRunState(ctx, "nope", domain.JobRunning, "", store.RunFields{})))
}

// Cancel signals the workflow, which owns the transition; a job whose
// workflow is gone is cancelled by the API itself; a finished job is 409.
func TestJobCancel(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	id := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)
	r := c.do(http.MethodPost, "/v1/jobs/"+id+"/cancel", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	assert.Equal(t, string(domain.JobSubmitted), r.data(t)["state"], "the API records nothing: the workflow moves the state")
	d := waitForJobState(t, c, id, domain.JobCancelled)
	assert.Equal(t, []domain.JobState{domain.JobSubmitted, domain.JobCancelled}, eventStatesOf(d.Events))
	assert.Equal(t, "cancel signal received", d.Events[1].Reason, "recorded by the workflow")

	r = c.do(http.MethodPost, "/v1/jobs/"+id+"/cancel", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job "+id+" is cancelled: only queued or running jobs can be cancelled", r.Message)
	r = c.do(http.MethodPost, "/v1/client/job/"+id+"/cancel", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.False(t, r.OK)

	// The workflow is gone (an operator terminated it): nothing else would
	// ever end the job, so the API does, with an event saying why.
	lost := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)
	require.NoError(t, a.temporal.TerminateWorkflow(context.Background(), contract.JobWorkflowID(lost), "", "operator"))
	r = c.do(http.MethodPost, "/v1/jobs/"+lost+"/cancel", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	assert.Equal(t, string(domain.JobCancelled), r.data(t)["state"])
	d = getJob(t, c, lost)
	assert.Equal(t, []domain.JobState{domain.JobSubmitted, domain.JobCancelled}, eventStatesOf(d.Events))
	assert.Equal(t, "cancel requested via API; the job's workflow no longer ran", d.Events[1].Reason)
	assert.Equal(t, domain.JobCancelled, d.Runs[0].State)
	require.NotNil(t, d.Runs[0].FinishedAt)

	// A running job is cancellable; a completed one is not.
	ctx := context.Background()
	run := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)
	require.NoError(t, a.st.SetJobRunState(ctx, getJob(t, c, run).CurrentRunID, domain.JobRunning, "container started", store.RunFields{}))
	require.Equal(t, http.StatusAccepted, c.do(http.MethodPost, "/v1/client/job/"+run+"/cancel", nil).Status)
	waitForJobState(t, c, run, domain.JobCancelled)
	done := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)
	require.NoError(t, a.st.SetJobRunState(ctx, getJob(t, c, done).CurrentRunID, domain.JobCompleted, "exited 0", store.RunFields{}))
	r = c.do(http.MethodPost, "/v1/client/job/"+done+"/cancel", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job "+done+" is completed: only queued or running jobs can be cancelled", r.Message)

	for _, p := range []string{"/v1/jobs/0190a5c2-0000-7000-8000-000000000000/cancel", "/v1/jobs/not-an-id/cancel"} {
		r := c.do(http.MethodPost, p, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	}
}

// Resubmit starts a new run (attempt n+1) of the same workflow ID, only for
// a finished job.
func TestJobResubmit(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	id := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"name": "again"})).id(t)
	first := getJob(t, c, id)

	r := c.do(http.MethodPost, "/v1/jobs/"+id+"/resubmit", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job "+id+" is submitted: only a finished job can be resubmitted; cancel it first or wait until it ends", r.Message)

	require.Equal(t, http.StatusAccepted, c.do(http.MethodPost, "/v1/jobs/"+id+"/cancel", nil).Status)
	waitForJobState(t, c, id, domain.JobCancelled)
	// The stub closes right after recording; wait for it like a user retrying would not need to.
	require.Eventually(t, func() bool {
		return describeJob(t, a, id).WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, 10*time.Second, 50*time.Millisecond)

	before := jobRows(a)
	r = c.do(http.MethodPost, "/v1/jobs/"+id+"/resubmit", nil)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	out := r.data(t)
	assert.Equal(t, id, out["id"])
	runID, _ := out["run_id"].(string)
	require.NotEmpty(t, runID)
	assert.NotEqual(t, first.CurrentRunID, runID)
	assert.EqualValues(t, 2, out["attempt"])
	assert.Equal(t, [3]int{before[0], before[1] + 1, before[2] + 1}, jobRows(a), "one run and one event more")

	d := getJob(t, c, id)
	assert.Equal(t, domain.JobSubmitted, d.State)
	assert.Equal(t, runID, d.CurrentRunID)
	assert.Equal(t, 2, d.Attempt)
	require.Len(t, d.Runs, 2)
	assert.Equal(t, domain.JobCancelled, d.Runs[0].State, "the first run keeps its history")
	assert.Equal(t, domain.JobSubmitted, d.Runs[1].State)
	assert.Equal(t, []domain.JobState{domain.JobSubmitted, domain.JobCancelled, domain.JobSubmitted}, eventStatesOf(d.Events))
	assert.Equal(t, "resubmitted via API (attempt 2)", d.Events[2].Reason)
	assert.Equal(t, &runID, d.Events[2].RunID)
	assert.Equal(t, first.Command, d.Command)

	desc := describeJob(t, a, id)
	assert.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "a new run of the same workflow ID")
	_, input := jobHistory(t, a, id)
	assert.Equal(t, contract.JobWorkflowInput{JobID: id, RunID: runID, ProjectID: c.project.ID}, input)

	// The client API sees the job queued again.
	assert.Equal(t, string(domain.JobSubmitted), c.do(http.MethodGet, "/v1/client/job/"+id, nil).data(t)["state"])

	// A run recorded as finished whose workflow has not closed yet (it still
	// releases capacity) is not resubmitted over: 409, nothing written.
	require.NoError(t, a.st.SetJobRunState(context.Background(), runID, domain.JobFailed, "exited 1", store.RunFields{}))
	before = jobRows(a)
	r = c.do(http.MethodPost, "/v1/jobs/"+id+"/resubmit", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job "+id+" is still finishing its previous run: try again in a few seconds", r.Message)
	assert.Equal(t, before, jobRows(a))
	assert.Equal(t, domain.JobFailed, getJob(t, c, id).State)
}

// Resubmit refuses a job whose definition version was deleted or whose
// queue was disabled since.
func TestJobResubmitNeedsItsDefinitionAndQueue(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	queueID := readyQueue(t, c, "etl")
	etlDefinition(t, c)
	ctx := context.Background()
	finished := func() string {
		id := c.do(http.MethodPost, "/v1/jobs", etlJob(nil)).id(t)
		require.NoError(t, a.st.SetJobRunState(ctx, getJob(t, c, id).CurrentRunID, domain.JobCompleted, "exited 0", store.RunFields{}))
		require.NoError(t, a.temporal.TerminateWorkflow(ctx, contract.JobWorkflowID(id), "", "test"))
		return id
	}
	id := finished()
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": false}).Status)
	r := c.do(http.MethodPost, "/v1/jobs/"+id+"/resubmit", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' is disabled: add a compute environment and enable it", r.Message)
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": true}).Status)

	c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"image": "ghcr.io/acme/etl:2"}).id(t)
	r = c.do(http.MethodDelete, "/v1/job-definitions/etl:1", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = c.do(http.MethodPost, "/v1/jobs/"+id+"/resubmit", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job "+id+" ran job definition 'etl:1', which was deleted: submit a new job with another version", r.Message)
	assert.Len(t, getJob(t, c, id).Runs, 1)
}

// Lists are newest first, filter by queue, state, definition, creation time
// and name prefix, and page with next_token.
func TestJobListFiltersAndPages(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	etlQueue := readyQueue(t, c, "etl")
	readyQueue(t, c, "adhoc")
	etlDefinition(t, c)
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "report", "type": "bash", "script": "echo hi"}).id(t)
	ctx := context.Background()

	submit := func(name, def, queue string) domain.Job {
		body := map[string]any{"name": name, "job_definition": def, "job_queue": queue}
		if def == "etl" {
			body = etlJob(body)
			body["job_definition"] = def
		}
		r := c.do(http.MethodPost, "/v1/jobs", body)
		require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
		var j domain.Job
		r.decode(t, &j)
		return j
	}
	var all []domain.Job
	for i := range 3 {
		all = append(all, submit(fmt.Sprintf("nightly-%d", i), "etl", "etl"))
	}
	mid := time.Now()
	time.Sleep(10 * time.Millisecond)
	all = append(all, submit("report-1", "report", "adhoc"), submit("nightly-9", "etl", "adhoc"))
	require.NoError(t, a.st.SetJobRunState(ctx, all[1].CurrentRunID, domain.JobRunning, "container started", store.RunFields{}))
	require.NoError(t, a.st.SetJobRunState(ctx, all[3].CurrentRunID, domain.JobFailed, "exited 1", store.RunFields{}))

	jobName := func(j domain.Job) string { return j.Name }
	list := func(query string) []string {
		t.Helper()
		return itemKeys(getData[domain.Page[domain.Job]](t, c, "/v1/jobs?"+query).Items, jobName)
	}
	assert.Equal(t, []string{"nightly-9", "report-1", "nightly-2", "nightly-1", "nightly-0"}, list(""), "newest first")
	assert.Equal(t, []string{"nightly-2", "nightly-1", "nightly-0"}, list("job_queue_id="+etlQueue))
	assert.Equal(t, []string{"report-1", "nightly-1"}, list("state=running,failed"))
	assert.Equal(t, []string{"nightly-9", "nightly-2", "nightly-0"}, list("state=submitted"))
	assert.Equal(t, []string{"report-1"}, list("job_definition=report"))
	assert.Equal(t, []string{"nightly-9", "nightly-2", "nightly-1", "nightly-0"}, list("job_definition=etl:1"))
	assert.Equal(t, []string{}, list("job_definition=etl:2"))
	assert.Equal(t, []string{"nightly-9", "nightly-2", "nightly-1", "nightly-0"}, list("name_prefix=nightly-"))
	assert.Equal(t, []string{"nightly-9", "report-1"}, list("created_after="+url.QueryEscape(mid.Format(time.RFC3339Nano))))
	assert.Equal(t, []string{"nightly-2", "nightly-1", "nightly-0"}, list("created_before="+url.QueryEscape(mid.Format(time.RFC3339Nano))))
	assert.Equal(t, []string{"nightly-9"}, list("name_prefix=nightly&state=submitted&created_after="+url.QueryEscape(mid.Format(time.RFC3339Nano))))
	assert.Equal(t, []string{}, list("job_queue_id=0190a5c2-0000-7000-8000-000000000000"))

	assertPaginates(t, c, paging[domain.Job]{path: "/v1/jobs", limit: 2, pages: 3, want: list(""), order: "the pages hold the list, newest first",
		key: jobName, refused: map[string]string{
			"state=done":              `state: "done" is not a job state`,
			"job_queue_id=etl":        `job_queue_id: "etl" is not a job queue id`,
			"created_after=yesterday": `created_after: "yesterday" is not an RFC 3339 time`,
			"limit=0":                 "limit:",
			"next_token=zzz":          "next_token:",
		}})
}

// Temporal down: the submission answers 503 and writes nothing; a cancel
// answers 503 and changes nothing.
func TestJobSubmitWritesNothingWhenTemporalIsDown(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).
		Return(nil, serviceerror.NewUnavailable("connection refused"))
	tc.On("SignalWorkflow", mock.Anything, mock.Anything, "", contract.SignalJobCancel, mock.Anything).
		Return(serviceerror.NewUnavailable("connection refused"))
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	for _, p := range []struct {
		path string
		body map[string]any
	}{{"/v1/jobs", etlJob(nil)}, {"/v1/client/job", etlJob(map[string]any{"job_definition": "acme::etl", "job_queue": "acme::etl"})}} {
		r := c.do(http.MethodPost, p.path, p.body)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
		assert.Equal(t, "cannot start the job's workflow: Temporal did not answer; nothing was submitted, try again (GET /readyz shows what is down)", r.Message)
		assert.Equal(t, [3]int{0, 0, 0}, jobRows(a))
	}

	// A job written while Temporal answered, then a cancel while it does not.
	j, err := a.st.SubmitJob(context.Background(), c.project.ID, domain.SubmitJob{DefinitionName: "etl", QueueName: "etl",
		Parameters: map[string]string{"day": "d"}}, func(string, string) error { return nil })
	require.NoError(t, err)
	r := c.do(http.MethodPost, "/v1/jobs/"+j.ID+"/cancel", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "cannot reach the job's workflow: Temporal did not answer; the job is unchanged, try again", r.Message)
	assert.Equal(t, domain.JobSubmitted, getJob(t, c, j.ID).State)

	// A server without Temporal at all says so, after the request's own checks.
	noTemporal := newAPI(t)
	nc := noTemporal.newProject("acme")
	readyQueue(t, nc, "etl")
	etlDefinition(t, nc)
	r = nc.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"job_queue": "nope"}))
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	r = nc.do(http.MethodPost, "/v1/jobs", etlJob(nil))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "cannot start the job's workflow: Temporal is not configured on this server", r.Message)
	assert.Equal(t, [3]int{0, 0, 0}, jobRows(noTemporal))
}

// The start carries IDs only, on the configured control queue, and may
// follow a closed run of the same ID but never a running one.
func TestJobWorkflowStartOptions(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(&mocks.WorkflowRun{}, nil).Once()
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	j := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"container_env": map[string]any{"K": map[string]any{"value": "v-secret", "sensitive": true}}}))
	require.Equal(t, http.StatusAccepted, j.Status, j.Raw)
	var job domain.Job
	j.decode(t, &job)

	require.Len(t, tc.Calls, 1)
	opts := tc.Calls[0].Arguments.Get(1).(temporalclient.StartWorkflowOptions)
	input := tc.Calls[0].Arguments.Get(3).(contract.JobWorkflowInput)
	assert.Equal(t, "job/"+job.ID, opts.ID)
	assert.Equal(t, contract.ControlTaskQueue, opts.TaskQueue)
	assert.Equal(t, enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, opts.WorkflowIDReusePolicy)
	assert.True(t, opts.WorkflowExecutionErrorWhenAlreadyStarted, "a running run is never silently reused")
	assert.Equal(t, 3, opts.TypedSearchAttributes.Size())
	assert.Equal(t, contract.JobWorkflowInput{JobID: job.ID, RunID: job.CurrentRunID, ProjectID: c.project.ID}, input)
	assert.NotContains(t, fmt.Sprintf("%+v %+v", opts, input), "v-secret")
}
