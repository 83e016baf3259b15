package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// insertCloudAuth stores a DigitalOcean cloud auth through the store: the
// cloud auth API checks credentials with providers, which these tests are
// not about.
func insertCloudAuth(t *testing.T, a *api, projectID string) string {
	t.Helper()
	ca, err := a.st.CreateCloudAuth(context.Background(), projectID, domain.CloudAuthInput{
		Name: testenv.RandomName("auth"), Provider: "digitalocean", AccessToken: dofake.Token}, "")
	require.NoError(t, err)
	return ca.ID
}

// insertComputeSpawn stores a spawn row as the spawn workflow would.
func insertComputeSpawn(t *testing.T, a *api, projectID, queueID, envID, state string) string {
	t.Helper()
	id := store.NewID()
	_, err := a.st.Pool.Exec(context.Background(), `INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state)
		VALUES ($1, $2, $3, $4, 'selfhosted', $5)`, id, projectID, queueID, envID, state)
	require.NoError(t, err)
	return id
}

// setRowState moves a spawn or job row to state, as its workflow would.
func setRowState(t *testing.T, a *api, table, id, state string) {
	t.Helper()
	_, err := a.st.Pool.Exec(context.Background(), `UPDATE `+table+` SET state = $2 WHERE id = $1`, id, state)
	require.NoError(t, err)
}

// mustCreateEnv creates an enabled self-hosted compute environment.
func mustCreateEnv(t *testing.T, c client, name string) string {
	t.Helper()
	return c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": name, "kind": "selfhosted"}).id(t)
}

func cloudEnv(authID, name string) map[string]any {
	return map[string]any{"name": name, "cloud_auth_id": authID, "instance_type": "s-2vcpu-4gb", "region": "fra1"}
}

func TestComputeEnvCreateCloudAndSelfHosted(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	auth := insertCloudAuth(t, a, c.project.ID)

	r := c.do(http.MethodPost, "/v1/compute-envs", cloudEnv(auth, "do-fra"))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	var env domain.ComputeEnv
	r.decode(t, &env)
	assert.Equal(t, "do-fra", env.Name)
	assert.Equal(t, "cloud", env.Kind, "kind defaults to cloud")
	require.NotNil(t, env.CloudAuthID)
	assert.Equal(t, auth, *env.CloudAuthID)
	assert.Equal(t, "s-2vcpu-4gb", env.InstanceType)
	assert.Equal(t, "fra1", env.Region)
	assert.Nil(t, env.UsableCPUPct)
	assert.True(t, env.Enabled, "enabled by default")
	assert.WithinDuration(t, time.Now(), env.CreatedAt, time.Minute)
	assert.Contains(t, r.data(t), "usable_memory_mb", "the shape is the same for every kind")
	require.NotNil(t, env.InstanceVCPU, "the instance type's size comes from the provider: %s", r.Raw)
	assert.Equal(t, 2, *env.InstanceVCPU)
	assert.Equal(t, 4096, *env.InstanceMemoryMB)
	assert.InDelta(t, 0.03571, *env.HourlyPrice, 1e-9)

	got := c.do(http.MethodGet, "/v1/compute-envs/"+env.ID, nil)
	require.Equal(t, http.StatusOK, got.Status, got.Raw)
	assert.JSONEq(t, string(r.Data), string(got.Data), "GET returns what create returned")

	r = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "rack-1", "kind": "selfhosted", "usable_cpu_pct": 50, "usable_memory_mb": 2048, "enabled": false})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	d := r.data(t)
	assert.Equal(t, "selfhosted", d["kind"])
	assert.Nil(t, d["cloud_auth_id"])
	assert.Equal(t, "", d["instance_type"])
	assert.EqualValues(t, 50, d["usable_cpu_pct"])
	assert.EqualValues(t, 2048, d["usable_memory_mb"])
	assert.Equal(t, false, d["enabled"], "enabled=false on create is honoured")
	for _, f := range []string{"instance_vcpu", "instance_memory_mb", "hourly_price"} {
		assert.Contains(t, d, f)
		assert.Nil(t, d[f], "%s: a self-hosted machine has no instance type", f)
	}

	// The two quotas are optional and independent; the bounds are inclusive.
	for name, body := range map[string]map[string]any{
		"cpu-min":        {"usable_cpu_pct": 10},
		"cpu-max":        {"usable_cpu_pct": 100},
		"cpu-four-cores": {"usable_cpu_pct": 400},
		"mem-only":       {"usable_memory_mb": 1},
		"neither":        {},
	} {
		body["name"], body["kind"] = name, "selfhosted"
		r := c.do(http.MethodPost, "/v1/compute-envs", body)
		assert.Equal(t, http.StatusCreated, r.Status, "%s: %s", name, r.Raw)
	}
	assert.Equal(t, 7, a.count("compute_envs"))
}

func TestComputeEnvCreateRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	other := a.newProject("other")
	auth := insertCloudAuth(t, a, c.project.ID)
	foreignAuth := insertCloudAuth(t, a, other.project.ID)
	with := func(base map[string]any, k string, v any) map[string]any { return bodyWith(base, map[string]any{k: v}) }
	cloud := cloudEnv(auth, "env")
	self := map[string]any{"name": "env", "kind": "selfhosted"}

	assertRejected(t, c, "/v1/compute-envs", "compute_envs", []rejected{
		{"name missing", with(cloud, "name", nil), "name: compute environment name is required"},
		{"name with space", with(cloud, "name", "my env"), `name: "my env" is not a valid compute environment name`},
		{"name too long", with(cloud, "name", strings.Repeat("a", 129)), "name:"},
		{"unknown kind", with(cloud, "kind", "vm"), `kind: "vm" is not a compute environment kind`},
		{"cloud without cloud_auth_id", with(cloud, "cloud_auth_id", nil), "cloud_auth_id: is required"},
		{"cloud without instance_type", with(cloud, "instance_type", nil), "instance_type: is required"},
		{"cloud without region", with(cloud, "region", nil), "region: is required"},
		{"region with space", with(cloud, "region", "fra 1"), "region:"},
		{"instance_type too long", with(cloud, "instance_type", strings.Repeat("x", 129)), "instance_type: is 129 characters long"},
		{"malformed cloud_auth_id", with(cloud, "cloud_auth_id", "nope"), `cloud_auth_id: no cloud auth with id "nope" in this project`},
		{"unknown cloud_auth_id", with(cloud, "cloud_auth_id", store.NewID()), "cloud_auth_id: no cloud auth with id"},
		{"another project's cloud auth", with(cloud, "cloud_auth_id", foreignAuth), "cloud_auth_id: no cloud auth with id"},
		{"cloud with usable_cpu_pct", with(cloud, "usable_cpu_pct", 50), "usable_cpu_pct: only a selfhosted compute environment takes it"},
		{"cloud with usable_memory_mb", with(cloud, "usable_memory_mb", 512), "usable_memory_mb: only a selfhosted"},
		{"selfhosted with cloud_auth_id", with(self, "cloud_auth_id", auth), "cloud_auth_id: a selfhosted compute environment"},
		{"selfhosted with instance_type", with(self, "instance_type", "t3.large"), "instance_type: a selfhosted compute environment"},
		{"selfhosted with region", with(self, "region", "fra1"), "region: a selfhosted compute environment"},
		{"usable_cpu_pct below 10", with(self, "usable_cpu_pct", 9), "usable_cpu_pct: 9 is out of range: use at least 10 (percent of one CPU core: 100 is one core, 400 four; leave it out for the whole machine)"},
		{"usable_cpu_pct beyond an integer", with(self, "usable_cpu_pct", 2147483648), "usable_cpu_pct: 2147483648 is out of range: use at least 10"},
		{"usable_memory_mb zero", with(self, "usable_memory_mb", 0), "usable_memory_mb: 0 is out of range 1-2147483647"},
		{"usable_memory_mb negative", with(self, "usable_memory_mb", -5), "usable_memory_mb: -5 is out of range"},
		{"usable_memory_mb beyond int32", with(self, "usable_memory_mb", 1<<40), "usable_memory_mb:"},
		{"usable_cpu_pct not a number", with(self, "usable_cpu_pct", "50"), "usable_cpu_pct: must be a whole number"},
		{"usable_cpu_pct fractional", with(self, "usable_cpu_pct", 50.5), "usable_cpu_pct: must be a whole number"},
		{"enabled not a bool", with(self, "enabled", "yes"), "enabled: must be true or false"},
		{"unknown field", with(self, "size", "big"), `unknown field "size"`},
		{"not an object", `[1]`, "request body must be a JSON object"},
	})
}

func TestComputeEnvNamesAreUniquePerProject(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	other := a.newProject("other")
	mustCreateEnv(t, c, "rack")
	second := mustCreateEnv(t, c, "rack-2")

	r := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "rack", "kind": "selfhosted"})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "a compute environment named 'rack' already exists", r.Message)
	assert.Equal(t, 2, a.count("compute_envs"))

	r = c.do(http.MethodPatch, "/v1/compute-envs/"+second, map[string]any{"name": "rack"})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "a compute environment named 'rack' already exists", r.Message)
	assert.Equal(t, "rack-2", c.do(http.MethodGet, "/v1/compute-envs/"+second, nil).data(t)["name"])

	mustCreateEnv(t, other, "rack") // names are per project
}

