// Package agentapi is the wire contract between the daestro server and the
// agent on a compute spawn: the HTTP paths, the environment variables of the
// agent container, and the request and response bodies. The agent imports
// this package and nothing of apiserver, so both sides compile against one
// definition. It imports nothing of daestro itself, to stay a leaf.
package agentapi

import (
	"fmt"
	"strings"
	"time"
)

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

// HeaderSpawnEnded is set on a 401 answer to a token whose spawn ended
// (terminated or failed), naming the state: the agent stops cleanly on it
// instead of exiting with an error.
const HeaderSpawnEnded = "X-Daestro-Spawn-Ended"

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
	// Credential is the agent's own token, returned once when the agent
	// registered with the spawn's one-time bootstrap token: the agent keeps
	// it in its state dir and uses it for every later call. Empty when the
	// agent registered with its credential already.
	Credential string `json:"credential,omitempty"`
	// TaskQueue is the spawn's own Temporal task queue ("spawn-<id>").
	TaskQueue string `json:"task_queue"`
	// Gateway is how the agent's worker reaches Temporal: through the
	// daestro server, never directly.
	Gateway Gateway `json:"gateway"`
	// PingIntervalSeconds is how often the agent pings; the spawn turns
	// unreachable after several minutes without a ping.
	PingIntervalSeconds int `json:"ping_interval_seconds"`
	// UsableCPUPct caps the CPU jobs may use, in percent of one core (100 =
	// one core, 400 = four; at least 10); nil means the whole machine.
	UsableCPUPct *int `json:"usable_cpu_pct"`
	// UsableMemoryMB caps the memory jobs may use; nil means all of it.
	UsableMemoryMB *int `json:"usable_memory_mb"`
}

