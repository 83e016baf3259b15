package apiserver

import (
	"daestro/internal/agentapi"
	"daestro/internal/metrics"
)

// HTTP paths are constants: they cross the process boundary (clients, agents,
// the OpenAPI document).
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	// PathMetrics serves Prometheus metrics (loopback, or with the metrics token).
	PathMetrics = metrics.Path
	PathOpenAPI = "/v1/openapi.json"
	// PathAgentRegister and PathAgentPing are defined in internal/agentapi,
	// which the agent imports instead of this package.
	PathAgentRegister = agentapi.PathRegister
	PathAgentPing     = agentapi.PathPing
)

// HeaderRequestID carries the request ID on every response (and is honoured when a client sends one).
const HeaderRequestID = "X-Request-ID"
