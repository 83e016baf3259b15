package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

// createRegistryAuth creates a registry auth with credentials and returns its ID.
func createRegistryAuthNamed(t *testing.T, c client, name string) string {
	t.Helper()
	return c.do("POST", "/v1/registry-auths", map[string]any{
		"name": name, "registry_url": "ghcr.io", "username": "bot", "password": "ghp_registry-token-0123456789",
	}).id(t)
}

func TestRegistryAuthCreate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	tests := []struct {
		name     string
		body     map[string]any
		wantURL  string
		wantUser string
		wantHint string
	}{
		{"Docker Hub credentials", map[string]any{"name": "hub", "username": "bob", "password": "dckr_pat_0123456789abcd"}, "", "bob", "…abcd"},
		{"registry without credentials", map[string]any{"name": "mirror", "registry_url": "mirror.internal:5000"}, "mirror.internal:5000", "", ""},
		{"https:// and trailing slash are dropped", map[string]any{"name": "ghcr", "registry_url": "https://ghcr.io/", "username": "bot", "password": "ghp_abcdefghijklmnop"}, "ghcr.io", "bot", "…mnop"},
		{"host with a path", map[string]any{"name": "gitlab", "registry_url": "registry.gitlab.com/acme", "username": "ci", "password": "glpat-0123456789xyz"}, "registry.gitlab.com/acme", "ci", "…9xyz"},
		{"IP address and port", map[string]any{"name": "local", "registry_url": "10.0.0.7:5000", "username": "u", "password": "short"}, "10.0.0.7:5000", "u", "…"},
		{"username is trimmed", map[string]any{"name": "trim", "username": "  ann  ", "password": "0123456789abcdef"}, "", "ann", "…cdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do("POST", "/v1/registry-auths", tt.body)
			require.Equal(t, http.StatusCreated, r.Status, r.Raw)
			d := r.data(t)
			assert.Equal(t, tt.body["name"], d["name"])
			assert.Equal(t, tt.wantURL, d["registry_url"])
			assert.Equal(t, tt.wantUser, d["username"])
			assert.Equal(t, tt.wantHint, d["password_hint"])
			assert.NotContains(t, d, "password")
			for _, k := range []string{"id", "created_at", "updated_at"} {
				assert.NotEmpty(t, d[k], k)
			}
			if pw, _ := tt.body["password"].(string); pw != "" {
				assert.NotContains(t, r.Raw, pw)
			}

			got := c.do("GET", "/v1/registry-auths/"+r.id(t), nil)
			require.Equal(t, http.StatusOK, got.Status, got.Raw)
			assert.Equal(t, d, got.data(t))
		})
	}
}

func TestRegistryAuthValidation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	creds := func(extra map[string]any) map[string]any {
		return bodyWith(map[string]any{"name": "r", "username": "bob", "password": "secret-token-123"}, extra)
	}
	assertRejected(t, c, "/v1/registry-auths", "registry_auths", []rejected{
		{"name missing", creds(map[string]any{"name": nil}), "name: registry auth name is required"},
		{"name with bad characters", creds(map[string]any{"name": "my_registry"}), "name: \"my_registry\" is not a valid registry auth name"},
		{"name too long", creds(map[string]any{"name": strings.Repeat("a", 129)}), "name: "},
		{"everything blank", map[string]any{"name": "r"}, "registry_url, username and password are all blank"},
		{"blank strings", map[string]any{"name": "r", "registry_url": "", "username": "", "password": ""}, "registry_url, username and password are all blank"},
		{"username without password", creds(map[string]any{"password": nil}), "password: required with username"},
		{"password without username", creds(map[string]any{"username": nil}), "username: required with password"},
		{"blank username with password", creds(map[string]any{"username": "   "}), "username: required with password"},
		{"http scheme", creds(map[string]any{"registry_url": "http://registry.local"}), "registry_url: \"http://registry.local\": scheme http:// is not supported"},
		{"other scheme", creds(map[string]any{"registry_url": "ftp://x.io"}), "registry_url: "},
		{"not a host", creds(map[string]any{"registry_url": "not a host"}), "registry_url: \"not a host\" is not a registry address"},
		{"query string", creds(map[string]any{"registry_url": "ghcr.io?x=1"}), "registry_url: "},
		{"port out of range", creds(map[string]any{"registry_url": "ghcr.io:99999"}), "registry_url: \"ghcr.io:99999\": port must be 1-65535"},
		{"empty host", creds(map[string]any{"registry_url": "https://"}), "registry_url: "},
		{"username too long", creds(map[string]any{"username": strings.Repeat("u", 257)}), "username: longer than 256"},
		{"unknown field", creds(map[string]any{"token": "x"}), "unknown field \"token\""},
		{"wrong type", creds(map[string]any{"password": 12345}), "password: must be a string"},
		{"not an object", `["r"]`, "request body must be a JSON object"},
		{"empty body", "", "request body is empty"},
	})
}

