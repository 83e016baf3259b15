package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

// daestroExampleBody is the "Example Body" of Daestro's Job Submit page,
// verbatim but for its trailing `// or unix timestamp` comment, which is not JSON.
const daestroExampleBody = `{
  "job_definition": "project-code::hello-world:1",
  "job_queue": "project-code::your-job-queue",
  "container_cmd": ["uname", "Param::subcommand"],
  "container_cmd_parameter": {
    "subcommand": "-a"
  },
  "container_env": {
    "file": {
      "value": "https://example.com/paint.jpg"
    },
    "access_token": {
      "value": "sensitive-vars-will-be-not-shown-again",
      "sensitive": true
    }
  },
  "schedule_at": "2025-05-17T06:37:00.000Z"
}`

// daestroCurlBody is the body of the page's curl sample (no schedule, no
// parameter for the placeholder but the definition's default), with the
// unix-seconds form of schedule_at that the table documents.
const daestroCurlBody = `{
  "job_definition": "project-code::hello-world:1",
  "job_queue": "project-code::first-job-queue",
  "container_cmd": ["uname", "Param::subcommand"],
  "container_env": {
    "file": {
      "value": "https://example.com/paint.jpg"
    },
    "access_token": {
      "value": "sensitive-vars-will-be-encrypted",
      "sensitive": true
    }
  },
  "container_cmd_parameter": {
    "subcommand": "-a"
  },
  "schedule_at": 1747463820
}`

// daestroProject sets up what Daestro's examples refer to: project
// "project-code", definition hello-world:1, queues your-job-queue and first-job-queue.
func daestroProject(t *testing.T, a *api) client {
	t.Helper()
	c := a.newProject("project-code")
	readyQueue(t, c, "your-job-queue")
	readyQueue(t, c, "first-job-queue")
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "hello-world", "type": "docker", "image": "busybox:1",
		"command": []string{"echo", "hello"}}).id(t)
	return c
}

var submittedRE = regexp.MustCompile(`^\{"ok":true,"data":\{"id":"([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})"\}\}$`)

