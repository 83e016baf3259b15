package apiserver_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
	"daestro/internal/cloud/digitalocean"
	"daestro/internal/domain"
	"daestro/internal/store"
)

var doToken = "dop_v1_0123456789abcdef0123456789abcdefWXYZ"

func awsAuth(name string) map[string]any {
	return map[string]any{"name": name, "provider": "aws", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
		"secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "default_region": "us-east-1"}
}

func TestCloudAuthCreateShowsHintAndHonestValidation(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, cloud.NewRegistry()) // no provider wired
	c := a.newProject("acme")

	r := c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "do-main", "provider": "digitalocean", "access_token": doToken})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	d := r.data(t)
	assert.Equal(t, "do-main", d["name"])
	assert.Equal(t, "digitalocean", d["provider"])
	assert.Equal(t, "…WXYZ", d["credentials_hint"])
	assert.Equal(t, map[string]any{"status": "unavailable", "message": "validation not available for digitalocean: the credentials were stored unchecked"}, d["validation"],
		"without a provider the API never pretends the credentials are valid")
	assert.NotContains(t, r.Raw, doToken)
	assert.NotEmpty(t, d["created_at"])

	r = c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("aws-main"))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, "…MPLE", r.data(t)["credentials_hint"])
	assert.NotContains(t, r.Raw, "wJalrXUtnFEMI")

	get := c.do(http.MethodGet, "/v1/cloud-auths/"+r.id(t), nil)
	require.Equal(t, http.StatusOK, get.Status)
	assert.Equal(t, "us-east-1", get.data(t)["default_region"])
	assert.NotContains(t, get.Raw, "wJalrXUtnFEMI")
}

// rejectingValidator stands in for a provider that refuses every credential.
type rejectingValidator struct{}

func (rejectingValidator) ValidateCredentials(context.Context, cloud.Credentials, string) error {
	return domain.Errorf(domain.EINVALID, "DigitalOcean rejected this access token")
}

func TestCloudAuthRejectedByProviderWritesNothing(t *testing.T) {
	t.Parallel()
	reg := cloud.NewRegistry()
	reg.SetValidator(cloud.DigitalOcean, rejectingValidator{})
	a := newAPIWith(t, reg)
	c := a.newProject("acme")
	r := c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "x", "provider": "digitalocean", "access_token": doToken})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "DigitalOcean rejected this access token", r.Message)
	assert.Equal(t, 0, a.count("cloud_auths"))
}

func TestCloudAuthInvalidInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	with := func(k string, v any) map[string]any { return bodyWith(awsAuth("ok"), map[string]any{k: v}) }
	assertRejected(t, c, "/v1/cloud-auths", "cloud_auths", []rejected{
		{"no name", with("name", nil), "name: cloud auth name is required"},
		{"bad name", with("name", "has space"), `name: "has space" is not a valid cloud auth name`},
		{"long name", with("name", string(make([]byte, 129))), "name:"},
		{"unknown provider", with("provider", "gcp"), `provider: "gcp" is not one of aws, digitalocean, linode, vultr, localdocker`},
		{"aws without key id", with("access_key_id", nil), "access_key_id: required for aws"},
		{"aws bad key id", with("access_key_id", "akia-lower"), "access_key_id:"},
		{"aws without secret", with("secret_access_key", nil), "secret_access_key: required for aws"},
		{"aws without region", with("default_region", nil), "default_region: required for aws"},
		{"aws bad region", with("default_region", "Mars"), `default_region: "Mars" is not an AWS region`},
		{"aws with token", with("access_token", "x"), "access_token: aws uses access_key_id"},
		{"do without token", map[string]any{"name": "x", "provider": "linode"}, "access_token: required for linode"},
		{"do with region", map[string]any{"name": "x", "provider": "vultr", "access_token": doToken, "default_region": "ewr"}, "default_region: only aws"},
		{"do with key pair", map[string]any{"name": "x", "provider": "vultr", "access_token": doToken, "access_key_id": "AKIAIOSFODNN7EXAMPLE"}, "vultr uses access_token"},
		{"unknown field", `{"name":"x","provider":"vultr","access_token":"t","colour":"red"}`, `unknown field "colour"`},
		{"wrong type", `{"name":5}`, "name: must be a string"},
		{"not json", `{"name":`, "request body is"},
		{"empty", ``, "request body is empty"},
		{"array", `[1]`, "request body must be a JSON object"},
	})
	assert.Equal(t, 0, a.count("cloud_auths"), "no rejected request wrote anything")
}

