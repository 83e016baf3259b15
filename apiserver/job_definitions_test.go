package apiserver_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/domain"
	"daestro/internal/secrets"
	"daestro/internal/testenv"
)

// jobDefView is a job definition as the API shows it. Env keeps each entry as
// a map so a test can see that a sensitive one has no "value" key at all.
type jobDefView struct {
	ID             string                    `json:"id"`
	Name           string                    `json:"name"`
	Version        int                       `json:"version"`
	Type           string                    `json:"type"`
	Image          string                    `json:"image"`
	RegistryAuthID *string                   `json:"registry_auth_id"`
	Script         string                    `json:"script"`
	Command        []string                  `json:"command"`
	Parameters     map[string]string         `json:"parameters"`
	Env            map[string]map[string]any `json:"env"`
	CPUQuotaPct    *int                      `json:"cpu_quota_pct"`
	MemoryMB       *int                      `json:"memory_mb"`
	Privileged     bool                      `json:"privileged"`
	TimeoutSeconds int                       `json:"timeout_seconds"`
}

func decodeJobDef(t *testing.T, r response) jobDefView {
	t.Helper()
	require.True(t, r.OK, "request failed: %d %s", r.Status, r.Raw)
	var d jobDefView
	r.decode(t, &d)
	return d
}

func decodeJobDefPage(t *testing.T, r response) (items []jobDefView, next string) {
	t.Helper()
	page := dataOf[domain.Page[jobDefView]](t, r, http.StatusOK)
	return page.Items, page.NextToken
}

func jobDefVersions(defs []jobDefView) []int {
	out := make([]int, len(defs))
	for i, d := range defs {
		out[i] = d.Version
	}
	return out
}

// dockerJobDef is a minimal valid docker definition body.
func dockerJobDef(name string) map[string]any {
	return map[string]any{"name": name, "type": "docker", "image": "python:3.12"}
}

// insertJobQueueRow adds a job queue row with SQL: queues have their own API,
// but the delete rules here only need a row for jobs to point at.
func insertJobQueueRow(t *testing.T, a *api, projectID, name string) string {
	t.Helper()
	var id string
	require.NoError(t, a.st.Pool.QueryRow(context.Background(),
		`INSERT INTO job_queues (id, project_id, name, priority) VALUES (gen_random_uuid(), $1, $2, 1) RETURNING id::text`,
		projectID, name).Scan(&id))
	return id
}

