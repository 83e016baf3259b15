package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

func TestEveryRefusedKeySaysWhy(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")

	raw := func(header string) response {
		req, _ := http.NewRequest(http.MethodGet, a.url+"/v1/project", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		return doRaw(t, req)
	}
	tests := []struct {
		name, header, want string
	}{
		{"missing", "", "missing Authorization header: send `Authorization: Bearer <API key>`"},
		{"basic auth", "Basic dXNlcjpwYXNz", "malformed Authorization header: expected `Bearer <API key>`"},
		{"empty bearer", "Bearer ", "malformed Authorization header"},
		{"not a daestro key", "Bearer sk_live_123", "malformed API key: expected dst_<prefix>_<secret>"},
		{"unknown", "Bearer dst_000000000000_nope", "unknown API key dst_000000000000…"},
		{"right prefix, wrong secret", "Bearer " + c.key[:len("dst_")+12] + "_wrongsecret", "unknown API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := raw(tt.header)
			assert.Equal(t, http.StatusUnauthorized, r.Status)
			assert.Contains(t, r.Message, tt.want)
		})
	}

	ok := c.do(http.MethodGet, "/v1/project", nil)
	require.Equal(t, http.StatusOK, ok.Status, ok.Raw)
	assert.Equal(t, "acme", ok.data(t)["code"])
	assert.Equal(t, http.StatusOK, raw("bearer "+c.key).Status, "the scheme is case-insensitive")
}

func TestAPIKeysCreateListRevoke(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")

	r := c.do(http.MethodPost, "/v1/api-keys", map[string]any{"name": "ci pipeline"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	d := r.data(t)
	secret, _ := d["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "dst_"), r.Raw)
	assert.True(t, strings.HasPrefix(secret, d["prefix"].(string)+"_"), "the prefix is the visible start of the key")
	newID := d["id"].(string)

	second := client{a: a, key: secret, project: c.project}
	assert.Equal(t, http.StatusOK, second.do(http.MethodGet, "/v1/project", nil).Status, "the new key works")

	list := c.do(http.MethodGet, "/v1/api-keys", nil)
	require.Equal(t, http.StatusOK, list.Status)
	assert.NotContains(t, list.Raw, secret, "a key's secret is shown only once")
	var page domain.Page[domain.APIKey]
	list.decode(t, &page)
	require.Len(t, page.Items, 2)
	assert.Equal(t, "ci pipeline", page.Items[1].Name)
	assert.NotNil(t, page.Items[0].LastUsedAt, "using a key records when")

	rv := c.do(http.MethodDelete, "/v1/api-keys/"+newID, nil)
	require.Equal(t, http.StatusOK, rv.Status, rv.Raw)
	assert.NotNil(t, rv.data(t)["revoked_at"])

	refused := second.do(http.MethodGet, "/v1/project", nil)
	assert.Equal(t, http.StatusUnauthorized, refused.Status)
	assert.Contains(t, refused.Message, "was revoked at")

	again := c.do(http.MethodDelete, "/v1/api-keys/"+newID, nil)
	assert.Equal(t, http.StatusConflict, again.Status)
	assert.Contains(t, again.Message, "already revoked")

	last := c.do(http.MethodDelete, "/v1/api-keys/"+page.Items[0].ID, nil)
	assert.Equal(t, http.StatusConflict, last.Status)
	assert.Contains(t, last.Message, "last active key: create another key before revoking it")
	assert.Equal(t, http.StatusOK, c.do(http.MethodGet, "/v1/project", nil).Status, "the project is not locked out")

	bad := c.do(http.MethodPost, "/v1/api-keys", map[string]any{"name": ""})
	assert.Equal(t, http.StatusBadRequest, bad.Status)
	assert.Contains(t, bad.Message, "name: required")
	assert.Equal(t, 2, a.count("api_keys"))
}

func TestAPIKeysAreScopedToTheirProject(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme, other := a.newProject("acme"), a.newProject("other")
	var page domain.Page[domain.APIKey]
	acme.do(http.MethodGet, "/v1/api-keys", nil).decode(t, &page)
	require.Len(t, page.Items, 1)

	r := other.do(http.MethodDelete, "/v1/api-keys/"+page.Items[0].ID, nil)
	assert.Equal(t, http.StatusNotFound, r.Status, "another project's key does not exist for you")
	assert.Equal(t, "other", other.do(http.MethodGet, "/v1/project", nil).data(t)["code"])
}

func doRaw(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := response{Status: resp.StatusCode}
	require.NoError(t, decodeJSON(resp.Body, &r))
	return r
}
