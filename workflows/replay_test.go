package workflows_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"daestro/internal/contract"
	"daestro/internal/logging"
	"daestro/internal/testenv"
	"daestro/worker"
	"daestro/workflows"
)

// historiesDir holds histories recorded from the real system by
// `make record-histories` (cmd/daestro's TestRecordHistories), which
// rewrites its top-level files; histories of earlier releases, kept in its
// subdirectories, are replayed too.
const historiesDir = "testdata/histories"

// recordedHistories are the JSON files under historiesDir, each with the
// workflow type its first event names.
func recordedHistories(t *testing.T) map[string]string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(historiesDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in %s: run make record-histories", historiesDir)
	types := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		h, err := client.HistoryFromJSON(strings.NewReader(string(raw)), client.HistoryJSONOptions{})
		require.NoError(t, err, f)
		require.NotEmpty(t, h.Events, f)
		types[f] = h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
	}
	return types
}

// Every recorded history replays against today's workflow code, registered
// exactly as the control worker registers it: a change that would break a
// workflow running in production (a new, removed or reordered command
// without a workflow.GetVersion patch) fails here, with no service running.
func TestReplayRecordedHistories(t *testing.T) {
	replayer := sdkworker.NewWorkflowReplayer()
	worker.RegisterWorkflows(replayer)
	logger := temporalLogger(t)
	for file, typ := range recordedHistories(t) {
		t.Run(strings.TrimPrefix(file, historiesDir+"/"), func(t *testing.T) {
			assert.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(logger, file), "%s (%s) no longer replays: "+
				"guard the change with workflow.GetVersion (README, Upgrading workflows)", file, typ)
		})
	}
}

// Every workflow the control worker registers has at least one recorded
// history, so a new workflow cannot ship without its replay test.
func TestEveryWorkflowHasARecordedHistory(t *testing.T) {
	reg := &namesRegistry{}
	worker.RegisterWorkflows(reg)
	have := map[string]bool{}
	for _, typ := range recordedHistories(t) {
		have[typ] = true
	}
	sort.Strings(reg.names)
	for _, name := range reg.names {
		assert.True(t, have[name], "workflow %s has no recorded history in %s: add a scenario to TestRecordHistories and run make record-histories", name, historiesDir)
	}
}

// A change that is not guarded — here JobWorkflow calling an activity it
// never called before, first — is caught by the replay of a recorded job.
func TestReplayCatchesAnIncompatibleChange(t *testing.T) {
	replayer := sdkworker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(jobWorkflowWithANewFirstStep, workflow.RegisterOptions{Name: contract.JobWorkflowName})
	err := replayer.ReplayWorkflowHistoryFromJSONFile(temporalLogger(t), filepath.Join(historiesDir, "job-completed.json"))
	require.Error(t, err, "the changed workflow must not replay the recorded one")
	// TMPRL1100 is the SDK's code for non-determinism: the history and the code disagree.
	assert.Contains(t, err.Error(), "TMPRL1100", "the replayer reports non-determinism: %v", err)
}

// The same change behind a workflow.GetVersion patch replays: running
// workflows keep the old path, new ones take the new one.
func TestReplayAcceptsThePatchedChange(t *testing.T) {
	replayer := sdkworker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(jobWorkflowWithAPatchedFirstStep, workflow.RegisterOptions{Name: contract.JobWorkflowName})
	require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(temporalLogger(t), filepath.Join(historiesDir, "job-completed.json")))
}

// newFirstStep is the change both variants make: an activity the recorded
// histories never scheduled.
func newFirstStep(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	return workflow.ExecuteActivity(ctx, "AuditJobStart", "").Get(ctx, nil)
}

func jobWorkflowWithANewFirstStep(ctx workflow.Context, in contract.JobWorkflowInput) (contract.JobWorkflowResult, error) {
	if err := newFirstStep(ctx); err != nil {
		return contract.JobWorkflowResult{}, err
	}
	return workflows.JobWorkflow(ctx, in)
}

func jobWorkflowWithAPatchedFirstStep(ctx workflow.Context, in contract.JobWorkflowInput) (contract.JobWorkflowResult, error) {
	if workflow.GetVersion(ctx, "audit-job-start", workflow.DefaultVersion, 1) == 1 {
		if err := newFirstStep(ctx); err != nil {
			return contract.JobWorkflowResult{}, err
		}
	}
	return workflows.JobWorkflow(ctx, in)
}

// namesRegistry records the names workflows are registered under, as the
// SDK derives them.
type namesRegistry struct{ names []string }

func (r *namesRegistry) RegisterWorkflow(w any) {
	full := runtime.FuncForPC(reflect.ValueOf(w).Pointer()).Name()
	r.names = append(r.names, full[strings.LastIndex(full, ".")+1:])
}

func (r *namesRegistry) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	if o.Name == "" {
		r.RegisterWorkflow(w)
		return
	}
	r.names = append(r.names, o.Name)
}

func (r *namesRegistry) RegisterDynamicWorkflow(any, workflow.DynamicRegisterOptions) {}

var _ sdkworker.WorkflowRegistry = (*namesRegistry)(nil)

// temporalLogger sends the replayer's log lines to the test log.
func temporalLogger(t *testing.T) tlog.Logger { return logging.Temporal(testenv.Logger(t)) }