func TestJobDefinitionCreate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	authID := createRegistryAuthNamed(t, c, "ghcr")

	t.Run("docker", func(t *testing.T) {
		r := c.do("POST", "/v1/job-definitions", map[string]any{
			"name": "etl", "type": "docker", "image": "ghcr.io/acme/etl:1.4", "registry_auth_id": authID,
			"command":       []string{"etl", "--day=Param::day", "Param::table"},
			"parameters":    map[string]string{"day": "today", "unused": "fine"},
			"env":           map[string]any{"REGION": map[string]any{"value": "eu-west-1"}},
			"cpu_quota_pct": 50, "memory_mb": 512, "privileged": true, "timeout_seconds": 3600,
		})
		require.Equal(t, http.StatusCreated, r.Status, r.Raw)
		raw := r.data(t)
		for _, k := range []string{"id", "name", "version", "type", "image", "registry_auth_id", "script", "command", "parameters",
			"env", "cpu_quota_pct", "memory_mb", "privileged", "timeout_seconds", "created_at", "updated_at"} {
			assert.Contains(t, raw, k)
		}
		assert.NotContains(t, raw, "deleted_at")
		d := decodeJobDef(t, r)
		assert.Equal(t, jobDefView{
			ID: d.ID, Name: "etl", Version: 1, Type: "docker", Image: "ghcr.io/acme/etl:1.4", RegistryAuthID: &authID,
			Command:     []string{"etl", "--day=Param::day", "Param::table"},
			Parameters:  map[string]string{"day": "today", "unused": "fine"},
			Env:         map[string]map[string]any{"REGION": {"value": "eu-west-1", "sensitive": false}},
			CPUQuotaPct: jdInt(50), MemoryMB: jdInt(512), Privileged: true, TimeoutSeconds: 3600,
		}, d)
		assert.Equal(t, d, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl", nil)))
		assert.Equal(t, d, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl:1", nil)))
	})
	t.Run("docker defaults", func(t *testing.T) {
		r := c.do("POST", "/v1/job-definitions", dockerJobDef("minimal"))
		require.Equal(t, http.StatusCreated, r.Status, r.Raw)
		assert.Contains(t, r.Raw, `"registry_auth_id":null`)
		assert.Contains(t, r.Raw, `"cpu_quota_pct":null,"memory_mb":null`)
		assert.Contains(t, r.Raw, `"command":[],"parameters":{},"env":{}`)
		assert.Contains(t, r.Raw, `"timeout_seconds":0`)
	})
	t.Run("bash runs in the server's image", func(t *testing.T) {
		d := decodeJobDef(t, c.do("POST", "/v1/job-definitions", map[string]any{"name": "cleanup", "type": "bash", "script": "rm -rf /tmp/old\n"}))
		assert.Equal(t, "ubuntu:24.04", d.Image)
		assert.Equal(t, "rm -rf /tmp/old\n", d.Script)
	})
}

func jdInt(n int) *int { return &n }

// The bash image is the server's configuration, not the request's.
func TestJobDefinitionBashImageOption(t *testing.T) {
	t.Parallel()
	st := testenv.Store(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ring, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	st.Secrets = ring
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Store: st, BashImage: "debian:12", Logger: testenv.Logger(t)}).Handler())
	t.Cleanup(srv.Close)
	a := &api{t: t, url: srv.URL, st: st}
	c := a.newProject("acme")
	d := decodeJobDef(t, c.do("POST", "/v1/job-definitions", map[string]any{"name": "hello", "type": "bash", "script": "echo hi"}))
	assert.Equal(t, "debian:12", d.Image)
	r := c.do("POST", "/v1/job-definitions", map[string]any{"name": "other", "type": "bash", "script": "echo hi", "image": "alpine"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Message, "image: bash job definitions run in the server's image (debian:12)")
}

func TestJobDefinitionValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	authID := createRegistryAuthNamed(t, c, "ghcr")
	docker := dockerJobDef("etl")
	bash := map[string]any{"name": "etl", "type": "bash", "script": "echo hi"}
	assertRejected(t, c, "/v1/job-definitions", "job_definitions", []rejected{
		{"name missing", bodyWith(docker, map[string]any{"name": nil}), "name: job definition name is required"},
		{"name with bad characters", bodyWith(docker, map[string]any{"name": "etl job"}), `name: "etl job" is not a valid job definition name`},
		{"name with a colon", bodyWith(docker, map[string]any{"name": "etl:2"}), "name: "},
		{"name too long", bodyWith(docker, map[string]any{"name": strings.Repeat("n", 129)}), "name: "},
		{"type missing", bodyWith(docker, map[string]any{"type": nil}), "type: required"},
		{"type unknown", bodyWith(docker, map[string]any{"type": "python"}), `type: "python" is not a job definition type`},
		{"docker without image", bodyWith(docker, map[string]any{"image": nil}), "image: required for docker job definitions"},
		{"docker with a blank image", bodyWith(docker, map[string]any{"image": ""}), "image: required for docker job definitions"},
		{"image in upper case", bodyWith(docker, map[string]any{"image": "Python:3.12"}), `image: "Python:3.12" is not an image reference`},
		{"image with a scheme", bodyWith(docker, map[string]any{"image": "https://ghcr.io/acme/etl"}), "image: "},
		{"image with spaces", bodyWith(docker, map[string]any{"image": "python 3"}), "image: "},
		{"docker with a script", bodyWith(docker, map[string]any{"script": "echo hi"}), "script: only bash job definitions have a script"},
		{"bash without script", bodyWith(bash, map[string]any{"script": nil}), "script: required for bash job definitions"},
		{"bash with a blank script", bodyWith(bash, map[string]any{"script": "  \n"}), "script: required for bash job definitions"},
		{"bash with an image", bodyWith(bash, map[string]any{"image": "alpine"}), "image: bash job definitions run in the server's image (ubuntu:24.04)"},
		{"bash with a registry auth", bodyWith(bash, map[string]any{"registry_auth_id": authID}), "registry_auth_id: only docker job definitions"},
		{"unknown registry auth", bodyWith(docker, map[string]any{"registry_auth_id": "0190a0a0-0000-7000-8000-000000000000"}), "registry_auth_id: no registry auth with id"},
		{"malformed registry auth", bodyWith(docker, map[string]any{"registry_auth_id": "ghcr"}), "registry_auth_id: no registry auth with id \"ghcr\""},
		{"negative timeout", bodyWith(docker, map[string]any{"timeout_seconds": -1}), "timeout_seconds: -1 is out of range"},
		{"huge timeout", bodyWith(docker, map[string]any{"timeout_seconds": int64(1) << 40}), "timeout_seconds: "},
		{"fractional timeout", bodyWith(docker, map[string]any{"timeout_seconds": 1.5}), "timeout_seconds: must be a whole number"},
		{"cpu without memory", bodyWith(docker, map[string]any{"cpu_quota_pct": 50}), "cpu_quota_pct and memory_mb go together: set both or neither"},
		{"memory without cpu", bodyWith(docker, map[string]any{"memory_mb": 512}), "cpu_quota_pct and memory_mb go together: set both or neither"},
		{"cpu below 10", bodyWith(docker, map[string]any{"cpu_quota_pct": 9, "memory_mb": 512}), "cpu_quota_pct: 9 is out of range: use at least 10"},
		{"memory zero", bodyWith(docker, map[string]any{"cpu_quota_pct": 50, "memory_mb": 0}), "memory_mb: 0 is out of range: must be more than 0"},
		{"memory negative", bodyWith(docker, map[string]any{"cpu_quota_pct": 50, "memory_mb": -1}), "memory_mb: -1 is out of range"},
		{"env key starting with a digit", bodyWith(docker, map[string]any{"env": map[string]any{"1X": map[string]any{"value": "v"}}}), `env: "1X" is not a variable name`},
		{"env key with a dash", bodyWith(docker, map[string]any{"env": map[string]any{"MY-VAR": map[string]any{"value": "v"}}}), `env: "MY-VAR" is not a variable name`},
		{"env key reserved", bodyWith(docker, map[string]any{"env": map[string]any{"DAESTRO_JOB_ID": map[string]any{"value": "v"}}}), `env: "DAESTRO_JOB_ID" starts with DAESTRO_, which is reserved`},
		{"env key checked even with an empty value", bodyWith(docker, map[string]any{"env": map[string]any{"DAESTRO_X": map[string]any{"value": ""}}}), "env: "},
		{"env in the plain KEY=value shape", bodyWith(docker, map[string]any{"env": map[string]any{"A": "v"}}), "env"},
		{"env entry with an unknown field", bodyWith(docker, map[string]any{"env": map[string]any{"A": map[string]any{"val": "v"}}}), `unknown field "val"`},
		{"command not an array", bodyWith(docker, map[string]any{"command": "etl --all"}), "command: must be an array"},
		{"command with a number", bodyWith(docker, map[string]any{"command": []any{"etl", 1}}), "command"},
		{"parameter name with a dash", bodyWith(docker, map[string]any{"parameters": map[string]string{"in-file": "x"}}), `parameters: "in-file" is not a parameter name`},
		{"parameter value not a string", bodyWith(docker, map[string]any{"parameters": map[string]any{"n": 1}}), "parameters"},
		{"privileged not a bool", bodyWith(docker, map[string]any{"privileged": "yes"}), "privileged: must be true or false"},
		{"unknown field", bodyWith(docker, map[string]any{"cmd": []string{"x"}}), `unknown field "cmd"`},
		{"body not an object", `"etl"`, "request body must be a JSON object"},
	})
}

func TestJobDefinitionNameClash(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	c.do("POST", "/v1/job-definitions", dockerJobDef("etl")).id(t)
	r := c.do("POST", "/v1/job-definitions", map[string]any{"name": "etl", "type": "bash", "script": "echo"})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "a job definition named 'etl' already exists: POST /v1/job-definitions/etl/revisions adds a version", r.Message)
	assert.Equal(t, 1, a.count("job_definitions"))
}

