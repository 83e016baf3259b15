package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"daestro/internal/config"
	"daestro/internal/contract"
	"daestro/internal/temporalx"
	"daestro/internal/testenv"
	"daestro/workflows"
)

// EnvRecordHistories names the directory TestRecordHistories writes the
// recorded workflow histories to (`make record-histories` sets it to
// workflows/testdata/histories); without it the test is skipped.
const EnvRecordHistories = "DAESTRO_RECORD_HISTORIES"

// recordNamespace is the Temporal namespace histories are recorded in: a
// namespace of its own, so that no other checkout's worker polling
// daestro-control on a shared test server takes (and records) a task with
// code of its own.
const recordNamespace = "daestro-record"

// TestRecordHistories runs every workflow of daestro through the real system
// (server, worker, an agent container, a localdocker machine) in every
// outcome the replay tests cover, and writes each one's history as JSON
// into $DAESTRO_RECORD_HISTORIES. workflows/replay_test.go replays them
// against the current code.
func TestRecordHistories(t *testing.T) {
	dir := os.Getenv(EnvRecordHistories)
	if dir == "" {
		t.Skipf("set %s to a directory (make record-histories) to record workflow histories", EnvRecordHistories)
	}
	image := agentTestImage(t)
	ensureNamespace(t, recordNamespace)
	t.Setenv(config.EnvTemporalNamespace, recordNamespace)
	t.Setenv(config.EnvAgentImage, image)
	t.Setenv(config.EnvEnableLocalDocker, "true")
	tc := namespaceClient(t, recordNamespace) // first: it registers the search attributes the API's starts set
	s := startSystem(t)
	ctx := context.Background()
	rec := &recorder{t: t, tc: tc}

	ar := s.startAgent(image) // queue etl
	s.selfHostedQueue("empty", map[string]any{})
	s.localDockerQueue("cloud", "local-1c-512m", map[string]any{"max_spawns": 1, "max_idle_seconds": 0})
	registry := missingImageRegistry(t)
	for _, def := range []map[string]any{
		{"name": "exit", "command": []string{"sh", "-c", "echo hello; exit Param::code"}, "parameters": map[string]string{"code": "0"}},
		{"name": "sleeper", "command": []string{"sleep", "300"}},
		{"name": "slow", "command": []string{"sleep", "30"}, "timeout_seconds": 1},
		{"name": "absent", "command": []string{"true"}, "image": registry + "/daestro-test/absent:1"},
	} {
		def["type"] = "docker"
		if def["image"] == nil {
			def["image"] = testenv.TestImage()
		}
		def["cpu_quota_pct"], def["memory_mb"] = 10, 32
		status, body := s.call(http.MethodPost, "/v1/job-definitions", def)
		require.Equal(t, http.StatusCreated, status, body)
	}
	submit := func(def, queue string, extra map[string]any) string {
		body := map[string]any{"job_definition": "e2e::" + def, "job_queue": "e2e::" + queue}
		for k, v := range extra {
			body[k] = v
		}
		status, sub := s.call(http.MethodPost, "/v1/client/job", body)
		require.Equal(t, http.StatusAccepted, status, sub)
		return sub["id"].(string)
	}
	waitState := func(id, state string) {
		require.Eventually(t, func() bool {
			_, j := s.call(http.MethodGet, "/v1/client/job/"+id, nil)
			return j["state"] == state
		}, 90*time.Second, 100*time.Millisecond, "job %s never became %s", id, state)
	}
	cancel := func(id string) {
		status, body := s.call(http.MethodPost, "/v1/client/job/"+id+"/cancel", nil)
		require.Equal(t, http.StatusAccepted, status, body)
	}

	// The cloud machine takes longest: ask for it first.
	cloudJob := submit("exit", "cloud", nil)
	s.waitIdle(ar.spawnID)

	// JobWorkflow, one per outcome and phase.
	jobs := map[string]string{
		"job-completed":           submit("exit", "etl", nil),
		"job-completed-scheduled": submit("exit", "etl", map[string]any{"schedule_at": time.Now().Add(3 * time.Second).Format(time.RFC3339Nano)}),
		"job-failed":              submit("exit", "etl", map[string]any{"container_cmd_parameter": map[string]string{"code": "3"}}),
		"job-timeout":             submit("slow", "etl", nil),
		"job-error-image":         submit("absent", "etl", nil),
		"job-cancelled-pending":   submit("sleeper", "etl", map[string]any{"schedule_at": time.Now().Add(time.Hour).Unix()}),
		"job-cancelled-queued":    submit("sleeper", "empty", nil),
		"job-cancelled-running":   submit("sleeper", "etl", nil),
		"job-cancelled-operator":  submit("sleeper", "etl", nil),
		"job-cloud-completed":     cloudJob,
	}
	waitState(jobs["job-cancelled-pending"], "pending")
	cancel(jobs["job-cancelled-pending"])
	waitState(jobs["job-cancelled-queued"], "runnable")
	cancel(jobs["job-cancelled-queued"])
	s.waitRunning(jobs["job-cancelled-running"])
	cancel(jobs["job-cancelled-running"])
	s.waitRunning(jobs["job-cancelled-operator"])
	require.NoError(t, tc.CancelWorkflow(ctx, contract.JobWorkflowID(jobs["job-cancelled-operator"]), ""))
	want := map[string]string{
		"job-completed": "completed", "job-completed-scheduled": "completed", "job-failed": "failed", "job-timeout": "timeout",
		"job-error-image": "error", "job-cancelled-pending": "cancelled", "job-cancelled-queued": "cancelled",
		"job-cancelled-running": "cancelled", "job-cancelled-operator": "cancelled", "job-cloud-completed": "completed",
	}
	for name, id := range jobs {
		job := s.waitJob(id, 3*time.Minute)
		require.Equal(t, want[name], job["state"], "%s: %v", name, job)
		rec.closed(name, contract.JobWorkflowID(id))
	}

	// An array job of three, run to completion.
	status, arr := s.call(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "exit", "job_queue": "etl", "array_size": 3})
	require.Equal(t, http.StatusAccepted, status, arr)
	require.Equal(t, "completed", s.waitJob(arr["id"].(string), 3*time.Minute)["state"])
	rec.closed("array-completed", contract.JobWorkflowID(arr["id"].(string)))

	// A cron job's trigger, and the job it started as its child.
	status, cron := s.call(http.MethodPost, "/v1/cron-jobs", map[string]any{"name": "hourly", "expression": "0 0 * * * ?",
		"job_definition": "exit", "job_queue": "etl", "time_zone": "UTC"})
	require.Equal(t, http.StatusCreated, status, cron)
	cronID := cron["id"].(string)
	require.NoError(t, tc.ScheduleClient().GetHandle(ctx, contract.CronScheduleID(cronID)).Trigger(ctx, client.ScheduleTriggerOptions{}))
	var cronJob string
	require.Eventually(t, func() bool {
		_, c := s.call(http.MethodGet, "/v1/cron-jobs/"+cronID, nil)
		if last, ok := c["last_job"].(map[string]any); ok {
			cronJob, _ = last["id"].(string)
		}
		return cronJob != ""
	}, time.Minute, 250*time.Millisecond, "the trigger never started a job")
	require.Equal(t, "completed", s.waitJob(cronJob, 2*time.Minute)["state"])
	rec.closed("job-cron-child", contract.JobWorkflowID(cronJob))
	rec.closed("cron-trigger", rec.findOne(fmt.Sprintf("WorkflowType = '%s'", contract.CronTriggerWorkflowName), contract.CronScheduleID(cronID)))
	status, body := s.call(http.MethodDelete, "/v1/cron-jobs/"+cronID, nil)
	require.Equal(t, http.StatusOK, status, body)

	// A cron job whose calendars hold only for a while (Santiago skips
	// midnight at the start of daylight saving time) has a refresh
	// workflow; deleting the cron job ends it.
	status, cron = s.call(http.MethodPost, "/v1/cron-jobs", map[string]any{"name": "sundays", "expression": "0 0 9 ? * SUN",
		"job_definition": "exit", "job_queue": "etl", "time_zone": "America/Santiago"})
	require.Equal(t, http.StatusCreated, status, cron)
	refreshID := contract.CronRefreshWorkflowID(cron["id"].(string))
	_, err := tc.DescribeWorkflowExecution(ctx, refreshID, "")
	require.NoError(t, err, "a Santiago day-of-week cron job has a refresh workflow")
	status, body = s.call(http.MethodDelete, "/v1/cron-jobs/"+cron["id"].(string), nil)
	require.Equal(t, http.StatusOK, status, body)
	rec.closed("cron-refresh", refreshID)

	// SpawnWorkflow: the cloud machine ends by its idle timer, the
	// self-hosted spawn by the API's terminate.
	cloudSpawns := s.spawns(s.queueID("cloud"))
	require.Len(t, cloudSpawns, 1)
	rec.closed("spawn-cloud", contract.SpawnWorkflowID(cloudSpawns[0]["id"].(string)))
	status, body = s.call(http.MethodPost, "/v1/compute-spawns/"+ar.spawnID+"/terminate", nil)
	require.Equal(t, http.StatusAccepted, status, body)
	rec.closed("spawn-selfhosted", contract.SpawnWorkflowID(ar.spawnID))

	// ReconcileWorkflow and the health check, as the schedule and
	// `daestro admin check` start them.
	reconcileID := "reconcile-" + testenv.RandomName("record")
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: reconcileID, TaskQueue: os.Getenv(config.EnvControlTaskQueue)},
		workflows.ReconcileWorkflow, workflows.ReconcileWorkflowInput{Grace: time.Millisecond})
	require.NoError(t, err)
	rec.closed("reconcile", run.GetID())
	healthID := workflows.HealthCheckWorkflowID(testenv.RandomName("record"))
	run, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: healthID, TaskQueue: os.Getenv(config.EnvControlTaskQueue)},
		workflows.HealthCheckWorkflow, workflows.HealthCheckWorkflowInput{Note: "record"})
	require.NoError(t, err)
	rec.closed("health-check", run.GetID())

	// RetentionWorkflow, as its schedule starts it but measured from a
	// month and a day ahead, so every run above is due: a few rows a batch.
	run, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.RetentionWorkflowID(testenv.RandomName("record")),
		TaskQueue: os.Getenv(config.EnvControlTaskQueue)},
		contract.RetentionWorkflowName, contract.RetentionWorkflowInput{Now: time.Now().Add(31 * 24 * time.Hour), BatchRows: 5})
	require.NoError(t, err)
	rec.closed("retention", run.GetID())

	// The dispatcher never ends by itself: its history up to now, ended by
	// a terminate, covers every round above.
	dispatcher := contract.DispatcherWorkflowID(s.projectID())
	require.NoError(t, tc.TerminateWorkflow(ctx, dispatcher, "", "recorded"))
	rec.closed("dispatcher", dispatcher)

	rec.write(dir)
}

