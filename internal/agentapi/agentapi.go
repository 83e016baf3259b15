// Package agentapi is the wire contract between the daestro server and the
// agent on a compute spawn: the HTTP paths, the environment variables of the
// agent container, and the request and response bodies. The agent imports
// this package and nothing of apiserver, so both sides compile against one
// definition. It imports nothing of daestro itself, to stay a leaf.
package agentapi

import "strings"

// HTTP paths of the agent endpoints. They authenticate with
// `Authorization: Bearer <agent token>`, not with an API key.
const (
	PathRegister = "/v1/agent/register"
	PathPing     = "/v1/agent/ping"
)

// Environment variables the agent container is started with; the server's
// `docker run` line (DockerRun) sets both.
const (
	EnvAuthToken = "DAESTRO_AUTH_TOKEN"
	EnvServerURL = "DAESTRO_SERVER_URL"
)

// TokenPrefix starts every agent token ("dsa_<12 hex>_<secret>"), so a leaked
// token is recognisable and never mistaken for an API key ("dst_").
const TokenPrefix = "dsa_"

// Response is the envelope of every answer: {"ok":true,"data":…} or
// {"ok":false,"message":"…"}.
type Response[T any] struct {
	// OK is true on success.
	OK bool `json:"ok"`
	// Data is the answer when OK.
	Data T `json:"data"`
	// Message says what is wrong when not OK.
	Message string `json:"message"`
}

// RegisterRequest is the body of POST PathRegister, sent once when the agent starts.
type RegisterRequest struct {
	// AgentVersion is the agent's build version.
	AgentVersion string `json:"agent_version"`
	// Hostname is the machine's host name, shown on the spawn.
	Hostname string `json:"hostname"`
	// HostCPUPct is the host's CPU in percent of one core (8 cores = 800).
	HostCPUPct int `json:"host_cpu_pct"`
	// HostMemoryMB is the host's memory in MB.
	HostMemoryMB int `json:"host_memory_mb"`
}

// RegisterResponse tells the agent who it is and where to take work from.
type RegisterResponse struct {
	// SpawnID is the compute spawn the token belongs to.
	SpawnID string `json:"spawn_id"`
	// TaskQueue is the spawn's own Temporal task queue ("spawn-<id>").
	TaskQueue string `json:"task_queue"`
	// Temporal is how the agent reaches Temporal.
	Temporal Temporal `json:"temporal"`
	// PingIntervalSeconds is how often the agent pings; the spawn turns
	// unreachable after several minutes without a ping.
	PingIntervalSeconds int `json:"ping_interval_seconds"`
	// UsableCPUPct caps the share of the host's CPU jobs may use (10-100);
	// nil means all of it.
	UsableCPUPct *int `json:"usable_cpu_pct"`
	// UsableMemoryMB caps the memory jobs may use; nil means all of it.
	UsableMemoryMB *int `json:"usable_memory_mb"`
}

// Temporal is the connection the agent's worker dials.
type Temporal struct {
	// Address is the frontend host:port as the agent sees it.
	Address string `json:"address"`
	// Namespace is the namespace daestro's workflows live in.
	Namespace string `json:"namespace"`
	// TLS asks for a TLS connection (Temporal Cloud).
	TLS bool `json:"tls"`
	// APIKey authenticates to Temporal Cloud; empty for a self-hosted Temporal.
	APIKey string `json:"api_key"`
}

// PingRequest is the body of POST PathPing, sent every PingIntervalSeconds.
type PingRequest struct {
	// AgentVersion is the agent's build version (it may change across a restart).
	AgentVersion string `json:"agent_version"`
	// CapacityCPUPct is the CPU the agent offers jobs, in percent of one core,
	// already capped by the compute environment's usable share.
	CapacityCPUPct int `json:"capacity_cpu_pct"`
	// CapacityMemoryMB is the memory the agent offers jobs, in MB.
	CapacityMemoryMB int `json:"capacity_memory_mb"`
	// RunningRuns are the IDs of the job runs whose containers run now.
	RunningRuns []string `json:"running_runs"`
}

// PingResponse is the server's answer to a ping.
type PingResponse struct {
	// State is the spawn's state as the server records it.
	State string `json:"state"`
	// Terminate tells the agent to stop taking work and exit: the spawn was terminated.
	Terminate bool `json:"terminate"`
}

// DockerRun is the one command that starts an agent for a spawn on a
// machine with Docker: the token and the server URL are all it needs.
func DockerRun(token, serverURL, image string) string {
	return strings.Join([]string{
		"docker run -d --name daestro-agent",
		"-e " + EnvAuthToken + "=" + token,
		"-e " + EnvServerURL + "=" + serverURL,
		"-v /var/run/docker.sock:/var/run/docker.sock",
		"-v daestro_agent_data:/var/lib/daestro-agent",
		"--network host",
		image,
	}, " ")
}