func TestJobDefinitionQuotas(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	const together = "cpu_quota_pct and memory_mb go together: set both or neither"

	d := decodeJobDef(t, c.do("POST", "/v1/job-definitions", bodyWith(dockerJobDef("both"), map[string]any{"cpu_quota_pct": 10, "memory_mb": 1})))
	assert.Equal(t, jdInt(10), d.CPUQuotaPct)
	assert.Equal(t, jdInt(1), d.MemoryMB)
	d = decodeJobDef(t, c.do("POST", "/v1/job-definitions", dockerJobDef("neither")))
	assert.Nil(t, d.CPUQuotaPct)
	assert.Nil(t, d.MemoryMB)

	// A revision changes one and inherits the other, or clears both with null.
	d = decodeJobDef(t, c.do("POST", "/v1/job-definitions/both/revisions", map[string]any{"cpu_quota_pct": 200}))
	assert.Equal(t, jdInt(200), d.CPUQuotaPct)
	assert.Equal(t, jdInt(1), d.MemoryMB)
	r := c.do("POST", "/v1/job-definitions/both/revisions", map[string]any{"memory_mb": nil})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Equal(t, together, r.Message)
	d = decodeJobDef(t, c.do("POST", "/v1/job-definitions/both/revisions", map[string]any{"cpu_quota_pct": nil, "memory_mb": nil}))
	assert.Nil(t, d.CPUQuotaPct)
	assert.Nil(t, d.MemoryMB)
	r = c.do("POST", "/v1/job-definitions/neither/revisions", map[string]any{"memory_mb": 256})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Equal(t, together, r.Message)
	assert.Equal(t, 4, a.count("job_definitions"))
}

// Sensitive values are write-only: no response of any route carries them.
func TestJobDefinitionSensitiveEnv(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	const secret = "sk-live-0123456789-very-secret"
	r := c.do("POST", "/v1/job-definitions", bodyWith(dockerJobDef("etl"), map[string]any{"env": map[string]any{
		"API_TOKEN": map[string]any{"value": secret, "sensitive": true},
		"REGION":    map[string]any{"value": "eu-west-1"},
		"EMPTY":     map[string]any{"value": ""},
		"NO_VALUE":  map[string]any{"sensitive": true},
	}}))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	want := map[string]map[string]any{
		"API_TOKEN": {"sensitive": true},
		"REGION":    {"value": "eu-west-1", "sensitive": false},
	}
	assert.Equal(t, want, decodeJobDef(t, r).Env, "empty values are dropped, sensitive ones hidden")

	rev := c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"timeout_seconds": 5})
	responses := map[string]response{
		"create":         r,
		"revision":       rev,
		"get by name":    c.do("GET", "/v1/job-definitions/etl", nil),
		"get by version": c.do("GET", "/v1/job-definitions/etl:1", nil),
		"list":           c.do("GET", "/v1/job-definitions", nil),
		"revisions":      c.do("GET", "/v1/job-definitions/etl/revisions", nil),
	}
	for name, resp := range responses {
		require.True(t, resp.OK, "%s: %s", name, resp.Raw)
		assert.NotContains(t, resp.Raw, secret, name)
		assert.Contains(t, resp.Raw, `"API_TOKEN":{"sensitive":true}`, name)
	}
	assert.Equal(t, want, decodeJobDef(t, rev).Env)

	// The value is kept, for the agent, and inherited by the revision.
	for _, ref := range []string{"etl:1", "etl:2"} {
		d, err := a.st.ResolveJobDefinition(context.Background(), c.project.ID, ref)
		require.NoError(t, err)
		assert.Equal(t, domain.EnvVar{Value: secret, Sensitive: true}, d.Env["API_TOKEN"], ref)
	}
}

