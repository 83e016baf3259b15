package apiserver

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"daestro/internal/agentapi"
	"daestro/internal/contract"
	"daestro/internal/domain"
)

const ctxAgent = "daestro.agent"

// Bounds of what an agent reports; generous, but a broken agent must not
// write megabytes into a spawn row.
const (
	maxAgentTextLen   = 255
	maxReportedRuns   = 10_000
	maxReportedRunLen = 128
)

// agentRoutes registers the endpoints the agent on a spawn calls. A ping of
// a terminated spawn is answered (terminate: true), because that is how a
// running agent learns it must stop; every other agent endpoint refuses
// such a token with 409.
func (s *Server) agentRoutes(e *gin.Engine) {
	e.POST(PathAgentRegister, s.requireAgentToken(agentRegistration), s.agentRegister)
	e.POST(PathAgentPing, s.requireAgentToken(agentAnswerEnded), s.agentPing)
}

// Which tokens the agent routes take.
var (
	// agentWork is a route a spawn told to stop may not use.
	agentWork = domain.AgentAccess{}
	// agentRegistration takes the bootstrap token.
	agentRegistration = domain.AgentAccess{Registering: true}
	// agentAnswerEnded is a route a terminating spawn still uses (pings, last output).
	agentAnswerEnded = domain.AgentAccess{AnswerEnded: true}
)

// requireAgentToken authenticates `Authorization: Bearer <agent token>` and
// scopes the request to the token's spawn, under the session's access rule
// (domain.AgentSession.Refusal). Every refusal says why.
func (s *Server) requireAgentToken(access domain.AgentAccess) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, err := bearer(c.GetHeader("Authorization"), "agent token", " (the agent reads it from "+agentapi.EnvAuthToken+")")
		if err != nil {
			writeError(c, err)
			return
		}
		sess, err := s.store.AuthenticateAgentToken(c.Request.Context(), token)
		if err != nil {
			if domain.SpawnStateIsFinal(sess.State) {
				c.Header(agentapi.HeaderSpawnEnded, sess.State)
			}
			writeError(c, err)
			return
		}
		if err := sess.Refusal(access); err != nil {
			writeError(c, err)
			return
		}
		c.Set(ctxAgent, sess)
		c.Set(ctxLogger, logger(c).With("spawn_id", sess.SpawnID, "agent_token", sess.TokenPrefix))
		c.Next()
	}
}

// agentSession returns the authenticated agent's session.
func agentSession(c *gin.Context) domain.AgentSession {
	return c.MustGet(ctxAgent).(domain.AgentSession)
}

// bindAgentJSON decodes an agent's request body. Unlike bindJSON it ignores
// unknown fields: an agent newer than the server may send more, and must
// still be able to register and ping.
func bindAgentJSON(c *gin.Context, v any) error { return bindAgentBody(c, v, maxBodyBytes) }

// agentRegister records who the agent is and tells it where to take work from.
func (s *Server) agentRegister(c *gin.Context) {
	var in agentapi.RegisterRequest
	if err := bindAgentJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if err := validateRegistration(in); err != nil {
		writeError(c, err)
		return
	}
	sess := agentSession(c)
	ctx := c.Request.Context()
	resp := agentapi.RegisterResponse{
		SpawnID:             sess.SpawnID,
		TaskQueue:           contract.SpawnTaskQueue(sess.SpawnID),
		Gateway:             agentapi.Gateway{Namespace: s.temporalNamespace()},
		PingIntervalSeconds: int(s.pingInterval.Seconds()),
		UsableCPUPct:        sess.UsableCPUPct,
		UsableMemoryMB:      sess.UsableMemoryMB,
	}
	// Recorded first: a failure there must not spend the bootstrap token.
	if err := s.store.RecordAgentRegistration(ctx, sess.SpawnID, in); err != nil {
		writeError(c, err)
		return
	}
	if sess.Bootstrap {
		credential, err := s.store.ExchangeBootstrapToken(ctx, sess)
		if err != nil {
			writeError(c, err)
			return
		}
		resp.Credential = credential
	}
	logger(c).Info("agent registered", "hostname", in.Hostname, "agent_version", in.AgentVersion, "exchanged_bootstrap_token", sess.Bootstrap)
	writeData(c, http.StatusOK, resp)
}

