package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
	"daestro/internal/cloud/digitalocean"
	"daestro/internal/domain"
)

// doClouds is a registry wiring the real DigitalOcean provider (godo) to
// fake, with retries short enough for tests: two attempts per call.
func doClouds(fake *dofake.Server) *cloud.Registry {
	reg := cloud.NewRegistry()
	reg.Register(cloud.DigitalOcean, func(creds cloud.Credentials, _ string) (cloud.Provider, error) {
		return digitalocean.New(creds.AccessToken, digitalocean.WithBaseURL(fake.URL),
			digitalocean.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	})
	return reg
}

// countCalls counts the fake's requests "METHOD /path".
func countCalls(fake *dofake.Server, call string) int {
	n := 0
	for _, c := range fake.Calls() {
		if c == call {
			n++
		}
	}
	return n
}

const (
	regionsCall = "GET /v2/regions"
	sizesCall   = "GET /v2/sizes"
)

// doAccount is a server on the DigitalOcean fake with one project and one
// DigitalOcean cloud auth, created (and validated) through the API.
func doAccount(t *testing.T) (*api, client, *dofake.Server, string) {
	t.Helper()
	fake := dofake.New(t)
	a := newAPIWith(t, doClouds(fake))
	c := a.newProject("acme")
	r := c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "do", "provider": "digitalocean", "access_token": dofake.Token})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	return a, c, fake, r.id(t)
}

// catalogList is the data of the two catalog routes.
type catalogList struct {
	Items     []map[string]any `json:"items"`
	NextToken *string          `json:"next_token"`
	Provider  string           `json:"provider"`
	Region    string           `json:"region"`
	CachedAt  time.Time        `json:"cached_at"`
}

func getCatalog(t *testing.T, c client, path string) catalogList {
	t.Helper()
	return getData[catalogList](t, c, path)
}

func TestCloudCatalogListsRegionsAndInstanceTypes(t *testing.T) {
	t.Parallel()
	_, c, _, auth := doAccount(t)

	regions := getCatalog(t, c, "/v1/cloud-auths/"+auth+"/regions")
	assert.Equal(t, []map[string]any{
		{"id": "fra1", "name": "Frankfurt 1"},
		{"id": "nyc3", "name": "New York 3"},
	}, regions.Items, "available regions only (sfo1 is retired), sorted by id")
	require.NotNil(t, regions.NextToken, "the list has the shape of every list")
	assert.Empty(t, *regions.NextToken, "one page")
	assert.Equal(t, "digitalocean", regions.Provider)
	assert.WithinDuration(t, time.Now(), regions.CachedAt, time.Minute)

	types := getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=nyc3")
	assert.Equal(t, []map[string]any{
		{"id": "s-1vcpu-1gb", "vcpu": 1.0, "memory_mb": 1024.0, "hourly_price": 0.00893},
		{"id": "s-2vcpu-4gb", "vcpu": 2.0, "memory_mb": 4096.0, "hourly_price": 0.03571},
		{"id": "c-4", "vcpu": 4.0, "memory_mb": 8192.0, "hourly_price": 0.125},
	}, types.Items, "smallest first")
	assert.Equal(t, "nyc3", types.Region)
	assert.Equal(t, "digitalocean", types.Provider)
	require.NotNil(t, types.NextToken)

	fra := getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=fra1")
	var ids []string
	for _, it := range fra.Items {
		ids = append(ids, it["id"].(string))
	}
	assert.Equal(t, []string{"s-1vcpu-1gb", "s-2vcpu-4gb"}, ids, "only the types offered in that region")

	for _, tt := range []struct{ query, want string }{
		{"", "region: is required (e.g. ?region=nyc3): GET /v1/cloud-auths/" + auth + "/regions lists them"},
		{"?region=mars1", `region: "mars1" is not a DigitalOcean region this account can use: see GET /v1/cloud-auths/` + auth + "/regions"},
		{"?region=sfo1", `region: "sfo1" is not a DigitalOcean region`},
		{"?region=nyc3&refresh=maybe", `refresh: "maybe" must be true or false`},
		{"?region=" + strings.Repeat("x", 129), "region: is 129 characters long"},
	} {
		r := c.do(http.MethodGet, "/v1/cloud-auths/"+auth+"/instance-types"+tt.query, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tt.query, r.Raw)
		assert.Contains(t, r.Message, tt.want, tt.query)
	}
	r := c.do(http.MethodGet, "/v1/cloud-auths/"+auth+"/regions?refresh=yes", nil)
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Equal(t, `refresh: "yes" must be true or false`, r.Message)
}

// The instance types default to the cloud auth's default region (AWS auths
// have one); the fixed test catalog stands in for AWS.
func TestCloudCatalogInstanceTypesDefaultToTheDefaultRegion(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	auth := c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("aws")).id(t)
	l := getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types")
	assert.Equal(t, "us-east-1", l.Region)
	assert.Equal(t, "aws", l.Provider)
	assert.Len(t, l.Items, len(fixedTypes))
}