// Gateway is the Temporal gateway the agent's worker dials: Temporal's
// WorkflowService over gRPC, served by the daestro server on the same host
// and port as the API (so over TLS exactly when the server URL is https),
// authenticated with the agent's credential as `authorization: Bearer`.
type Gateway struct {
	// Namespace is the namespace the worker names; the gateway forces it anyway.
	Namespace string `json:"namespace"`
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

// The activities the agent runs on its spawn's task queue, one job run in two
// steps, so that JobWorkflow learns when the container started and records
// `running` itself: StartJobActivity pulls the image and creates and starts
// the container (idempotent by run ID), WaitJobActivity follows it to its exit
// while shipping logs and metrics. JobWorkflow schedules them by name so the
// control plane never imports the agent.
const (
	StartJobActivity = "StartJob"
	WaitJobActivity  = "WaitJob"
)

// RunJobInput is StartJob's input: IDs only. The agent fetches the run's
// spec (env values, registry password) from the server with its own token,
// so no secret ever enters a Temporal payload.
type RunJobInput struct {
	// RunID is the job run to execute.
	RunID string
	// JobID is the run's job.
	JobID string
}

// StartJobResult is the run's container once it started.
type StartJobResult struct {
	// ContainerID is the engine's container.
	ContainerID string
	// ImageDigest identifies the exact image that runs.
	ImageDigest string
	// StartedAt is the engine's start time.
	StartedAt time.Time
}

// WaitJobInput is WaitJob's input: the run and the container StartJob
// started, which WaitJob never replaces (a container gone is an error, not a
// reason to start the job twice).
type WaitJobInput struct {
	RunID, JobID, ContainerID string
	// Stop stops the container first (SIGTERM, grace, SIGKILL): the job was
	// cancelled while it started.
	Stop bool
}

// RunJobResult is how a run's container ended: WaitJob's result, and the
// executor's own (executor.Result is this type), so it reaches the workflow
// without a copy.
type RunJobResult struct {
	// ContainerID is the container that ran.
	ContainerID string
	// ExitCode is the main process's exit status; -1 when it never started.
	ExitCode int
	// OOMKilled is the kernel's report that the container hit its memory
	// limit; exit code 137 alone only means SIGKILL.
	OOMKilled bool
	// TimedOut: the executor stopped the container at the execution timeout.
	TimedOut bool
	// Cancelled: the executor stopped the container because the run was
	// cancelled.
	Cancelled bool
	// ImageDigest pins what ran: "repo@sha256:…" for a registry image, the
	// local image ID "sha256:…" for an image that exists only on this engine.
	ImageDigest string
	// StartedAt and FinishedAt are the engine's times; zero when unknown.
	StartedAt, FinishedAt time.Time
	// SystemNote explains a failure to the user, e.g. "killed: out of memory
	// at 16 MB"; empty after a clean exit 0.
	SystemNote string
}

// Error types of StartJob and WaitJob that retrying cannot fix; the workflow does not retry them.
const (
	// ErrTypeInvalidJobSpec: the spec cannot run here (quota above the host, memory under 6 MB…).
	ErrTypeInvalidJobSpec = "InvalidJobSpec"
	// ErrTypeImage: the image does not exist or the registry refused the credentials.
	ErrTypeImage = "ImageUnavailable"
	// ErrTypeContainerGone: the run's container disappeared (removed by
	// hand): its exit status is lost, and starting another would run the job twice.
	ErrTypeContainerGone = "ContainerGone"
)

// PathRunSpec is a run's spec, under the agent's token. The server answers
// only for runs allocated to the token's spawn.
const PathRunSpec = "/v1/agent/runs/{run}/spec"

// RunPath fills a run path with the run's ID.
func RunPath(path, runID string) string { return strings.Replace(path, "{run}", runID, 1) }

// RunSpec is everything the agent needs to run one job run. It carries the
// secrets (env values, registry password) and so travels only over this
// authenticated HTTP call, never through Temporal.
type RunSpec struct {
	RunID, JobID, JobName, QueueName string
	// SpawnID is the compute spawn the run was placed on: the agent labels
	// the container with it.
	SpawnID string
	// Image is the image to run; for bash definitions the server's bash image.
	Image string
	// Registry is nil for anonymous pulls.
	Registry *RegistryCredentials `json:",omitempty"`
	// Command replaces the image's command (docker definitions).
	Command []string
	// Script is the bash script (bash definitions).
	Script string
	// Env is KEY=value: definition env, job overrides, then the injected DAESTRO_* variables.
	Env []string
	// CPUQuotaPct and MemoryMB are 0 when the job has no quotas.
	CPUQuotaPct, MemoryMB int
	Privileged            bool
	// TimeoutSeconds is the execution timeout (0 = none).
	TimeoutSeconds int
}

// RegistryCredentials authenticate an image pull.
type RegistryCredentials struct {
	ServerAddress, Username, Password string
}

// Paths the agent ships a run's output to, under its token (fill them with
// RunPath). The server takes output only for runs placed on the token's
// spawn and answers 404 for any other run.
const (
	PathRunLogs    = "/v1/agent/runs/{run}/logs"
	PathRunMetrics = "/v1/agent/runs/{run}/metrics"
)

// Bounds of one shipment. The executor batches far below them (500 lines,
// about 1 MiB); they exist so a broken agent cannot make the server buffer
// an unbounded body, and the agent's sink splits anything larger.
const (
	// MaxLogLines is the most lines one POST PathRunLogs carries.
	MaxLogLines = 5000
	// MaxLogTextBytes bounds the sum of the lines' text in one POST.
	MaxLogTextBytes = 4 << 20
	// MaxLogLineBytes bounds one line's text: the executor splits longer
	// lines into Partial pieces of this size.
	MaxLogLineBytes = 64 << 10
	// MaxLogBodyBytes bounds the request body: MaxLogTextBytes of text plus
	// room for JSON escaping and the other fields.
	MaxLogBodyBytes = 16 << 20
	// MaxMetricSamples is the most samples one POST PathRunMetrics carries.
	MaxMetricSamples = 5000
)

// Log streams of a container.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// LogLine is one line of a run's output as the agent ships it. It is the
// agent's side of the contract, kept apart from the user API's line
// (domain.LogLine) so that each may grow without breaking older agents.
type LogLine struct {
	// Seq numbers the run's lines from 1 without gaps; a resent line keeps
	// its Seq, which makes a resend harmless.
	Seq int64 `json:"seq"`
	// Stream is StreamStdout or StreamStderr.
	Stream string `json:"stream"`
	// Time is when the engine received the line.
	Time time.Time `json:"time"`
	// Text is the line without its newline, at most MaxLogLineBytes.
	Text string `json:"text"`
	// Partial means the line goes on in the next line of the same stream.
	Partial bool `json:"partial"`
}

// LogsRequest is the body of POST PathRunLogs: lines in Seq order. An empty
// list only asks for the acknowledgement.
type LogsRequest struct {
	// Lines are the batch.
	Lines []LogLine `json:"lines"`
}

// LogsResponse acknowledges stored lines.
type LogsResponse struct {
	// AckedSeq is the highest N such that lines 1..N of the run are all
	// stored: what the agent may forget. Lines above a gap are kept but not
	// acknowledged until the gap is filled.
	AckedSeq int64 `json:"acked_seq"`
}

// MetricSample is one CPU/memory sample of a run's container.
type MetricSample struct {
	// Time is when the engine took the sample; a resent sample keeps it,
	// which makes a resend harmless.
	Time time.Time `json:"time"`
	// CPUPct is CPU use over the last interval, 100 = one core.
	CPUPct float64 `json:"cpu_pct"`
	// MemoryBytes is memory in use without the page cache.
	MemoryBytes int64 `json:"memory_bytes"`
}

// MetricsRequest is the body of POST PathRunMetrics.
type MetricsRequest struct {
	// Samples are the batch, in any order.
	Samples []MetricSample `json:"samples"`
}

// MetricsResponse acknowledges a batch of samples.
type MetricsResponse struct {
	// Stored is how many samples were new; resent ones are not counted.
	Stored int `json:"stored"`
}

// Validate checks a batch against the bounds of one shipment; the server
// refuses a batch that breaks them (400 with this sentence).
func (in LogsRequest) Validate() error {
	if in.Lines == nil {
		return fmt.Errorf("lines: is required (an array of log lines; an empty one asks only for the acknowledgement)")
	}
	if len(in.Lines) > MaxLogLines {
		return fmt.Errorf("lines: a batch of %d lines; the limit is %d: ship them in smaller batches", len(in.Lines), MaxLogLines)
	}
	total := 0
	for i, l := range in.Lines {
		switch {
		case l.Seq < 1:
			return fmt.Errorf("lines[%d].seq: is %d; lines are numbered from 1", i, l.Seq)
		case l.Stream != StreamStdout && l.Stream != StreamStderr:
			return fmt.Errorf("lines[%d].stream: %q is not a stream: use %s or %s", i, l.Stream, StreamStdout, StreamStderr)
		case l.Time.IsZero():
			return fmt.Errorf("lines[%d].time: is required (RFC 3339)", i)
		case len(l.Text) > MaxLogLineBytes:
			return fmt.Errorf("lines[%d].text: is %d bytes long; the limit is %d: split it into partial lines", i, len(l.Text), MaxLogLineBytes)
		}
		total += len(l.Text)
	}
	if total > MaxLogTextBytes {
		return fmt.Errorf("lines: the batch carries %d bytes of text; the limit is %d: ship them in smaller batches", total, MaxLogTextBytes)
	}
	return nil
}

// Validate checks a batch of samples; the server refuses one that breaks it.
func (in MetricsRequest) Validate() error {
	if in.Samples == nil {
		return fmt.Errorf("samples: is required (an array of samples)")
	}
	if len(in.Samples) > MaxMetricSamples {
		return fmt.Errorf("samples: a batch of %d samples; the limit is %d: ship them in smaller batches", len(in.Samples), MaxMetricSamples)
	}
	for i, m := range in.Samples {
		switch {
		case m.Time.IsZero():
			return fmt.Errorf("samples[%d].time: is required (RFC 3339)", i)
		case m.CPUPct < 0:
			return fmt.Errorf("samples[%d].cpu_pct: is %g; it cannot be negative", i, m.CPUPct)
		case m.MemoryBytes < 0:
			return fmt.Errorf("samples[%d].memory_bytes: is %d; it cannot be negative", i, m.MemoryBytes)
		}
	}
	return nil
}
