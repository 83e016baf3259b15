package apiserver_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	temporalclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"

	"daestro/apiserver"
	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/temporalx"
	"daestro/internal/testenv"
)

// gatewayAPI is the API served as `daestro server` serves it (HTTP/2 on the
// same port for the gateway), with the real Temporal behind it.
type gatewayAPI struct {
	*api
	addr string
}

func serveGatewayAPI(t *testing.T) gatewayAPI {
	t.Helper()
	st := newTestStore(t)
	tc := testenv.Temporal(t)
	srv := apiserver.New(apiserver.Options{Store: st, Temporal: tc, Logger: testenv.Logger(t), Clouds: catalogClouds(), TemporalNamespace: "default"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 5*time.Second) }()
	t.Cleanup(func() { stop(); <-done })
	return gatewayAPI{api: &api{t: t, url: "http://" + ln.Addr().String(), st: st, temporal: tc}, addr: ln.Addr().String()}
}

// gatewayAgent is what an agent holds after registering: its spawn, its
// credential, and a Temporal client dialled at the gateway exactly as the
// agent dials it.
type gatewayAgent struct {
	spawnID, credential, taskQueue string
	client                         temporalclient.Client
}

// newGatewayAgent creates a self-hosted spawn in c's project, registers its
// agent over HTTP and dials the gateway with what the registration returned.
func (g gatewayAPI) newGatewayAgent(t *testing.T, c client, name string) gatewayAgent {
	t.Helper()
	queueID, envID := selfHostedQueue(t, c, name)
	spawnID, bootstrap := newSpawnToken(t, c, queueID, envID)
	r := g.agent(bootstrap).do(http.MethodPost, agentapi.PathRegister, register)
	reg := dataOf[agentapi.RegisterResponse](t, r, http.StatusOK)
	require.NotEmpty(t, reg.Credential)
	assert.NotContains(t, r.Raw, testenv.TemporalAddress(), "registration never names Temporal's address")
	return gatewayAgent{spawnID: spawnID, credential: reg.Credential, taskQueue: reg.TaskQueue,
		client: dialGateway(t, g.addr, reg.Gateway.Namespace, reg.Credential)}
}

func dialGateway(t *testing.T, addr, namespace, token string) temporalclient.Client {
	t.Helper()
	o := temporalx.Options{Address: addr, Namespace: namespace, Logger: testenv.Logger(t)}
	o.Base.Credentials = temporalclient.NewAPIKeyStaticCredentials(token)
	o.Base.ConnectionOptions.TLSDisabled = true
	c, err := temporalx.NewLazyClient(o)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newSpawnToken creates a self-hosted spawn through the store (the API would
// start its workflow) and returns its bootstrap token.
func newSpawnToken(t *testing.T, c client, queueID, envID string) (string, string) {
	t.Helper()
	sp, token, err := c.a.st.CreateSelfHostedSpawn(context.Background(), c.project.ID,
		domain.ComputeSpawnInput{ComputeEnvID: envID, JobQueueID: queueID},
		func(context.Context, domain.ComputeSpawn) error { return nil })
	require.NoError(t, err)
	return sp.ID, token
}

// runOnSpawnWorkflow schedules one WaitJob activity on a spawn's task queue
// and returns what it returned: a stand-in for JobWorkflow.
func runOnSpawnWorkflow(ctx workflow.Context, queue string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: queue, StartToCloseTimeout: time.Minute,
		HeartbeatTimeout: time.Minute})
	var out string
	err := workflow.ExecuteActivity(ctx, agentapi.WaitJobActivity, agentapi.RunJobInput{RunID: "r", JobID: "j"}).Get(ctx, &out)
	return out, err
}

func requireCode(t *testing.T, want codes.Code, err error, what string) {
	t.Helper()
	require.Error(t, err, what)
	// The SDK turns gRPC statuses into serviceerror types.
	assert.Equal(t, want, serviceerror.ToStatus(err).Code(), "%s: %v", what, err)
}