// The whole environment, keys and values, is one ciphertext in the table.
func TestJobDefinitionEnvIsEncrypted(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	values := map[string]string{"DB_PASSWORD": "hunter2-sensitive-value", "LOG_LEVEL": "plain-visible-value"}
	id := c.do("POST", "/v1/job-definitions", bodyWith(dockerJobDef("etl"), map[string]any{"env": map[string]any{
		"DB_PASSWORD": map[string]any{"value": values["DB_PASSWORD"], "sensitive": true},
		"LOG_LEVEL":   map[string]any{"value": values["LOG_LEVEL"]},
	}})).id(t)

	var asText, escaped string
	require.NoError(t, a.st.Pool.QueryRow(context.Background(),
		`SELECT env::text, encode(env, 'escape') FROM job_definitions WHERE id = $1`, id).Scan(&asText, &escaped))
	for key, value := range values {
		for _, stored := range []string{asText, escaped} {
			assert.NotContains(t, stored, value)
			assert.NotContains(t, stored, key)
		}
	}
}

func TestJobDefinitionRevisions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	v1 := decodeJobDef(t, c.do("POST", "/v1/job-definitions", map[string]any{
		"name": "etl", "type": "docker", "image": "python:3.12",
		"command": []string{"etl", "Param::day"}, "parameters": map[string]string{"day": "today"},
		"env": map[string]any{
			"A": map[string]any{"value": "1"},
			"B": map[string]any{"value": "2"},
			"S": map[string]any{"value": "s3cret-value", "sensitive": true},
		},
		"cpu_quota_pct": 50, "memory_mb": 512, "timeout_seconds": 60,
	}))

	// Given fields replace, omitted ones are inherited, env merges per key.
	r := c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{
		"image": "python:3.13",
		"env": map[string]any{
			"A": map[string]any{"value": "10"},
			"B": map[string]any{"value": ""},
			"C": map[string]any{"value": "3"},
		},
	})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	v2 := decodeJobDef(t, r)
	assert.Equal(t, 2, v2.Version)
	assert.NotEqual(t, v1.ID, v2.ID)
	assert.Equal(t, "python:3.13", v2.Image)
	assert.Equal(t, v1.Command, v2.Command)
	assert.Equal(t, v1.Parameters, v2.Parameters)
	assert.Equal(t, v1.CPUQuotaPct, v2.CPUQuotaPct)
	assert.Equal(t, v1.MemoryMB, v2.MemoryMB)
	assert.Equal(t, 60, v2.TimeoutSeconds)
	assert.Equal(t, map[string]map[string]any{
		"A": {"value": "10", "sensitive": false},
		"C": {"value": "3", "sensitive": false},
		"S": {"sensitive": true},
	}, v2.Env)
	stored, err := a.st.ResolveJobDefinition(context.Background(), c.project.ID, "etl:2")
	require.NoError(t, err)
	assert.Equal(t, "s3cret-value", stored.Env["S"].Value, "the sensitive value was not inherited")

	// A revision cannot rename; version 1 is unchanged.
	before := a.count("job_definitions")
	r = c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"name": "etl2", "image": "python:3.14"})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "name: a revision keeps its definition's name")
	assert.Equal(t, before, a.count("job_definitions"))
	assert.Equal(t, v1, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl:1", nil)))
	assert.Equal(t, v2, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl", nil)))

	// A revision is validated like a create.
	r = c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"image": "Bad Image"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Message, "image: ")
	r = c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"env": map[string]any{"DAESTRO_X": map[string]any{"value": "1"}}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Message, "env: ")
	assert.Equal(t, before, a.count("job_definitions"))

	// Numbers are never reused: 1, 2 → delete 2 → the next revision is 3,
	// built from the latest remaining version (1).
	require.Equal(t, http.StatusOK, c.do("DELETE", "/v1/job-definitions/etl:2", nil).Status)
	assert.Equal(t, 1, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl", nil)).Version)
	assert.Equal(t, http.StatusNotFound, c.do("GET", "/v1/job-definitions/etl:2", nil).Status)
	v3 := decodeJobDef(t, c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{}))
	assert.Equal(t, 3, v3.Version)
	assert.Equal(t, "python:3.12", v3.Image)
	assert.Equal(t, v1.Env, v3.Env)
	assert.Equal(t, 3, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl", nil)).Version)
	items, _ := decodeJobDefPage(t, c.do("GET", "/v1/job-definitions/etl/revisions", nil))
	assert.Equal(t, []int{1, 3}, jobDefVersions(items))

	// Switching type: what only docker uses is dropped, a script is needed.
	r = c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"type": "bash"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Message, "script: required")
	v4 := decodeJobDef(t, c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"type": "bash", "script": "echo Param::day"}))
	assert.Equal(t, 4, v4.Version)
	assert.Equal(t, "ubuntu:24.04", v4.Image)
	assert.Equal(t, v1.Command, v4.Command)

	// Revisions go to a name that has an active version.
	r = c.do("POST", "/v1/job-definitions/etl:3/revisions", map[string]any{})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Message, "/v1/job-definitions/etl/revisions")
	assert.Equal(t, http.StatusNotFound, c.do("POST", "/v1/job-definitions/nope/revisions", map[string]any{}).Status)
	assert.Equal(t, http.StatusNotFound, c.do("GET", "/v1/job-definitions/nope/revisions", nil).Status)
	assert.Equal(t, http.StatusBadRequest, c.do("GET", "/v1/job-definitions/etl:1/revisions", nil).Status)
	assert.Equal(t, http.StatusBadRequest, c.do("GET", "/v1/job-definitions/etl:x", nil).Status)

	// With every version deleted the name is free again, and numbering goes on.
	for _, ref := range []string{"etl:1", "etl:3", "etl:4"} {
		require.Equal(t, http.StatusOK, c.do("DELETE", "/v1/job-definitions/"+ref, nil).Status, ref)
	}
	assert.Equal(t, http.StatusNotFound, c.do("GET", "/v1/job-definitions/etl", nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{}).Status)
	v5 := decodeJobDef(t, c.do("POST", "/v1/job-definitions", dockerJobDef("etl")))
	assert.Equal(t, 5, v5.Version)
	assert.Empty(t, v5.Env)
}