// recorder collects closed workflows' histories.
type recorder struct {
	t  *testing.T
	tc client.Client
	// histories by file name (without .json).
	histories map[string]*historypb.History
}

// closed waits for the workflow's latest run to close and keeps its history as name.
func (r *recorder) closed(name, workflowID string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// A failed, cancelled or terminated workflow closed too: only a
	// timeout of this wait is a failure.
	if err := r.tc.GetWorkflow(ctx, workflowID, "").Get(ctx, nil); err != nil && ctx.Err() != nil {
		r.t.Fatalf("%s (%s) did not close: %v", name, workflowID, err)
	}
	h := &historypb.History{}
	it := r.tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(r.t, err, "history of %s", workflowID)
		h.Events = append(h.Events, ev)
	}
	require.NotEmpty(r.t, h.Events, "history of %s", workflowID)
	if r.histories == nil {
		r.histories = map[string]*historypb.History{}
	}
	r.histories[name] = h
}

// findOne returns the ID of the one workflow matching query whose ID starts with prefix.
func (r *recorder) findOne(query, prefix string) string {
	r.t.Helper()
	var id string
	require.Eventually(r.t, func() bool {
		resp, err := r.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return false
		}
		for _, e := range resp.GetExecutions() {
			if strings.HasPrefix(e.GetExecution().GetWorkflowId(), prefix) {
				id = e.GetExecution().GetWorkflowId()
				return true
			}
		}
		return false
	}, 30*time.Second, 500*time.Millisecond, "no workflow %q with ID prefix %s", query, prefix)
	return id
}