// With exactly what registration returns, an agent can poll its own task
// queue and answer its own tasks through the gateway, and nothing else:
// not list, signal, terminate or start workflows, not poll another spawn's
// queue or the control queue, not answer another agent's task.
func TestTemporalGatewayConfinesAnAgentToItsOwnQueue(t *testing.T) {
	t.Parallel()
	g := serveGatewayAPI(t)
	alpha, beta := g.newProject("alpha"), g.newProject("beta")
	agentA := g.newGatewayAgent(t, alpha, "etl")
	agentB := g.newGatewayAgent(t, beta, "etl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The victim: a workflow of project beta whose activity waits on beta's spawn queue.
	tc := g.temporal
	wfQueue := testenv.TaskQueue(t)
	w := sdkworker.New(tc, wfQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(runOnSpawnWorkflow, workflow.RegisterOptions{Name: "GatewayVictim"})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	victimID := "job/" + agentB.spawnID
	run, err := tc.ExecuteWorkflow(ctx, temporalclient.StartWorkflowOptions{ID: victimID, TaskQueue: wfQueue}, "GatewayVictim", agentB.taskQueue)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tc.TerminateWorkflow(context.Background(), victimID, "", "test over") })

	// Agent A against everything that is not its own.
	_, err = agentA.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{})
	requireCode(t, codes.PermissionDenied, err, "list workflows")
	assert.Contains(t, err.Error(), "the daestro agent gateway serves only what the worker of task queue "+agentA.taskQueue+" needs")
	requireCode(t, codes.PermissionDenied, agentA.client.SignalWorkflow(ctx, victimID, "", "assigned", map[string]string{"SpawnID": agentA.spawnID}), "signal")
	requireCode(t, codes.PermissionDenied, agentA.client.TerminateWorkflow(ctx, victimID, "", "gone"), "terminate")
	requireCode(t, codes.PermissionDenied, agentA.client.CancelWorkflow(ctx, victimID, ""), "cancel")
	_, err = agentA.client.ExecuteWorkflow(ctx, temporalclient.StartWorkflowOptions{ID: "evil", TaskQueue: contract.ControlTaskQueue}, "JobWorkflow")
	requireCode(t, codes.PermissionDenied, err, "start")
	_, err = agentA.client.DescribeWorkflowExecution(ctx, victimID, "")
	requireCode(t, codes.PermissionDenied, err, "describe")
	svcA := agentA.client.WorkflowService()
	for _, q := range []string{agentB.taskQueue, contract.ControlTaskQueue, wfQueue} {
		_, err = svcA.PollActivityTaskQueue(ctx, &workflowservice.PollActivityTaskQueueRequest{Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: q}})
		requireCode(t, codes.PermissionDenied, err, "poll activities of "+q)
		assert.Contains(t, err.Error(), "this agent may poll only its spawn's task queue "+agentA.taskQueue)
	}
	_, err = svcA.PollWorkflowTaskQueue(ctx, &workflowservice.PollWorkflowTaskQueueRequest{Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: contract.ControlTaskQueue}})
	requireCode(t, codes.PermissionDenied, err, "poll workflow tasks")
	_, err = svcA.RespondActivityTaskCompletedById(ctx, &workflowservice.RespondActivityTaskCompletedByIdRequest{Namespace: "default", WorkflowId: victimID, ActivityId: "5"})
	requireCode(t, codes.PermissionDenied, err, "complete by ID")

	// Agent B polls its own queue (in another namespace's name: forced) and gets the victim's task.
	svcB := agentB.client.WorkflowService()
	var task *workflowservice.PollActivityTaskQueueResponse
	for task.GetTaskToken() == nil && ctx.Err() == nil {
		task, err = svcB.PollActivityTaskQueue(ctx, &workflowservice.PollActivityTaskQueueRequest{Namespace: "someone-else",
			TaskQueue: &taskqueuepb.TaskQueue{Name: agentB.taskQueue}, Identity: "agent-b"})
		require.NoError(t, err)
	}
	require.NotEmpty(t, task.GetTaskToken(), "an agent polls its own queue through the gateway")
	assert.Equal(t, agentapi.WaitJobActivity, task.GetActivityType().GetName())

	// A holds B's token (say it leaked): it can neither heartbeat nor answer it.
	_, err = svcA.RecordActivityTaskHeartbeat(ctx, &workflowservice.RecordActivityTaskHeartbeatRequest{Namespace: "default", TaskToken: task.TaskToken})
	requireCode(t, codes.PermissionDenied, err, "heartbeat another agent's task")
	assert.Contains(t, err.Error(), "this task token was not handed to compute spawn "+agentA.spawnID)
	_, err = svcA.RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{Namespace: "default", TaskToken: task.TaskToken,
		Result: payloads(t, "forged by A")})
	requireCode(t, codes.PermissionDenied, err, "complete another agent's task")
	_, err = svcA.RespondActivityTaskFailed(ctx, &workflowservice.RespondActivityTaskFailedRequest{Namespace: "default", TaskToken: task.TaskToken})
	requireCode(t, codes.PermissionDenied, err, "fail another agent's task")
	_, err = svcA.RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{Namespace: "default", TaskToken: []byte("made up")})
	requireCode(t, codes.PermissionDenied, err, "complete a made-up task")

	// B heartbeats and completes its own task; the workflow gets B's result, not A's.
	_, err = svcB.RecordActivityTaskHeartbeat(ctx, &workflowservice.RecordActivityTaskHeartbeatRequest{Namespace: "default", TaskToken: task.TaskToken})
	require.NoError(t, err, "an agent heartbeats its own task")
	_, err = svcB.RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{Namespace: "default", TaskToken: task.TaskToken,
		Result: payloads(t, "done by B"), Identity: "agent-b"})
	require.NoError(t, err, "an agent completes its own task")
	var out string
	require.NoError(t, run.Get(ctx, &out))
	assert.Equal(t, "done by B", out)
	_, err = svcB.RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{Namespace: "default", TaskToken: task.TaskToken,
		Result: payloads(t, "again")})
	requireCode(t, codes.PermissionDenied, err, "an answered token is forgotten")

	// No credential, a bootstrap token, a terminated spawn's credential: refused before anything.
	_, err = dialGateway(t, g.addr, "default", "").WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	requireCode(t, codes.Unauthenticated, err, "no credential")
	queueID, envID := selfHostedQueue(t, alpha, "spare")
	_, bootstrap := newSpawnToken(t, alpha, queueID, envID)
	_, err = dialGateway(t, g.addr, "default", bootstrap).WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	requireCode(t, codes.Unauthenticated, err, "bootstrap token")
	assert.Contains(t, err.Error(), "is a one-time bootstrap token: register first (POST /v1/agent/register)")
	setState(t, g.api, agentA.spawnID, domain.SpawnTerminated)
	_, err = svcA.GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	requireCode(t, codes.Unauthenticated, err, "terminated spawn")
	assert.Contains(t, err.Error(), "is terminated: its agent tokens no longer work")
	assert.Equal(t, 0, countWhere(g.api, `SELECT count(*) FROM agent_task_tokens`), "no task token is left on record")
}

func payloads(t *testing.T, v string) *commonpb.Payloads {
	t.Helper()
	out, err := converter.GetDefaultDataConverter().ToPayloads(v)
	require.NoError(t, err)
	return out
}