func validateRegistration(in agentapi.RegisterRequest) error {
	if err := validateAgentText("agent_version", in.AgentVersion); err != nil {
		return err
	}
	if err := validateAgentText("hostname", in.Hostname); err != nil {
		return err
	}
	if err := domain.CheckRange("host_cpu_pct", in.HostCPUPct, 1, math.MaxInt32); err != nil {
		return domain.Errorf(domain.EINVALID, "%s (100 per core)", domain.ErrorMessage(err))
	}
	return domain.CheckRange("host_memory_mb", in.HostMemoryMB, 1, math.MaxInt32)
}

func validateAgentText(field, v string) error {
	if len(v) > maxAgentTextLen {
		return domain.Errorf(domain.EINVALID, "%s: is %d bytes long; the limit is %d", field, len(v), maxAgentTextLen)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return domain.Errorf(domain.EINVALID, "%s: must not contain control characters", field)
	}
	return nil
}

// agentPing records the agent's liveness and capacity in Postgres and
// answers with the spawn's state. The spawn's workflow is signalled only
// when it waits for a ping (the first one, or one after the spawn went
// unreachable); every other ping stays out of Temporal's history.
func (s *Server) agentPing(c *gin.Context) {
	var in agentapi.PingRequest
	if err := bindAgentJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if err := validatePing(in); err != nil {
		writeError(c, err)
		return
	}
	ctx, sess := c.Request.Context(), agentSession(c)
	// A cloud spawn offers at most its instance type, whatever its agent
	// says: an agent is untrusted, and placement must not overbook a machine.
	if sess.InstanceVCPU != nil {
		in.CapacityCPUPct = min(in.CapacityCPUPct, *sess.InstanceVCPU*100)
	}
	if sess.InstanceMemoryMB != nil {
		in.CapacityMemoryMB = min(in.CapacityMemoryMB, *sess.InstanceMemoryMB)
	}
	res, err := s.store.RecordAgentPing(ctx, sess.SpawnID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	if res.Signal {
		s.signalPing(c, sess.SpawnID, in.AgentVersion)
	}
	writeData(c, http.StatusOK, agentapi.PingResponse{State: res.State, Terminate: domain.SpawnStopsAgent(res.State)})
}

// signalPing tells the spawn's workflow that the agent pings. A failure is
// not the agent's problem: the ping is recorded, and forgetting the signal
// makes the next ping try again.
func (s *Server) signalPing(c *gin.Context, spawnID, agentVersion string) {
	err := errors.New("no Temporal client is configured")
	if s.temporal != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), temporalCallTimeout)
		defer cancel()
		err = s.temporal.SignalWorkflow(ctx, contract.SpawnWorkflowID(spawnID), "", contract.SignalSpawnPing,
			contract.PingSignal{AgentVersion: agentVersion})
	}
	if err == nil {
		return
	}
	logger(c).Warn("cannot signal the spawn's workflow; the next ping retries", "error", err)
	if err := s.store.ForgetPingSignal(context.WithoutCancel(c.Request.Context()), spawnID); err != nil {
		logger(c).Error("forget ping signal", "error", err)
	}
}

func validatePing(in agentapi.PingRequest) error {
	if err := validateAgentText("agent_version", in.AgentVersion); err != nil {
		return err
	}
	if err := domain.CheckRange("capacity_cpu_pct", in.CapacityCPUPct, 0, math.MaxInt32); err != nil {
		return err
	}
	if err := domain.CheckRange("capacity_memory_mb", in.CapacityMemoryMB, 0, math.MaxInt32); err != nil {
		return err
	}
	if len(in.RunningRuns) > maxReportedRuns {
		return domain.Errorf(domain.EINVALID, "running_runs: lists %d runs; the limit is %d", len(in.RunningRuns), maxReportedRuns)
	}
	for i, r := range in.RunningRuns {
		if r == "" || len(r) > maxReportedRunLen || strings.IndexFunc(r, unicode.IsControl) >= 0 {
			return domain.Errorf(domain.EINVALID, "running_runs[%d]: %q is not a run ID", i, r)
		}
	}
	return nil
}
