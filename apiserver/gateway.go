package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// The Temporal gateway (DESIGN.md §9). Agents are Temporal workers of their
// spawn's task queue, but they never reach Temporal: they speak Temporal's
// WorkflowService over gRPC to the daestro server, on the API's own port,
// with their agent credential as `authorization: Bearer`. The gateway
// authenticates every call, forces daestro's namespace and lets through only
// what an activity worker of that one queue needs; the rest answers
// PermissionDenied with a sentence. Task tokens it hands out are recorded in
// Postgres, bound to the spawn, so that every server replica can check that
// an answer (heartbeat, completed, failed, canceled) comes from the agent
// the task was given to.

// gateway is the gRPC side of the server.
type gateway struct {
	store     *store.Store
	namespace string
	log       *slog.Logger
	grpc      *grpc.Server
}

// newGateway serves Temporal's WorkflowService through go.temporal.io/api's
// proxy server, forwarding to upstream (the server's own Temporal client) behind
// the authorizing interceptor.
func newGateway(st *store.Store, upstream workflowservice.WorkflowServiceClient, namespace string, log *slog.Logger) (*gateway, error) {
	g := &gateway{store: st, namespace: namespace, log: log}
	// Header forwarding is off: the agent's credential must never reach
	// Temporal, and the server's own client adds what Temporal needs.
	svc, err := proxy.NewWorkflowServiceProxyServer(proxy.WorkflowServiceProxyOptions{Client: upstream, DisableHeaderForwarding: true})
	if err != nil {
		return nil, fmt.Errorf("temporal gateway: %w", err)
	}
	g.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(g.authorize), grpc.MaxRecvMsgSize(8<<20))
	workflowservice.RegisterWorkflowServiceServer(g.grpc, svc)
	return g, nil
}

