package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createRoute is a route that writes one row when it succeeds.
type createRoute struct {
	method, path string
	seeds        []string
}

// FuzzCreateBodies sends arbitrary bodies to every create route: the answer is
// never a 5xx, and a rejected request writes nothing while an accepted one
// writes exactly one row. `go test` runs the seeds; `make fuzz` explores.
func FuzzCreateBodies(f *testing.F) {
	a := newAPI(f)
	c := a.newProject("acme")
	fx := seed(a.tb(), c, "nightly")
	routes := []createRoute{
		{http.MethodPost, "/v1/cloud-auths", []string{
			`{"name":"do-x","provider":"digitalocean","access_token":"dop_v1_abcdefabcdefabcdef"}`,
			`{"name":"aws-x","provider":"aws","access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"s","default_region":"eu-west-1"}`,
			`{"name":"","provider":"aws"}`, `{"provider":"vultr","access_token":null}`}},
		{http.MethodPost, "/v1/compute-envs", []string{
			`{"name":"sh-x","kind":"selfhosted","usable_cpu_pct":50,"usable_memory_mb":1024}`,
			fmt.Sprintf(`{"name":"cl-x","kind":"cloud","cloud_auth_id":%q,"instance_type":"t3.small","region":"us-east-1"}`, fx.cloudAuth),
			`{"name":"sh-y","kind":"selfhosted","usable_cpu_pct":9}`, `{"name":"cl-y","kind":"cloud","cloud_auth_id":"not-a-uuid"}`,
			`{"name":"sh-z","kind":"selfhosted","usable_memory_mb":-1}`}},
		{http.MethodPost, "/v1/job-queues", []string{
			`{"name":"q-x","priority":1000,"max_concurrency":5,"max_spawns":2,"max_idle_seconds":60}`,
			`{"name":"q-y","priority":0}`, `{"name":"q-z","priority":1e99}`, `{"name":"q-w","priority":1,"enabled":true}`,
			`{"name":"q-v","priority":5,"ssh_public_key":"ssh-rsa AAAA nope"}`}},
		{http.MethodPost, "/v1/job-queues/" + fx.jobQueue + "/compute-envs", []string{
			fmt.Sprintf(`{"compute_env_id":%q}`, fx.computeEnv), `{"compute_env_id":"00000000-0000-0000-0000-000000000000"}`, `{"compute_env_id":7}`}},
		{http.MethodPost, "/v1/registry-auths", []string{
			`{"name":"r-x","registry_url":"registry.example.com:5000","username":"u","password":"p4ssw0rd-p4ssw0rd"}`,
			`{"name":"r-y"}`, `{"name":"r-z","username":"only-user"}`}},
		{http.MethodPost, "/v1/job-definitions", []string{
			`{"name":"d-x","type":"docker","image":"busybox:1","command":["echo","Param::msg"],"parameters":{"msg":"hi"},"env":{"A":{"value":"1"},"S":{"value":"top","sensitive":true}},"cpu_quota_pct":50,"memory_mb":256,"timeout_seconds":30}`,
			`{"name":"d-y","type":"bash","script":"echo hi"}`, `{"name":"d-z","type":"docker","image":"x","cpu_quota_pct":50}`,
			`{"name":"d-w","type":"docker","image":"x","env":{"DAESTRO_JOB_ID":{"value":"x"}}}`, `{"name":"d-v","type":"docker","image":"x","timeout_seconds":-1}`}},
		{http.MethodPost, "/v1/job-definitions/" + fx.jobDefinition + "/revisions", []string{
			`{"image":"ghcr.io/acme/etl:2"}`, `{"name":"renamed"}`, `{"memory_mb":128}`, `{}`}},
		{http.MethodPost, "/v1/api-keys", []string{`{"name":"k"}`, `{"name":""}`, `{"name":["x"]}`}},
	}
	for i, r := range routes {
		for _, s := range append(r.seeds, ``, `null`, `[]`, `"x"`, `{"name":null}`, `{`, `{"name":"a","name":"b"}`, "{\"name\":\"\u00e9\u0000\"}") {
			f.Add(uint8(i), []byte(s))
		}
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		route := routes[int(which)%len(routes)]
		tc := client{a: &api{t: t, url: a.url, st: a.st}, key: c.key, project: c.project}
		before := map[string]int{}
		for _, tbl := range catalogTables {
			before[tbl] = tc.a.count(tbl)
		}
		r := tc.do(route.method, route.path, string(body))
		require.Less(t, r.Status, 500, "%s %s %q → %s", route.method, route.path, body, r.Raw)
		added := 0
		for _, tbl := range catalogTables {
			d := tc.a.count(tbl) - before[tbl]
			assert.GreaterOrEqual(t, d, 0, "%s lost rows", tbl)
			added += d
		}
		if r.OK {
			assert.Equal(t, 1, added, "an accepted create writes exactly one row: %q → %s", body, r.Raw)
		} else {
			assert.GreaterOrEqual(t, r.Status, 400)
			assert.NotEmpty(t, r.Message, "a rejection says why")
			assert.Equal(t, 0, added, "a rejected request writes nothing: %q → %s", body, r.Raw)
		}
	})
}