func TestComputeEnvUpdateChangesOnlyNameAndEnabled(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	auth := insertCloudAuth(t, a, c.project.ID)
	created := c.do(http.MethodPost, "/v1/compute-envs", cloudEnv(auth, "do-fra"))
	id := created.id(t)
	createdAt := created.data(t)["updated_at"]

	r := c.do(http.MethodPatch, "/v1/compute-envs/"+id, map[string]any{"name": "do-frankfurt", "enabled": false})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	d := r.data(t)
	assert.Equal(t, "do-frankfurt", d["name"])
	assert.Equal(t, false, d["enabled"])
	assert.Equal(t, "s-2vcpu-4gb", d["instance_type"])
	assert.NotEqual(t, createdAt, d["updated_at"], "updated_at moves on a change")

	r = c.do(http.MethodPatch, "/v1/compute-envs/"+id, map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, true, r.data(t)["enabled"])
	assert.Equal(t, "do-frankfurt", r.data(t)["name"], "an absent field stays as it is")

	r = c.do(http.MethodPatch, "/v1/compute-envs/"+id, map[string]any{})
	require.Equal(t, http.StatusOK, r.Status, "an empty patch changes nothing: %s", r.Raw)
	assert.Equal(t, "do-frankfurt", r.data(t)["name"])

	for _, tt := range []struct {
		field string
		value any
	}{
		{"kind", "selfhosted"},
		{"cloud_auth_id", auth},
		{"instance_type", "s-8vcpu-16gb"},
		{"region", "ams3"},
		{"usable_cpu_pct", 50},
		{"usable_memory_mb", 1024},
		{"instance_type", nil},
	} {
		r := c.do(http.MethodPatch, "/v1/compute-envs/"+id, map[string]any{"name": "sneaky", tt.field: tt.value})
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.Equal(t, tt.field+" cannot be changed: create a new compute environment", r.Message)
	}
	for body, want := range map[string]string{
		`{"name":"bad name"}`: `name: "bad name" is not a valid compute environment name`,
		`{"name":""}`:         "name: compute environment name is required",
		`{"enabled":"no"}`:    "enabled: must be true or false",
		`{"id":"x"}`:          `unknown field "id"`,
	} {
		r := c.do(http.MethodPatch, "/v1/compute-envs/"+id, body)
		assert.Equal(t, http.StatusBadRequest, r.Status, body)
		assert.Contains(t, r.Message, want, body)
	}
	got := c.do(http.MethodGet, "/v1/compute-envs/"+id, nil).data(t)
	assert.Equal(t, "do-frankfurt", got["name"], "rejected patches changed nothing")
	assert.Equal(t, "s-2vcpu-4gb", got["instance_type"])
}

func TestComputeEnvDeleteRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	ctx := context.Background()
	auth := insertCloudAuth(t, a, c.project.ID)
	env := c.do(http.MethodPost, "/v1/compute-envs", cloudEnv(auth, "do-fra")).id(t)
	qa := mustCreateQueue(t, c, "a")
	qb := mustCreateQueue(t, c, "b")
	del := func() response { return c.do(http.MethodDelete, "/v1/compute-envs/"+env, nil) }

	// Enabled: refuse.
	r := del()
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "compute environment 'do-fra' is enabled: disable it first (PATCH enabled=false)", r.Message)
	require.Equal(t, http.StatusOK, c.do(http.MethodPatch, "/v1/compute-envs/"+env, map[string]any{"enabled": false}).Status)

	// Active spawns: refuse, naming how many; failed and terminated ones do not count.
	s1 := insertComputeSpawn(t, a, c.project.ID, qa, env, "idle")
	s2 := insertComputeSpawn(t, a, c.project.ID, qa, env, "termination_failed")
	insertComputeSpawn(t, a, c.project.ID, qa, env, "failed")
	r = del()
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "compute environment 'do-fra' has 2 active compute spawns: wait until they are terminated", r.Message)
	setRowState(t, a, "compute_spawns", s1, "terminated")
	r = del()
	assert.Equal(t, "compute environment 'do-fra' has 1 active compute spawn: wait until it is terminated", r.Message)
	setRowState(t, a, "compute_spawns", s2, "terminated")

	// In job queues: refuse, naming them.
	for _, q := range []string{qb, qa} {
		require.Equal(t, http.StatusCreated, c.do(http.MethodPost, "/v1/job-queues/"+q+"/compute-envs", map[string]any{"compute_env_id": env}).Status)
	}
	r = del()
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "compute environment 'do-fra' is in job queues 'a' and 'b': remove it from job queues 'a' and 'b' first", r.Message)
	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/job-queues/"+qa+"/compute-envs/"+env, nil).Status)
	r = del()
	assert.Equal(t, "compute environment 'do-fra' is in job queue 'b': remove it from job queue 'b' first", r.Message)
	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/job-queues/"+qb+"/compute-envs/"+env, nil).Status)
	assert.Equal(t, http.StatusOK, c.do(http.MethodGet, "/v1/compute-envs/"+env, nil).Status, "every refusal left the environment in place")

	// Every condition cleared: delete.
	r = del()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": env, "deleted": true}, r.data(t))
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodGet, "/v1/compute-envs/"+env, nil).Status)
	assert.Equal(t, http.StatusNotFound, del().Status, "deleting twice")
	var list domain.Page[domain.ComputeEnv]
	c.do(http.MethodGet, "/v1/compute-envs", nil).decode(t, &list)
	assert.Empty(t, list.Items)
	r = c.do(http.MethodPost, "/v1/job-queues/"+qa+"/compute-envs", map[string]any{"compute_env_id": env})
	assert.Equal(t, http.StatusBadRequest, r.Status, "a deleted environment cannot join a queue: %s", r.Raw)

	// The spawns' history keeps its environment, yet its cloud auth and its name are free again.
	var spawns int
	require.NoError(t, a.st.Pool.QueryRow(ctx, `SELECT count(*) FROM compute_spawns WHERE compute_env_id = $1`, env).Scan(&spawns))
	assert.Equal(t, 3, spawns)
	r = c.do(http.MethodDelete, "/v1/cloud-auths/"+auth, nil)
	assert.Equal(t, http.StatusOK, r.Status, "a deleted compute environment does not hold its cloud auth: %s", r.Raw)
	mustCreateEnv(t, c, "do-fra")
}

func TestComputeEnvListPaginates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	other := a.newProject("other")
	mustCreateEnv(t, other, "not-mine")
	want := []string{"e1", "e2", "e3", "e4", "e5"}
	for _, n := range want {
		mustCreateEnv(t, c, n)
	}
	assertPaginates(t, c, paging[domain.ComputeEnv]{path: "/v1/compute-envs", limit: 2, pages: 3, want: want, order: "every item once, in creation order",
		key: func(e domain.ComputeEnv) string { return e.Name }, refused: map[string]string{"limit=0": "limit:", "limit=x": "limit:", "next_token=bogus": "next_token:"}})

	r := c.do(http.MethodGet, "/v1/compute-envs", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "", r.data(t)["next_token"], "one page holds them all by default")
}

func TestComputeEnvIsInvisibleToOtherProjects(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	owner := a.newProject("acme")
	intruder := a.newProject("intruder")
	env := mustCreateEnv(t, owner, "rack")
	require.Equal(t, http.StatusOK, owner.do(http.MethodPatch, "/v1/compute-envs/"+env, map[string]any{"enabled": false}).Status)

	for _, req := range []struct {
		method string
		body   any
	}{
		{http.MethodGet, nil},
		{http.MethodPatch, map[string]any{"name": "mine-now", "enabled": true}},
		{http.MethodDelete, nil},
	} {
		r := intruder.do(req.method, "/v1/compute-envs/"+env, req.body)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s: %s", req.method, r.Raw)
		assert.Equal(t, `no compute environment with id "`+env+`" in this project`, r.Message)
	}
	var list domain.Page[domain.ComputeEnv]
	intruder.do(http.MethodGet, "/v1/compute-envs", nil).decode(t, &list)
	assert.Empty(t, list.Items, "another project's list does not show it")

	got := owner.do(http.MethodGet, "/v1/compute-envs/"+env, nil).data(t)
	assert.Equal(t, "rack", got["name"], "the intruder changed nothing")
	assert.Equal(t, false, got["enabled"])

	for _, id := range []string{"not-a-uuid", store.NewID()} {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			r := owner.do(method, "/v1/compute-envs/"+id, nil)
			assert.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", method, id, r.Raw)
			assert.Contains(t, r.Message, "no compute environment with id")
		}
	}
}