func TestRegistryAuthNameClash(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	createRegistryAuthNamed(t, c, "ghcr")
	r := c.do("POST", "/v1/registry-auths", map[string]any{"name": "ghcr", "registry_url": "quay.io", "username": "x", "password": "y"})
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Contains(t, r.Message, "a registry auth named 'ghcr' already exists")
	assert.Equal(t, 1, a.count("registry_auths"))

	// Names are unique per project, not across projects.
	other := a.newProject("other")
	createRegistryAuthNamed(t, other, "ghcr")
}

func TestRegistryAuthIsImmutable(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	id := createRegistryAuthNamed(t, c, "ghcr")
	before := c.do("GET", "/v1/registry-auths/"+id, nil).data(t)
	for _, method := range []string{"PATCH", "PUT"} {
		t.Run(method, func(t *testing.T) {
			r := c.do(method, "/v1/registry-auths/"+id, map[string]any{"name": "renamed", "password": "new-password-123"})
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
			assert.Equal(t, "registry auths are immutable: create a new one and point job definitions at it", r.Message)
			assert.Equal(t, before, c.do("GET", "/v1/registry-auths/"+id, nil).data(t))
		})
	}
}

// The password is stored encrypted, shown only as a hint, and still
// available to the store for the agent that pulls images.
func TestRegistryAuthPasswordIsEncrypted(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	const password = "s3cr3t-registry-password-XYZW"
	r := c.do("POST", "/v1/registry-auths", map[string]any{"name": "ghcr", "registry_url": "ghcr.io", "username": "bot", "password": password})
	id := r.id(t)

	for _, resp := range []response{r, c.do("GET", "/v1/registry-auths/"+id, nil), c.do("GET", "/v1/registry-auths", nil)} {
		assert.NotContains(t, resp.Raw, password)
		assert.NotContains(t, resp.Raw, `"password"`)
		assert.Contains(t, resp.Raw, `"password_hint":"…XYZW"`)
	}

	var asText, escaped string
	require.NoError(t, a.st.Pool.QueryRow(context.Background(),
		`SELECT password::text, encode(password, 'escape') FROM registry_auths WHERE id = $1`, id).Scan(&asText, &escaped))
	assert.NotContains(t, asText, password)
	assert.NotContains(t, escaped, password)
	assert.NotContains(t, escaped, "s3cr3t")

	user, pw, err := a.st.RegistryAuthSecret(context.Background(), c.project.ID, id)
	require.NoError(t, err)
	assert.Equal(t, "bot", user)
	assert.Equal(t, password, pw)

	other := a.newProject("other")
	_, _, err = a.st.RegistryAuthSecret(context.Background(), other.project.ID, id)
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err))
}