func TestCloudAuthNamesAreUniquePerProject(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme, other := a.newProject("acme"), a.newProject("other")
	require.Equal(t, http.StatusCreated, acme.do(http.MethodPost, "/v1/cloud-auths", awsAuth("main")).Status)
	r := acme.do(http.MethodPost, "/v1/cloud-auths", awsAuth("main"))
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "a cloud auth named 'main' already exists", r.Message)
	assert.Equal(t, http.StatusCreated, other.do(http.MethodPost, "/v1/cloud-auths", awsAuth("main")).Status, "another project may use the same name")
}

func TestCloudAuthUpdate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	id := c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("main")).id(t)
	c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("taken")).id(t)

	r := c.do(http.MethodPatch, "/v1/cloud-auths/"+id, map[string]any{"name": "renamed"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, "renamed", r.data(t)["name"])
	assert.Nil(t, r.data(t)["warnings"], "a rename changes no keys")

	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, map[string]any{"access_key_id": "AKIANEWKEY000000ABCD", "secret_access_key": "new-secret"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, "…ABCD", r.data(t)["credentials_hint"])
	assert.Equal(t, fixedAccount, r.data(t)["account_id"], "the provider says the new keys are of the same account")
	assert.Nil(t, r.data(t)["warnings"], "keys of the same account: nothing to warn about")
	_, creds, err := a.st.CloudAuthCredentials(context.Background(), c.project.ID, id)
	require.NoError(t, err)
	assert.Equal(t, cloud.Credentials{AccessKeyID: "AKIANEWKEY000000ABCD", SecretAccessKey: "new-secret"}, creds)

	for _, tt := range []struct {
		body any
		code int
		want string
	}{
		{map[string]any{"access_key_id": "AKIAONLYHALF00000000"}, http.StatusBadRequest, "secret_access_key: required for aws"},
		{map[string]any{"access_token": "x"}, http.StatusBadRequest, "access_token: aws uses"},
		{map[string]any{"provider": "vultr"}, http.StatusBadRequest, `unknown field "provider"`},
		{map[string]any{"name": "taken"}, http.StatusConflict, "a cloud auth named 'taken' already exists"},
		{map[string]any{"name": "bad name"}, http.StatusBadRequest, "name:"},
	} {
		r := c.do(http.MethodPatch, "/v1/cloud-auths/"+id, tt.body)
		assert.Equal(t, tt.code, r.Status, r.Raw)
		assert.Contains(t, r.Message, tt.want)
	}
	r = c.do(http.MethodGet, "/v1/cloud-auths/"+id, nil)
	assert.Equal(t, "renamed", r.data(t)["name"], "rejected updates changed nothing")
	assert.Equal(t, "…ABCD", r.data(t)["credentials_hint"])
}

func TestCloudAuthDeleteOnlyWhenNoComputeEnvUsesIt(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	id := c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("main")).id(t)
	_, err := a.st.Pool.Exec(context.Background(), `INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, instance_type, region)
		VALUES (gen_random_uuid(), $1, 'big-box', 'cloud', $2, 't3.large', 'us-east-1'),
		       (gen_random_uuid(), $1, 'small-box', 'cloud', $2, 't3.small', 'us-east-1')`, c.project.ID, id)
	require.NoError(t, err)

	r := c.do(http.MethodDelete, "/v1/cloud-auths/"+id, nil)
	assert.Equal(t, http.StatusConflict, r.Status)
	assert.Equal(t, "cloud auth 'main' is used by compute environments 'big-box' and 'small-box': delete them first", r.Message)

	_, err = a.st.Pool.Exec(context.Background(), `DELETE FROM compute_envs`)
	require.NoError(t, err)
	r = c.do(http.MethodDelete, "/v1/cloud-auths/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, true, r.data(t)["deleted"])
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodGet, "/v1/cloud-auths/"+id, nil).Status)
}

func TestCloudAuthListPaginates(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	want := []string{"a1", "a2", "a3", "a4", "a5"}
	for _, n := range want {
		c.do(http.MethodPost, "/v1/cloud-auths", awsAuth(n)).id(t)
	}
	assertPaginates(t, c, paging[domain.CloudAuth]{path: "/v1/cloud-auths", limit: 2, pages: 3, want: want, order: "every item once, in creation order",
		key: func(ca domain.CloudAuth) string { return ca.Name }, refused: map[string]string{
			"limit=0":          "limit: \"0\" must be a whole number from 1 to 500",
			"limit=501":        "limit:",
			"limit=x":          "limit:",
			"next_token=bogus": "next_token:",
		}})
}