// write replaces the *.json files of dir with the recorded histories.
func (r *recorder) write(dir string) {
	r.t.Helper()
	require.NoError(r.t, os.MkdirAll(dir, 0o755))
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		require.NoError(r.t, os.Remove(f))
	}
	opts := temporalproto.CustomJSONMarshalOptions{Indent: "  "}
	for name, h := range r.histories {
		b, err := opts.Marshal(h)
		require.NoError(r.t, err)
		require.NoError(r.t, os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644))
	}
	r.t.Logf("wrote %d histories to %s", len(r.histories), dir)
}

// queueID is the ID of the project's queue of that name.
func (s *e2e) queueID(name string) string {
	status, page := s.call(http.MethodGet, "/v1/job-queues?limit=500", nil)
	require.Equal(s.t, http.StatusOK, status, page)
	for _, it := range page["items"].([]any) {
		if q := it.(map[string]any); q["name"] == name {
			return q["id"].(string)
		}
	}
	s.t.Fatalf("no queue %s", name)
	return ""
}

// ensureNamespace registers namespace on the test server unless it exists,
// and waits until it answers.
func ensureNamespace(t *testing.T, namespace string) {
	tc := testenv.Temporal(t)
	ctx := context.Background()
	_, err := tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		require.NoError(t, err, "register namespace %s", namespace)
	}
	require.Eventually(t, func() bool {
		_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "namespace %s never answered", namespace)
	if err == nil {
		time.Sleep(3 * time.Second) // a new namespace reaches every service's cache a moment later
	}
}

// namespaceClient is a client of the test server in namespace, with
// daestro's search attributes registered there.
func namespaceClient(t *testing.T, namespace string) client.Client {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := temporalx.Options{Address: testenv.TemporalAddress(), Namespace: namespace, Logger: testenv.Logger(t)}
	c, err := temporalx.Dial(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, temporalx.EnsureSearchAttributes(ctx, c, namespace))
	return c
}

// missingImageRegistry is a registry on loopback (which the engine reaches
// without TLS) that has no image at all: a pull from it fails at once as
// "manifest unknown", which the agent reports as a permanent image error.
func missingImageRegistry(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v2/" {
			_, _ = w.Write([]byte("{}"))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