// Concurrent revisions each get their own version number.
func TestJobDefinitionConcurrentRevisions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	c.do("POST", "/v1/job-definitions", dockerJobDef("etl")).id(t)
	const n = 12
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i] = c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"timeout_seconds": i})
		})
	}
	wg.Wait()
	var versions []int
	for _, r := range results {
		require.Equal(t, http.StatusCreated, r.Status, r.Raw)
		versions = append(versions, decodeJobDef(t, r).Version)
	}
	sort.Ints(versions)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 2
	}
	assert.Equal(t, want, versions)
}

// Concurrent creates of one name: one wins, the others are told it exists.
func TestJobDefinitionConcurrentCreates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	const n = 8
	results := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = c.do("POST", "/v1/job-definitions", dockerJobDef("etl")) })
	}
	wg.Wait()
	statuses := map[int]int{}
	for _, r := range results {
		statuses[r.Status]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: n - 1}, statuses)
	assert.Equal(t, 1, a.count("job_definitions"))
}

// What GET shows, sent back as a revision, keeps the sensitive values it
// could not show: a value-less sensitive entry inherits the value.
func TestJobDefinitionRevisionFromReadBack(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	c.do("POST", "/v1/job-definitions", bodyWith(dockerJobDef("etl"), map[string]any{"env": map[string]any{
		"TOKEN": map[string]any{"value": "tok-123456", "sensitive": true},
		"MODE":  map[string]any{"value": "fast"},
	}})).id(t)
	got := c.do("GET", "/v1/job-definitions/etl", nil).data(t)
	body := map[string]any{"image": "python:3.13", "env": got["env"]}
	v2 := decodeJobDef(t, c.do("POST", "/v1/job-definitions/etl/revisions", body))
	assert.Equal(t, map[string]map[string]any{"TOKEN": {"sensitive": true}, "MODE": {"value": "fast", "sensitive": false}}, v2.Env)
	stored, err := a.st.ResolveJobDefinition(context.Background(), c.project.ID, "etl:2")
	require.NoError(t, err)
	assert.Equal(t, domain.EnvVar{Value: "tok-123456", Sensitive: true}, stored.Env["TOKEN"])

	// Marking a plain value sensitive without resending it keeps it too.
	c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"env": map[string]any{"MODE": map[string]any{"sensitive": true}}}).id(t)
	stored, err = a.st.ResolveJobDefinition(context.Background(), c.project.ID, "etl")
	require.NoError(t, err)
	assert.Equal(t, domain.EnvVar{Value: "fast", Sensitive: true}, stored.Env["MODE"])
}