// A DigitalOcean cloud auth is checked against DigitalOcean (here the
// in-repo fake speaking its wire format, through the real SDK): a token it
// refuses is a 400 with its reason and nothing is written.
func TestDigitalOceanCloudAuthIsValidatedByTheProvider(t *testing.T) {
	t.Parallel()
	fake := dofake.New(t)
	reg := cloud.NewRegistry()
	reg.Register(cloud.DigitalOcean, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return digitalocean.New(c.AccessToken, digitalocean.WithBaseURL(fake.URL))
	})
	a := newAPIWith(t, reg)
	c := a.newProject("acme")

	r := c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "do", "provider": "digitalocean", "access_token": "dop_v1_wrong-token-0000"})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "DigitalOcean rejected this access token")
	assert.Equal(t, 0, a.count("cloud_auths"))

	r = c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "do", "provider": "digitalocean", "access_token": dofake.Token})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"status": "valid", "message": "DigitalOcean accepted the credentials"}, r.data(t)["validation"])
}

// The API's provider list is cloud's: a provider the registry knows is one a
// cloud auth may name.
func TestCloudProvidersAreTheRegistrysProviders(t *testing.T) {
	assert.Equal(t, cloud.Providers, domain.CloudProviders)
}

// A localdocker cloud auth (the local Docker engine) takes no credentials:
// one given anyway is refused by name rather than stored and never used.
func TestLocalDockerCloudAuthTakesNoCredentials(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")

	for _, tt := range []struct {
		field string
		value any
	}{
		{"access_token", "tok"},
		{"access_key_id", "AKIAIOSFODNN7EXAMPLE"},
		{"secret_access_key", "s3cret"},
	} {
		r := c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "local", "provider": "localdocker", tt.field: tt.value})
		assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
		assert.Equal(t, tt.field+": localdocker takes no credentials (it uses the Docker engine of the daestro worker); leave "+tt.field+" out", r.Message)
	}
	r := c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "local", "provider": "localdocker", "default_region": "local"})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "default_region: only aws takes a default region")
	assert.Zero(t, a.count("cloud_auths"), "no rejected request wrote anything")

	r = c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "local", "provider": "localdocker"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	d := r.data(t)
	assert.Equal(t, "localdocker", d["provider"])
	assert.Equal(t, "", d["credentials_hint"], "no credentials, nothing to hint at")
	id := r.id(t)
	_, creds, err := a.st.CloudAuthCredentials(context.Background(), c.project.ID, id)
	require.NoError(t, err, "the empty credentials are sealed and opened like any others")
	assert.Equal(t, cloud.Credentials{}, creds)

	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, map[string]any{"access_token": "tok"})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "access_token: localdocker takes no credentials")

	// Its catalog and environments go through its provider like any other's.
	regions := getCatalog(t, c, "/v1/cloud-auths/"+id+"/regions")
	assert.NotEmpty(t, regions.Items)
	assert.Equal(t, "localdocker", regions.Provider)
	r = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "laptop", "cloud_auth_id": id, "region": "local", "instance_type": "s-2vcpu-4gb"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.EqualValues(t, 2, r.data(t)["instance_vcpu"])
}

// A cloud auth whose machines ran and were terminated is deletable once no
// compute environment uses it; the spawns keep what they ran on.
func TestCloudAuthOfFinishedSpawnsIsDeletable(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	id := c.do(http.MethodPost, "/v1/cloud-auths", awsAuth("main")).id(t)
	queue := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 10}).id(t)
	env, spawn := store.NewID(), store.NewID()
	ctx := context.Background()
	_, err := a.st.Pool.Exec(ctx, `INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, instance_type, region, enabled)
		VALUES ($1, $2, 'box', 'cloud', $3, 't3.small', 'us-east-1', false)`, env, c.project.ID, id)
	require.NoError(t, err)
	_, err = a.st.Pool.Exec(ctx, `INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, provider, cloud_auth_id, region, instance_type, instance_id)
		VALUES ($1, $2, $3, $4, 'cloud', 'terminated', 'aws', $5, 'us-east-1', 't3.small', 'i-0abc')`, spawn, c.project.ID, queue, env, id)
	require.NoError(t, err)

	r := c.do(http.MethodDelete, "/v1/compute-envs/"+env, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = c.do(http.MethodDelete, "/v1/cloud-auths/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status, "deletable: no compute environment uses it: %s", r.Raw)
	sp := getSpawn(t, c, spawn)
	require.NotNil(t, sp.Machine)
	assert.Equal(t, "aws", sp.Machine.Provider, "the spawn's history stays")
	assert.Equal(t, "i-0abc", sp.Machine.InstanceID)
}