// A client written for Daestro works unchanged: the documented example body
// is accepted and answered byte for byte in Daestro's shape, and the job
// detail has exactly Daestro's fields.
func TestClientSubmitDaestroDocumentedExample(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := daestroProject(t, a)

	r := c.do(http.MethodPost, "/v1/client/job", daestroExampleBody)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	m := submittedRE.FindStringSubmatch(r.Raw)
	require.NotNil(t, m, "202 {\"ok\":true,\"data\":{\"id\":\"<uuid v7>\"}}, got %s", r.Raw)
	id := m[1]
	require.Equal(t, uuid.Version(7), uuid.MustParse(id).Version())

	r = c.do(http.MethodGet, "/v1/client/job/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	detail := r.data(t)
	assert.Equal(t, []string{"created_at", "id", "name", "schedule_at", "state", "system_note", "updated_at"}, keysOf(detail))
	assert.Equal(t, id, detail["id"])
	assert.Regexp(t, `^[a-z]+-[a-z]+-[0-9]{4}$`, detail["name"])
	assert.Equal(t, "submitted", detail["state"])
	assert.Nil(t, detail["system_note"], "Daestro shows no note as null")
	assert.Equal(t, "2025-05-17T06:37:00Z", detail["schedule_at"])
	for _, k := range []string{"created_at", "updated_at"} {
		ts, _ := detail[k].(string)
		assert.True(t, strings.HasSuffix(ts, "Z"), "%s is RFC 3339 in UTC: %s", k, ts)
		_, err := time.Parse(time.RFC3339Nano, ts)
		assert.NoError(t, err)
	}
	assert.True(t, r.OK)
	assert.Empty(t, r.Message)
	assert.NotContains(t, r.Raw, `"message"`, "a success carries no message")

	j := getJob(t, c, id)
	assert.Equal(t, []string{"uname", "-a"}, j.Command, "container_cmd replaced the definition's, its placeholder filled")
	assert.Equal(t, map[string]string{"subcommand": "-a"}, j.Parameters)
	assert.Equal(t, "hello-world", j.JobDefinition.Name)
	assert.Equal(t, "your-job-queue", j.JobQueue.Name)
	assert.Equal(t, "submitted via client API", j.Events[0].Reason)
	spec, err := a.st.JobRunSpec(context.Background(), j.CurrentRunID)
	require.NoError(t, err)
	assert.Equal(t, []string{"access_token=sensitive-vars-will-be-not-shown-again", "file=https://example.com/paint.jpg"}, spec.Env)

	r = c.do(http.MethodPost, "/v1/client/job", daestroCurlBody)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	m = submittedRE.FindStringSubmatch(r.Raw)
	require.NotNil(t, m, r.Raw)
	detail = c.do(http.MethodGet, "/v1/client/job/"+m[1], nil).data(t)
	assert.Equal(t, "2025-05-17T06:37:00Z", detail["schedule_at"], "unix seconds are the same instant")

	// The smallest body: both references, nothing else.
	r = c.do(http.MethodPost, "/v1/client/job", `{"job_definition":"project-code::hello-world","job_queue":"project-code::your-job-queue"}`)
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	detail = c.do(http.MethodGet, "/v1/client/job/"+r.id(t), nil).data(t)
	assert.Nil(t, detail["schedule_at"])
	assert.Equal(t, []string{"echo", "hello"}, getJob(t, c, r.id(t)).Command)
}

// Every rule of a submission: 400 (409 for a taken name) with a message
// naming the problem, and nothing written.
func TestClientSubmitRejections(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	a.newProject("other") // exists: its code must be refused like one that does not
	readyQueue(t, c, "etl")
	queueID, _ := selfHostedQueue(t, c, "etl-off")
	gone := readyQueue(t, c, "gone")
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/job-queues/"+gone, map[string]any{"enabled": false}).Status)
	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/job-queues/"+gone, nil).Status)
	_ = queueID
	etlDefinition(t, c)
	c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"image": "ghcr.io/acme/etl:2"}).id(t)
	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/job-definitions/etl:1", nil).Status)
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "script", "type": "bash", "script": "echo hi"}).id(t)

	body := func(edit map[string]any) map[string]any {
		return bodyWith(map[string]any{"job_definition": "acme::etl", "job_queue": "acme::etl", "container_cmd_parameter": map[string]string{"day": "d"}}, edit)
	}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"unknown definition", body(map[string]any{"job_definition": "acme::nope"}), "job_definition: no job definition named 'nope' in this project"},
		{"unknown definition version", body(map[string]any{"job_definition": "acme::etl:7"}), "job_definition: no job definition 'etl:7' in this project"},
		{"deleted definition version", body(map[string]any{"job_definition": "acme::etl:1"}), "job_definition: no job definition 'etl:1' in this project"},
		{"unknown queue", body(map[string]any{"job_queue": "acme::nope"}), "job_queue: no job queue named 'nope' in this project"},
		{"deleted queue", body(map[string]any{"job_queue": "acme::gone"}), "job_queue: no job queue named 'gone' in this project"},
		{"disabled queue", body(map[string]any{"job_queue": "acme::etl-off"}), "job queue 'etl-off' is disabled: add a compute environment and enable it"},
		{"another project's definition", body(map[string]any{"job_definition": "other::etl"}),
			"job_definition: project code 'other' is not the project of this API key ('acme'): use acme::etl"},
		{"an unknown project's definition", body(map[string]any{"job_definition": "ghost::etl"}),
			"job_definition: project code 'ghost' is not the project of this API key ('acme'): use acme::etl"},
		{"another project's queue", body(map[string]any{"job_queue": "other::etl"}),
			"job_queue: project code 'other' is not the project of this API key ('acme'): use acme::etl"},
		{"no project code", body(map[string]any{"job_queue": "etl"}), `job_queue: "etl" must start with the project code, e.g. acme::etl`},
		{"no definition", body(map[string]any{"job_definition": nil}), "job_definition: is required"},
		{"no queue", body(map[string]any{"job_queue": nil}), "job_queue: is required"},
		{"definition's placeholder without value", body(map[string]any{"container_cmd_parameter": nil}),
			"container_cmd: Param::day has no value: pass it in container_cmd_parameter or give the definition a default"},
		{"job's placeholder without value", body(map[string]any{"container_cmd": []string{"run", "Param::when"}}),
			"container_cmd: Param::when has no value: pass it in container_cmd_parameter or give the definition a default"},
		{"command for a bash script", body(map[string]any{"job_definition": "acme::script", "container_cmd": []string{"ls"}}),
			"container_cmd: job definition 'script:1' runs a bash script"},
		{"bad schedule string", body(map[string]any{"schedule_at": "17/05/2025"}), `schedule_at: "17/05/2025" is not an RFC 3339 time`},
		{"bad schedule number", body(map[string]any{"schedule_at": -5}), "schedule_at: -5 is outside 1970 to 9999"},
		{"bad schedule type", body(map[string]any{"schedule_at": true}), "schedule_at: true is neither a string nor a number"},
		{"bad name", body(map[string]any{"name": "nightly run"}), `name: "nightly run" is not a valid job name`},
		{"bad env key", body(map[string]any{"container_env": map[string]any{"MY-VAR": map[string]any{"value": "x"}}}), `container_env: "MY-VAR" is not a variable name`},
		{"reserved env key", body(map[string]any{"container_env": map[string]any{"DAESTRO_JOB_ID": map[string]any{"value": "x"}}}), "reserved for the variables daestro sets"},
		{"env value not an object", body(map[string]any{"container_env": map[string]any{"A": "x"}}), "container_env: must be an object, not string"},
		{"parameter not a string", body(map[string]any{"container_cmd_parameter": map[string]any{"day": 5}}), "container_cmd_parameter: must be a string, not number"},
		{"bad parameter name", body(map[string]any{"container_cmd_parameter": map[string]any{"my day": "x"}}), `container_cmd_parameter: "my day" is not a parameter name`},
		{"command not strings", body(map[string]any{"container_cmd": []any{"a", 1}}), "must be a string"},
		{"unknown field", body(map[string]any{"priority": 1}), `unknown field "priority"`},
		{"not JSON", `{"job_definition":`, "request body is truncated JSON"},
		{"empty body", ``, "request body is empty"},
	}
	for _, tt := range tests {
		r := c.do(http.MethodPost, "/v1/client/job", tt.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tt.name, r.Raw)
		assert.False(t, r.OK, tt.name)
		assert.Contains(t, r.Message, tt.want, tt.name)
		assert.JSONEq(t, `{"ok":false,"message":`+mustJSON(t, r.Message)+`}`, r.Raw, "%s: Daestro's error shape", tt.name)
		assert.Equal(t, [3]int{0, 0, 0}, jobRows(a), "%s wrote nothing", tt.name)
	}

	// The same rules hold on the management API, which shares the path.
	r := c.do(http.MethodPost, "/v1/jobs", body(map[string]any{"job_queue": "etl-off"}))
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl-off' is disabled: add a compute environment and enable it", r.Message)
	r = c.do(http.MethodPost, "/v1/jobs", body(map[string]any{"job_definition": "etl", "container_cmd_parameter": nil}))
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "Param::day has no value")
	assert.Equal(t, [3]int{0, 0, 0}, jobRows(a))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// A name is unique within its queue: a clash is 409 and writes nothing; the