// isGRPC reports whether r is a gRPC call (HTTP/2 with a gRPC content type).
func isGRPC(r *http.Request) bool {
	return r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// denied is the answer to anything outside an agent's rights.
func denied(format string, args ...any) error {
	return status.Errorf(codes.PermissionDenied, format, args...)
}

// authorize is the gateway's only door: authenticate, then allow-list by
// request type. Every allowed request has its namespace overwritten.
func (g *gateway) authorize(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	sess, err := g.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	queue := contract.SpawnTaskQueue(sess.SpawnID)
	switch r := req.(type) {
	case *workflowservice.GetSystemInfoRequest:
		return handler(ctx, r)
	case *workflowservice.DescribeNamespaceRequest:
		// The SDK checks at worker start that its namespace exists.
		r.Id = ""
		return handler(ctx, g.forceNamespace(r))
	case *workflowservice.PollActivityTaskQueueRequest:
		if r.GetTaskQueue().GetName() != queue || r.GetTaskQueue().GetKind() == enumspb.TASK_QUEUE_KIND_STICKY {
			return nil, denied("this agent may poll only its spawn's task queue %s, not %q", queue, r.GetTaskQueue().GetName())
		}
		resp, err := handler(ctx, g.forceNamespace(r))
		if err != nil {
			return resp, err
		}
		if token := resp.(*workflowservice.PollActivityTaskQueueResponse).GetTaskToken(); len(token) > 0 {
			// Recorded before the agent sees the task: an agent can only ever
			// answer a task whose token is on record for its spawn.
			if err := g.store.RecordTaskToken(context.WithoutCancel(ctx), sess.SpawnID, token); err != nil {
				g.log.Error("record an agent's task token; the task times out and is retried", "spawn_id", sess.SpawnID, "error", err)
				return nil, status.Error(codes.Unavailable, "the daestro server could not record the task; it will be offered again")
			}
		}
		return resp, nil
	case *workflowservice.RecordActivityTaskHeartbeatRequest:
		if err := g.ownTask(ctx, sess, r.GetTaskToken()); err != nil {
			return nil, err
		}
		return handler(ctx, g.forceNamespace(r))
	case *workflowservice.RespondActivityTaskCompletedRequest, *workflowservice.RespondActivityTaskFailedRequest,
		*workflowservice.RespondActivityTaskCanceledRequest:
		// The task's final answer (the by-ID variants are not allowed).
		answer := r.(taskAnswer)
		if err := g.ownTask(ctx, sess, answer.GetTaskToken()); err != nil {
			return nil, err
		}
		resp, err := handler(ctx, g.forceNamespace(answer))
		if code := status.Code(err); err == nil || code == codes.NotFound || code == codes.InvalidArgument {
			// Answered for good (or Temporal no longer knows the task): forget the token.
			if ferr := g.store.ForgetTaskToken(context.WithoutCancel(ctx), answer.GetTaskToken()); ferr != nil {
				g.log.Warn("forget an answered task token", "error", ferr)
			}
		}
		return resp, err
	case *workflowservice.ShutdownWorkerRequest:
		// Only sticky (workflow) queues need Temporal to hear of a shutdown;
		// an agent has none, so the gateway answers it itself.
		return &workflowservice.ShutdownWorkerResponse{}, nil
	case *workflowservice.RecordWorkerHeartbeatRequest:
		// Worker heartbeats describe the worker, not a task; the spawn's
		// liveness is its pings. Answered here, never forwarded.
		return &workflowservice.RecordWorkerHeartbeatResponse{}, nil
	}
	g.log.Warn("temporal gateway refused a call", "spawn_id", sess.SpawnID, "method", info.FullMethod)
	return nil, denied("the daestro agent gateway serves only what the worker of task queue %s needs (poll it, heartbeat and answer its own tasks); %s is not allowed",
		queue, info.FullMethod)
}

// authenticate resolves the call's agent credential under the agent routes'
// rule for work (agentWork): no bootstrap token, no spawn told to stop.
func (g *gateway) authenticate(ctx context.Context) (domain.AgentSession, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var header string
	if auth := md.Get("authorization"); len(auth) == 1 {
		header = auth[0]
	}
	token, err := bearer(header, "agent credential", " (the agent gets its credential when it registers)")
	if err != nil {
		return domain.AgentSession{}, grpcError(err)
	}
	sess, err := g.store.AuthenticateAgentToken(ctx, token)
	if err == nil {
		err = sess.Refusal(agentWork)
	}
	if err != nil && domain.ErrorCode(err) == domain.EINTERNAL {
		g.log.Error("authenticate an agent at the gateway", "error", err)
	}
	return sess, grpcError(err)
}

// grpcError maps a domain error to the gateway's status codes, as
// writeError maps it to HTTP statuses.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	switch domain.ErrorCode(err) {
	case domain.EUNAUTHORIZED:
		return status.Error(codes.Unauthenticated, domain.ErrorMessage(err))
	case domain.ECONFLICT:
		return status.Error(codes.PermissionDenied, domain.ErrorMessage(err))
	}
	return status.Error(codes.Unavailable, "the daestro server cannot check the credential right now; retry")
}

// ownTask checks that token was handed to the session's spawn.
func (g *gateway) ownTask(ctx context.Context, sess domain.AgentSession, token []byte) error {
	if len(token) == 0 {
		return status.Error(codes.InvalidArgument, "task_token is empty: answer a task with the token it came with")
	}
	ok, err := g.store.TaskTokenIssuedTo(ctx, sess.SpawnID, token)
	if err != nil {
		g.log.Error("check an agent's task token", "spawn_id", sess.SpawnID, "error", err)
		return status.Error(codes.Unavailable, "the daestro server cannot check the task right now; retry")
	}
	if !ok {
		return denied("this task token was not handed to compute spawn %s: an agent answers only the tasks it polled", sess.SpawnID)
	}
	return nil
}

// taskAnswer is a final answer to an activity task.
type taskAnswer interface {
	proto.Message
	GetTaskToken() []byte
}

// forceNamespace sets the request's namespace field to daestro's, whatever
// the agent named: every request the gateway forwards has one.
func (g *gateway) forceNamespace(m proto.Message) proto.Message {
	r := m.ProtoReflect()
	if fd := r.Descriptor().Fields().ByName("namespace"); fd != nil {
		r.Set(fd, protoreflect.ValueOfString(g.namespace))
	}
	return m
}