func TestRegistryAuthDelete(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	authID := createRegistryAuthNamed(t, c, "ghcr")
	private := func(name string) map[string]any {
		return map[string]any{"name": name, "type": "docker", "image": "ghcr.io/acme/" + name + ":1", "registry_auth_id": authID}
	}
	c.do("POST", "/v1/job-definitions", private("etl")).id(t)
	c.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"timeout_seconds": 60}).id(t) // etl:2 inherits the auth
	c.do("POST", "/v1/job-definitions", private("report")).id(t)

	r := c.do("DELETE", "/v1/registry-auths/"+authID, nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Contains(t, r.Message, "registry auth 'ghcr' is used by job definitions 'etl:1', 'etl:2' and 'report:1'")

	// Deleted versions do not hold the auth; a revision can let go of it.
	require.Equal(t, http.StatusOK, c.do("DELETE", "/v1/job-definitions/etl:2", nil).Status)
	rev := c.do("POST", "/v1/job-definitions/report/revisions", map[string]any{"image": "python:3.12", "registry_auth_id": nil})
	require.Equal(t, http.StatusCreated, rev.Status, rev.Raw)
	assert.Nil(t, rev.data(t)["registry_auth_id"])
	r = c.do("DELETE", "/v1/registry-auths/"+authID, nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Contains(t, r.Message, "'etl:1' and 'report:1'")
	assert.NotContains(t, r.Message, "etl:2")

	require.Equal(t, http.StatusOK, c.do("DELETE", "/v1/job-definitions/etl:1", nil).Status)
	require.Equal(t, http.StatusOK, c.do("DELETE", "/v1/job-definitions/report:1", nil).Status)
	r = c.do("DELETE", "/v1/registry-auths/"+authID, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": authID, "deleted": true}, r.data(t))

	assert.Equal(t, 0, a.count("registry_auths"))
	var pointing int
	require.NoError(t, a.st.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM job_definitions WHERE registry_auth_id IS NOT NULL`).Scan(&pointing))
	assert.Zero(t, pointing, "deleted definition versions still point at the deleted auth")
	assert.Equal(t, 4, a.count("job_definitions"), "definition versions are kept, only marked deleted")

	assert.Equal(t, http.StatusNotFound, c.do("GET", "/v1/registry-auths/"+authID, nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do("DELETE", "/v1/registry-auths/"+authID, nil).Status)
}

func TestRegistryAuthPagination(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	var want []string
	for i := range 5 {
		name := fmt.Sprintf("auth-%d", i)
		createRegistryAuthNamed(t, c, name)
		want = append(want, name)
	}
	assertPaginates(t, c, paging[domain.RegistryAuth]{path: "/v1/registry-auths", limit: 2, pages: 3, want: want, order: "every item once, in creation order",
		key: func(ra domain.RegistryAuth) string { return ra.Name }, refused: map[string]string{"limit=0": "limit", "next_token=bogus": "next_token"}})
}

func TestRegistryAuthTenantIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.newProject("acme")
	other := a.newProject("other")
	id := createRegistryAuthNamed(t, acme, "ghcr")

	r := other.do("GET", "/v1/registry-auths/"+id, nil)
	assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	assert.Contains(t, r.Message, "no registry auth with id")
	assert.Equal(t, http.StatusNotFound, other.do("DELETE", "/v1/registry-auths/"+id, nil).Status)
	assert.Equal(t, http.StatusOK, acme.do("GET", "/v1/registry-auths/"+id, nil).Status, "another project's delete removed the auth")
	assert.Equal(t, http.StatusNotFound, other.do("GET", "/v1/registry-auths/not-a-uuid", nil).Status)

	var page domain.Page[domain.RegistryAuth]
	other.do("GET", "/v1/registry-auths", nil).decode(t, &page)
	assert.Empty(t, page.Items)

	// Another project's auth cannot be used, on create or in a revision.
	before := a.count("job_definitions")
	r = other.do("POST", "/v1/job-definitions", map[string]any{"name": "etl", "type": "docker", "image": "ghcr.io/acme/etl", "registry_auth_id": id})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "registry_auth_id: no registry auth with id")
	other.do("POST", "/v1/job-definitions", map[string]any{"name": "etl", "type": "docker", "image": "ghcr.io/acme/etl"}).id(t)
	r = other.do("POST", "/v1/job-definitions/etl/revisions", map[string]any{"registry_auth_id": id})
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Contains(t, r.Message, "registry_auth_id: no registry auth with id")
	assert.Equal(t, before+1, a.count("job_definitions"))
}
