package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"daestro/internal/agentapi"
)

// ErrRejected marks an answer that retrying cannot change: a bad, revoked or
// terminated spawn's token. The agent exits non-zero on it.
var ErrRejected = errors.New("rejected by the server")

// ErrSpawnEnded marks a rejection because the agent's spawn was terminated
// (or failed): the agent's work is over and it stops cleanly. It wraps ErrRejected.
var ErrSpawnEnded = fmt.Errorf("%w: the compute spawn ended", ErrRejected)

// serverClient speaks the agent endpoints of the daestro API.
type serverClient struct {
	baseURL string
	http    *http.Client
	// token is the bootstrap token until registration exchanges it, then
	// the agent's credential.
	mu    sync.Mutex
	token string
}

func newServerClient(baseURL, token string, tlsConfig *tls.Config) *serverClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	return &serverClient{baseURL: baseURL, token: token, http: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// currentToken is the token the agent authenticates with now.
func (c *serverClient) currentToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// useToken switches to the agent's credential.
func (c *serverClient) useToken(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = token
}

// envelope is the API's response shape.
type envelope struct {
	OK      bool            `json:"ok"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// post sends in as JSON to path and decodes the envelope's data into out.
func (c *serverClient) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

// do sends req with the agent's token and decodes the envelope's data into
// out. 401, 403, 404 and 409 wrap ErrRejected; anything else is transient.
func (c *serverClient) do(req *http.Request, out any) error {
	req.Header.Set("Authorization", "Bearer "+c.currentToken())
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("daestro server at %s: %w", c.baseURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("daestro server at %s: %w", c.baseURL, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("daestro server at %s answered %d without the JSON envelope (is %s the daestro API?)", c.baseURL, resp.StatusCode, c.baseURL)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && resp.Header.Get(agentapi.HeaderSpawnEnded) != "":
		return fmt.Errorf("%w: %s", ErrSpawnEnded, env.Message)
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusConflict:
		return fmt.Errorf("%w: %s", ErrRejected, env.Message)
	case resp.StatusCode >= 300 || !env.OK:
		return fmt.Errorf("daestro server answered %d: %s", resp.StatusCode, env.Message)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Data, out)
}

func (c *serverClient) register(ctx context.Context, in agentapi.RegisterRequest) (agentapi.RegisterResponse, error) {
	var out agentapi.RegisterResponse
	err := c.post(ctx, agentapi.PathRegister, in, &out)
	return out, err
}

func (c *serverClient) ping(ctx context.Context, in agentapi.PingRequest) (agentapi.PingResponse, error) {
	var out agentapi.PingResponse
	err := c.post(ctx, agentapi.PathPing, in, &out)
	return out, err
}

func (c *serverClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

func (c *serverClient) runSpec(ctx context.Context, runID string) (agentapi.RunSpec, error) {
	var out agentapi.RunSpec
	err := c.get(ctx, agentapi.RunPath(agentapi.PathRunSpec, runID), &out)
	return out, err
}
