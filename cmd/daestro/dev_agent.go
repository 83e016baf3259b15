package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"daestro/agent"
)

// Names of what `daestro dev` sets up for its local agent.
const (
	devComputeEnv = "local"
	devJobQueue   = "default"
)

// devAPI calls the dev server's own API with the bootstrap key: the local
// agent is set up exactly as a user would set up a self-hosted machine.
type devAPI struct {
	baseURL, key string
}

func (d devAPI) call(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.baseURL+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var env struct {
		OK      bool            `json:"ok"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if !env.OK {
		return resp.StatusCode, fmt.Errorf("%s %s: %s", method, path, env.Message)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(env.Data, out)
	}
	return resp.StatusCode, nil
}

type named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// findOrCreate returns the ID of the resource called name under path, creating it with body.
func (d devAPI) findOrCreate(ctx context.Context, path, name string, body map[string]any) (string, bool, error) {
	var page struct{ Items []named }
	if _, err := d.call(ctx, http.MethodGet, path+"?limit=500", nil, &page); err != nil {
		return "", false, err
	}
	for _, it := range page.Items {
		if it.Name == name {
			return it.ID, false, nil
		}
	}
	var created named
	_, err := d.call(ctx, http.MethodPost, path, body, &created)
	return created.ID, true, err
}

// devSpawn is the local agent's spawn, kept in the dev state dir so a
// restart reuses it instead of piling up spawns.
type devSpawn struct {
	SpawnID string `json:"spawn_id"`
	Token   string `json:"agent_token"`
}

// setUpLocalAgent makes sure the dev project has a self-hosted compute env
// "local" in an enabled queue "default" and a live spawn for this machine,
// and returns the agent's token.
func setUpLocalAgent(ctx context.Context, api devAPI, dir string) (devSpawn, error) {
	envID, _, err := api.findOrCreate(ctx, "/v1/compute-envs", devComputeEnv, map[string]any{"name": devComputeEnv, "kind": "selfhosted"})
	if err != nil {
		return devSpawn{}, err
	}
	queueID, createdQueue, err := api.findOrCreate(ctx, "/v1/job-queues", devJobQueue, map[string]any{
		"name": devJobQueue, "priority": 100, "description": "created by daestro dev for the local agent"})
	if err != nil {
		return devSpawn{}, err
	}
	if createdQueue {
		if _, err := api.call(ctx, http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": envID}, nil); err != nil {
			return devSpawn{}, err
		}
		if _, err := api.call(ctx, http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": true}, nil); err != nil {
			return devSpawn{}, err
		}
	}

	path := filepath.Join(dir, "dev-agent.json")
	var saved devSpawn
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &saved) == nil && saved.SpawnID != "" {
		var sp struct{ State string }
		if _, err := api.call(ctx, http.MethodGet, "/v1/compute-spawns/"+saved.SpawnID, nil, &sp); err == nil &&
			sp.State != "terminated" && sp.State != "terminating" && sp.State != "failed" {
			return saved, nil
		}
	}
	var created struct {
		Spawn      named  `json:"spawn"`
		AgentToken string `json:"agent_token"`
	}
	if _, err := api.call(ctx, http.MethodPost, "/v1/compute-spawns", map[string]any{"compute_env_id": envID, "job_queue_id": queueID}, &created); err != nil {
		return devSpawn{}, err
	}
	saved = devSpawn{SpawnID: created.Spawn.ID, Token: created.AgentToken}
	b, _ := json.Marshal(saved)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return devSpawn{}, fmt.Errorf("write %s: %w", path, err)
	}
	return saved, nil
}

// runLocalAgent runs the agent of the dev spawn in this process until ctx
// ends. Without a Docker engine the system still runs; jobs just have no
// machine to run on, and the log says why.
func runLocalAgent(ctx context.Context, log *slog.Logger, serverURL, dir string, sp devSpawn) error {
	docker, err := agent.NewDocker()
	if err == nil {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = docker.Ping(pingCtx)
		cancel()
	}
	if err != nil {
		log.Warn("no local agent: jobs need a Docker engine to run on", "error", err)
		return nil
	}
	defer docker.Close()
	cfg := agent.Config{AuthToken: sp.Token, ServerURL: serverURL, StateDir: filepath.Join(dir, "agent")}
	err = agent.New(cfg, log.With("component", "local-agent"), docker).Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
		log.Error("local agent stopped", "error", err)
		if strings.Contains(err.Error(), "rejected") {
			_ = os.Remove(filepath.Join(dir, "dev-agent.json")) // the next start makes a new spawn
		}
	}
	return nil
}