func TestCloudCatalogIsCachedAndRefreshable(t *testing.T) {
	t.Parallel()
	_, c, fake, auth := doAccount(t)
	regionsPath := "/v1/cloud-auths/" + auth + "/regions"

	first := getCatalog(t, c, regionsPath)
	require.Equal(t, 1, countCalls(fake, regionsCall))
	again := getCatalog(t, c, regionsPath)
	assert.Equal(t, 1, countCalls(fake, regionsCall), "the second listing comes from the cache")
	assert.Equal(t, first.CachedAt, again.CachedAt, "cached_at says when the provider was asked")
	assert.Equal(t, first.Items, again.Items)

	refreshed := getCatalog(t, c, regionsPath+"?refresh=true")
	assert.Equal(t, 2, countCalls(fake, regionsCall), "refresh=true asks the provider")
	assert.True(t, refreshed.CachedAt.After(first.CachedAt), "%v after %v", refreshed.CachedAt, first.CachedAt)
	assert.Equal(t, refreshed.CachedAt, getCatalog(t, c, regionsPath).CachedAt, "the refreshed listing replaced the cached one")
	assert.Equal(t, 2, countCalls(fake, regionsCall))

	// Instance types are cached per region; the region check uses the cached regions.
	getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=nyc3")
	getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=nyc3")
	assert.Equal(t, 1, countCalls(fake, sizesCall))
	getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=fra1")
	assert.Equal(t, 2, countCalls(fake, sizesCall), "another region is another listing")
	getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=fra1&refresh=true")
	assert.Equal(t, 3, countCalls(fake, sizesCall))
	assert.Equal(t, 3, countCalls(fake, regionsCall), "refresh=true also re-reads the regions it checks the region against")

	// Updating the cloud auth drops its listings.
	r := c.do(http.MethodPatch, "/v1/cloud-auths/"+auth, map[string]any{"access_token": dofake.Token})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	getCatalog(t, c, regionsPath)
	assert.Equal(t, 4, countCalls(fake, regionsCall), "new keys, new listing")
	getCatalog(t, c, "/v1/cloud-auths/"+auth+"/instance-types?region=nyc3")
	assert.Equal(t, 4, countCalls(fake, sizesCall))

	// Deleting it makes its catalog a 404 like the rest of it.
	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/cloud-auths/"+auth, nil).Status)
	for _, p := range []string{regionsPath, "/v1/cloud-auths/" + auth + "/instance-types?region=nyc3"} {
		r := c.do(http.MethodGet, p, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s: %s", p, r.Raw)
		assert.Equal(t, `no cloud auth with id "`+auth+`" in this project`, r.Message)
	}
}

// Concurrent requests on a cold cache make one provider call between them.
func TestCloudCatalogConcurrentMissesShareOneCall(t *testing.T) {
	t.Parallel()
	_, c, fake, auth := doAccount(t)
	fake.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() { statuses[i] = c.do(http.MethodGet, "/v1/cloud-auths/"+auth+"/regions", nil).Status })
	}
	wg.Wait()
	for _, st := range statuses {
		assert.Equal(t, http.StatusOK, st)
	}
	assert.Equal(t, 1, countCalls(fake, regionsCall))
}

func TestCloudCatalogProviderErrors(t *testing.T) {
	t.Parallel()
	a, c, fake, auth := doAccount(t)

	// DigitalOcean failing (a 5xx is tried once: the user repeats the request): 503 with its sentence.
	fake.FailServer(1)
	r := c.do(http.MethodGet, "/v1/cloud-auths/"+auth+"/regions", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "could not list regions with DigitalOcean: DigitalOcean did not answer the request to list regions (HTTP 500): try again later or check https://status.digitalocean.com", r.Message)
	// A failure is not cached: the next request asks again and succeeds.
	assert.Len(t, getCatalog(t, c, "/v1/cloud-auths/"+auth+"/regions").Items, 2)

	// A token DigitalOcean refuses (stored while it was valid, say): 400 with its sentence.
	revoked, err := a.st.CreateCloudAuth(context.Background(), c.project.ID, domain.CloudAuthInput{Name: "revoked", Provider: "digitalocean", AccessToken: "dop_v1_revoked-0000000000"}, "")
	require.NoError(t, err)
	r = c.do(http.MethodGet, "/v1/cloud-auths/"+revoked.ID+"/regions", nil)
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "DigitalOcean rejected this access token")

	// A provider this server has no implementation for: 503 saying so.
	linode, err := a.st.CreateCloudAuth(context.Background(), c.project.ID, domain.CloudAuthInput{Name: "lin", Provider: "linode", AccessToken: "linode-token-0000000000"}, "")
	require.NoError(t, err)
	r = c.do(http.MethodGet, "/v1/cloud-auths/"+linode.ID+"/regions", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "Linode is not configured on this daestro server", r.Message)
}

func TestCloudCatalogIsInvisibleToOtherProjects(t *testing.T) {
	t.Parallel()
	a, _, fake, auth := doAccount(t)
	intruder := a.newProject("intruder")
	before := len(fake.Calls())
	for _, p := range []string{"/regions", "/regions?refresh=true", "/instance-types?region=nyc3", "/instance-types"} {
		r := intruder.do(http.MethodGet, "/v1/cloud-auths/"+auth+p, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s: %s", p, r.Raw)
		assert.Equal(t, `no cloud auth with id "`+auth+`" in this project`, r.Message)
	}
	assert.Equal(t, before, len(fake.Calls()), "nothing was asked of the owner's account")
}