// same name in another queue is fine.
func TestClientSubmitNameClash(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	readyQueue(t, c, "adhoc")
	etlDefinition(t, c)
	body := func(queue string) map[string]any {
		return map[string]any{"job_definition": "acme::etl", "job_queue": "acme::" + queue, "name": "nightly-1",
			"container_cmd_parameter": map[string]string{"day": "d"}}
	}
	first := c.do(http.MethodPost, "/v1/client/job", body("etl")).id(t)
	before := jobRows(a)

	r := c.do(http.MethodPost, "/v1/client/job", body("etl"))
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "a job named 'nightly-1' already exists in job queue 'etl': choose another name, or leave name out for a random one", r.Message)
	assert.Equal(t, before, jobRows(a))
	r = c.do(http.MethodPost, "/v1/jobs", map[string]any{"job_definition": "etl", "job_queue": "etl", "name": "nightly-1",
		"container_cmd_parameter": map[string]string{"day": "d"}})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, before, jobRows(a))

	other := c.do(http.MethodPost, "/v1/client/job", body("adhoc")).id(t)
	assert.NotEqual(t, first, other)
	assert.Equal(t, "nightly-1", c.do(http.MethodGet, "/v1/client/job/"+other, nil).data(t)["name"])
}

// The client API's job routes see only the key's project, and say so the
// way every route does: 404, the same as for an ID that never existed.
func TestClientJobIsolationAndNotFound(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	alpha, beta := a.newProject("alpha"), a.newProject("beta")
	readyQueue(t, alpha, "etl")
	etlDefinition(t, alpha)
	id := alpha.do(http.MethodPost, "/v1/client/job", map[string]any{"job_definition": "alpha::etl", "job_queue": "alpha::etl",
		"container_cmd_parameter": map[string]string{"day": "d"}}).id(t)

	for _, rt := range []struct{ method, path string }{
		{http.MethodGet, "/v1/client/job/" + id}, {http.MethodPost, "/v1/client/job/" + id + "/cancel"},
		{http.MethodGet, "/v1/jobs/" + id}, {http.MethodPost, "/v1/jobs/" + id + "/cancel"}, {http.MethodPost, "/v1/jobs/" + id + "/resubmit"},
	} {
		r := beta.do(rt.method, rt.path, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", rt.method, rt.path, r.Raw)
		assert.Equal(t, `no job with id "`+id+`" in this project`, r.Message)
	}
	r := beta.do(http.MethodGet, "/v1/jobs", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.NotContains(t, r.Raw, id)
	assert.Equal(t, string(domain.JobSubmitted), alpha.do(http.MethodGet, "/v1/client/job/"+id, nil).data(t)["state"], "untouched")

	for _, bad := range []string{"0190a5c2-0000-7000-8000-000000000000", "not-a-uuid"} {
		r := alpha.do(http.MethodGet, "/v1/client/job/"+bad, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
		assert.Equal(t, `no job with id "`+bad+`" in this project`, r.Message)
	}
	r = (client{a: a}).do(http.MethodGet, "/v1/client/job/"+id, nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
}