// A cloud compute environment is checked with its provider (here the real
// DigitalOcean SDK against the fake) and records the instance type's size.
func TestCloudComputeEnvIsCheckedWithTheProvider(t *testing.T) {
	t.Parallel()
	a, c, fake, auth := doAccount(t)
	env := func(name, region, typ string) map[string]any {
		return map[string]any{"name": name, "cloud_auth_id": auth, "region": region, "instance_type": typ}
	}

	r := c.do(http.MethodPost, "/v1/compute-envs", env("do-big", "nyc3", "c-4"))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	d := r.data(t)
	assert.EqualValues(t, 4, d["instance_vcpu"])
	assert.EqualValues(t, 8192, d["instance_memory_mb"])
	assert.Equal(t, 0.125, d["hourly_price"])
	got := c.do(http.MethodGet, "/v1/compute-envs/"+r.id(t), nil)
	assert.JSONEq(t, string(r.Data), string(got.Data), "the sizes are stored")
	var list domain.Page[domain.ComputeEnv]
	c.do(http.MethodGet, "/v1/compute-envs", nil).decode(t, &list)
	require.Len(t, list.Items, 1)
	require.NotNil(t, list.Items[0].InstanceVCPU)
	assert.Equal(t, 4, *list.Items[0].InstanceVCPU)
	calls := len(fake.Calls())

	// The listings are cached: a second environment in the region asks nothing.
	r = c.do(http.MethodPost, "/v1/compute-envs", env("do-small", "nyc3", "s-1vcpu-1gb"))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, calls, len(fake.Calls()), "regions and types came from the cache")

	before := a.count("compute_envs")
	for _, tt := range []struct {
		name, region, typ, want string
	}{
		{"unknown-type", "nyc3", "s-99vcpu", `instance_type: "s-99vcpu" is not offered by DigitalOcean in region nyc3: see GET /v1/cloud-auths/` + auth + "/instance-types?region=nyc3"},
		{"type-elsewhere", "fra1", "c-4", `instance_type: "c-4" is not offered by DigitalOcean in region fra1: see GET /v1/cloud-auths/` + auth + "/instance-types?region=fra1"},
		{"unknown-region", "mars1", "c-4", `region: "mars1" is not a DigitalOcean region this account can use: see GET /v1/cloud-auths/` + auth + "/regions"},
		{"retired-region", "sfo1", "c-4", `region: "sfo1" is not a DigitalOcean region this account can use`},
	} {
		r := c.do(http.MethodPost, "/v1/compute-envs", env(tt.name, tt.region, tt.typ))
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tt.name, r.Raw)
		assert.Contains(t, r.Message, tt.want, tt.name)
	}
	assert.Equal(t, before, a.count("compute_envs"), "a rejected environment writes nothing")
	// A type or region missing from a cached listing is read again once
	// before it is refused (it may be new since); a fresh listing is not.
	assert.Equal(t, 3, countCalls(fake, regionsCall), "the first read, then one per refused region (mars1, sfo1)")
	assert.Equal(t, 3, countCalls(fake, sizesCall), "nyc3, nyc3 again for s-99vcpu, fra1 once")

	// With the listings cached, a DigitalOcean outage does not stop a valid environment.
	fake.FailServer(2)
	r = c.do(http.MethodPost, "/v1/compute-envs", env("do-cached", "nyc3", "s-2vcpu-4gb"))
	assert.Equal(t, http.StatusCreated, r.Status, r.Raw)
}

func TestCloudComputeEnvWhenTheProviderIsDown(t *testing.T) {
	t.Parallel()
	a, c, fake, auth := doAccount(t)
	fake.FailServer(1)
	r := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "do", "cloud_auth_id": auth, "region": "nyc3", "instance_type": "c-4"})
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "could not list regions with DigitalOcean: DigitalOcean did not answer the request to list regions (HTTP 500): try again later or check https://status.digitalocean.com", r.Message)
	assert.Zero(t, a.count("compute_envs"), "nothing written")

	// The same request once DigitalOcean answers again.
	r = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "do", "cloud_auth_id": auth, "region": "nyc3", "instance_type": "c-4"})
	assert.Equal(t, http.StatusCreated, r.Status, r.Raw)
}

// A server without an implementation of the cloud auth's provider refuses
// cloud environments with a 503 saying so, rather than storing one it could
// never start a machine for.
func TestCloudComputeEnvWhenTheProviderIsNotConfigured(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, cloud.NewRegistry())
	c := a.newProject("acme")
	auth := insertCloudAuth(t, a, c.project.ID)
	r := c.do(http.MethodPost, "/v1/compute-envs", cloudEnv(auth, "do-fra"))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "DigitalOcean is not configured on this daestro server", r.Message)
	assert.Zero(t, a.count("compute_envs"))
	assert.Equal(t, http.StatusCreated, c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "rack", "kind": "selfhosted"}).Status,
		"self-hosted environments need no provider")
}
