package linodefake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud/cloudtest/linodefake"
)

// get sends GET path with token and an optional X-Filter, returning the
// status, the Content-Type and the decoded body.
func get(t *testing.T, f *linodefake.Server, token, path, filter string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if filter != "" {
		req.Header.Set("X-Filter", filter)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body), "body %s", raw)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// TestErrorShape pins the 401 to Linode's shape, since linodego ignores an
// error status whose body lacks a non-empty "errors" array or whose
// Content-Type is anything but exactly application/json.
func TestErrorShape(t *testing.T) {
	f := linodefake.New(t)
	status, ct, body := get(t, f, "wrong", "/v4/profile", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "application/json", ct)
	assert.Equal(t, map[string]any{"errors": []any{map[string]any{"reason": linodefake.ReasonInvalidToken}}}, body)

	status, ct, body = get(t, f, linodefake.Token, "/v4/linode/instances/1", "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "application/json", ct)
	assert.NotEmpty(t, body["errors"])
}

// TestPagingAndFilter checks the envelope and the X-Filter on tags.
func TestPagingAndFilter(t *testing.T) {
	f := linodefake.New(t, linodefake.WithPageSize(3))
	status, ct, body := get(t, f, linodefake.Token, "/v4/regions?page=2", "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "application/json", ct)
	assert.EqualValues(t, 2, body["page"])
	assert.EqualValues(t, 2, body["pages"])
	assert.EqualValues(t, len(linodefake.Regions), body["results"])
	assert.Len(t, body["data"], 1)

	status, _, body = get(t, f, linodefake.Token, "/v4/linode/instances", `{"tags":"x"}`)
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, body["data"])
	assert.Equal(t, []string{`{"tags":"x"}`}, f.Filters())

	status, _, _ = get(t, f, linodefake.Token, "/v4/linode/instances", `{"region":"us-east"}`)
	assert.Equal(t, http.StatusBadRequest, status, "unknown filter keys are refused, not ignored")
}

// TestCreateStatusAndTimestamps checks a create, the provisioning → running
// transition and the zone-less timestamps linodego parses.
func TestCreateStatusAndTimestamps(t *testing.T) {
	f := linodefake.New(t)
	body := `{"region":"us-east","type":"g6-nanode-1","image":"linode/ubuntu24.04","root_pass":"Sup3r-secret-pass","label":"vm-1","tags":["daestro"],"metadata":{"user_data":"I2Nsb3VkLWNvbmZpZw=="}}`
	req, err := http.NewRequest(http.MethodPost, f.URL+"/v4/linode/instances", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+linodefake.Token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var created map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	assert.Equal(t, "provisioning", created["status"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`, created["created"])

	id := int(created["id"].(float64))
	ud, ok := f.UserData(id)
	assert.True(t, ok)
	assert.Equal(t, "#cloud-config", ud)

	path := "/v4/linode/instances/" + strings.TrimSpace(jsonNumber(created["id"]))
	_, _, first := get(t, f, linodefake.Token, path, "")
	_, _, second := get(t, f, linodefake.Token, path, "")
	assert.Equal(t, "provisioning", first["status"])
	assert.Equal(t, "running", second["status"])
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