func TestJobDefinitionDelete(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	v1 := c.do("POST", "/v1/job-definitions", dockerJobDef("etl")).id(t)
	c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{}).id(t)
	ctx := context.Background()

	r := c.do("DELETE", "/v1/job-definitions/etl", nil)
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Equal(t, "say which version to delete, e.g. etl:2", r.Message)
	assert.Equal(t, http.StatusNotFound, c.do("DELETE", "/v1/job-definitions/nope", nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do("DELETE", "/v1/job-definitions/etl:9", nil).Status)
	assert.Equal(t, http.StatusBadRequest, c.do("DELETE", "/v1/job-definitions/etl:x", nil).Status)

	queue := insertJobQueueRow(t, a, c.project.ID, "default")
	var jobID string
	require.NoError(t, a.st.Pool.QueryRow(ctx, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state)
		VALUES (gen_random_uuid(), $1, $2, $3, 'job-1', 'completed') RETURNING id::text`, c.project.ID, queue, v1).Scan(&jobID))
	_, err := a.st.Pool.Exec(ctx, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state)
		VALUES (gen_random_uuid(), $1, $2, $3, 'job-2', 'failed')`, c.project.ID, queue, v1)
	require.NoError(t, err)

	// A queued or running job holds its version; a finished one does not.
	for _, state := range []string{"submitted", "pending", "runnable", "starting", "running", "cancelling"} {
		_, err := a.st.Pool.Exec(ctx, `UPDATE jobs SET state = $1 WHERE id = $2`, state, jobID)
		require.NoError(t, err)
		r := c.do("DELETE", "/v1/job-definitions/etl:1", nil)
		assert.Equal(t, http.StatusConflict, r.Status, "state %s: %s", state, r.Raw)
		assert.Equal(t, "job definition 'etl:1' has 1 job queued or running: wait for them to finish or cancel them, then delete it", r.Message)
	}
	_, err = a.st.Pool.Exec(ctx, `UPDATE jobs SET state = 'running' WHERE project_id = $1`, c.project.ID)
	require.NoError(t, err)
	r = c.do("DELETE", "/v1/job-definitions/etl:1", nil)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Contains(t, r.Message, "has 2 jobs queued or running")
	_, err = a.st.Pool.Exec(ctx, `UPDATE jobs SET state = 'cancelled' WHERE project_id = $1`, c.project.ID)
	require.NoError(t, err)

	// A cron job holds its version too.
	for _, name := range []string{"nightly", "hourly"} {
		_, err := a.st.Pool.Exec(ctx, `INSERT INTO cron_jobs (id, project_id, name, job_queue_id, job_definition_id)
			VALUES (gen_random_uuid(), $1, $2, $3, $4)`, c.project.ID, name, queue, v1)
		require.NoError(t, err)
	}
	r = c.do("DELETE", "/v1/job-definitions/etl:1", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job definition 'etl:1' is used by cron jobs 'hourly' and 'nightly': point them at another version or delete them first", r.Message)
	_, err = a.st.Pool.Exec(ctx, `DELETE FROM cron_jobs`)
	require.NoError(t, err)

	r = c.do("DELETE", "/v1/job-definitions/etl:1", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": v1, "deleted": true}, r.data(t))
	assert.Equal(t, http.StatusNotFound, c.do("GET", "/v1/job-definitions/etl:1", nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do("DELETE", "/v1/job-definitions/etl:1", nil).Status)
	assert.Equal(t, 2, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl", nil)).Version)
	assert.Equal(t, 2, a.count("job_definitions"), "a deleted version stays for the jobs that ran it")
	old, err := a.st.JobDefinition(ctx, c.project.ID, v1)
	require.NoError(t, err)
	assert.NotNil(t, old.DeletedAt)
}

func TestJobDefinitionIsImmutable(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	v1 := decodeJobDef(t, c.do("POST", "/v1/job-definitions", dockerJobDef("etl")))
	for _, method := range []string{"PATCH", "PUT"} {
		for _, ref := range []string{"etl", "etl:1"} {
			r := c.do(method, "/v1/job-definitions/"+ref, map[string]any{"image": "python:3.13"})
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
			assert.Equal(t, "job definitions are immutable: POST /v1/job-definitions/etl/revisions adds a version with your changes", r.Message)
		}
	}
	assert.Equal(t, v1, decodeJobDef(t, c.do("GET", "/v1/job-definitions/etl", nil)))
	assert.Equal(t, 1, a.count("job_definitions"))
}

func TestJobDefinitionList(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	for i := range 5 {
		c.do("POST", "/v1/job-definitions", dockerJobDef(fmt.Sprintf("def-%d", i))).id(t)
	}
	c.do("POST", "/v1/job-definitions/def-1/revisions", map[string]any{}).id(t)
	c.do("POST", "/v1/job-definitions/def-3/revisions", map[string]any{}).id(t)
	c.do("POST", "/v1/job-definitions/def-3/revisions", map[string]any{}).id(t)
	require.Equal(t, http.StatusOK, c.do("DELETE", "/v1/job-definitions/def-3:3", nil).Status)

	// Each name once, at its latest active version; the list is in the
	// order those versions were created, so def-1:2 and def-3:2 come last.
	ref := func(d jobDefView) string { return fmt.Sprintf("%s:%d", d.Name, d.Version) }
	assertPaginates(t, c, paging[jobDefView]{path: "/v1/job-definitions", limit: 2, pages: 3, want: []string{"def-0:1", "def-2:1", "def-4:1", "def-1:2", "def-3:2"},
		order: "each name once, at its latest active version", key: ref, refused: map[string]string{"limit=501": "limit"}})
	assertPaginates(t, c, paging[jobDefView]{path: "/v1/job-definitions/def-3/revisions", limit: 1, pages: 2, want: []string{"def-3:1", "def-3:2"},
		order: "the deleted version 3 is not listed", key: ref})
}

func TestJobDefinitionTenantIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.newProject("acme")
	other := a.newProject("other")
	id := acme.do("POST", "/v1/job-definitions", dockerJobDef("etl")).id(t)
	acme.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"image": "python:3.13"}).id(t)

	for _, path := range []string{"/v1/job-definitions/etl", "/v1/job-definitions/etl:1", "/v1/job-definitions/etl/revisions"} {
		r := other.do("GET", path, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "GET %s: %s", path, r.Raw)
	}
	before := a.count("job_definitions")
	assert.Equal(t, http.StatusNotFound, other.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{}).Status)
	assert.Equal(t, http.StatusNotFound, other.do("DELETE", "/v1/job-definitions/etl:1", nil).Status)
	assert.Equal(t, http.StatusNotFound, other.do("DELETE", "/v1/job-definitions/etl", nil).Status)
	assert.Equal(t, before, a.count("job_definitions"))
	assert.Equal(t, http.StatusOK, acme.do("GET", "/v1/job-definitions/etl:1", nil).Status)
	items, _ := decodeJobDefPage(t, other.do("GET", "/v1/job-definitions", nil))
	assert.Empty(t, items)
	_, err := a.st.JobDefinition(context.Background(), other.project.ID, id)
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))

	// The same name in another project is another definition.
	mine := decodeJobDef(t, other.do("POST", "/v1/job-definitions", map[string]any{"name": "etl", "type": "bash", "script": "echo"}))
	assert.Equal(t, 1, mine.Version)
	assert.Equal(t, "bash", decodeJobDef(t, other.do("GET", "/v1/job-definitions/etl", nil)).Type)
	theirs := decodeJobDef(t, acme.do("GET", "/v1/job-definitions/etl", nil))
	assert.Equal(t, 2, theirs.Version)
	assert.Equal(t, "python:3.13", theirs.Image)
}
