package apiserver

// HTTP paths are constants: they cross the process boundary (clients, agents,
// the OpenAPI document).
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathOpenAPI = "/v1/openapi.json"
)

// HeaderRequestID carries the request ID on every response (and is honoured when a client sends one).
const HeaderRequestID = "X-Request-ID"
