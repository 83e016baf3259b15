package console_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

// The cloud auths page, linked from the nav, lists the project's auths by
// name and provider with a link to each and to a new one; the token itself
// is never on it.
func TestCloudAuthsPageListsTheAuths(t *testing.T) {
	s := newSite(t)
	s.signIn()
	_, body, _ := s.get("/cloud-auths")
	assert.Contains(t, body, "No cloud auth yet")
	assert.Contains(t, body, `href="/cloud-auths/new"`)

	const token = "dop_v1_0123456789abcdefSECRET"
	ca, err := s.st.CreateCloudAuth(context.Background(), s.projectID, domain.CloudAuthInput{
		Name: "do-main", Provider: "digitalocean", AccessToken: token}, "acct-1")
	require.NoError(t, err)
	status, body, _ := s.get("/cloud-auths")
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `<a href="/cloud-auths/`+ca.ID+`">do-main</a>`)
	assert.Contains(t, body, "<td>digitalocean</td>")
	assert.Contains(t, body, ca.CredentialsHint)
	assert.Contains(t, body, `href="/cloud-auths/new"`)
	assert.NotContains(t, body, token)
	assert.Contains(t, body, `href="/cloud-auths" aria-current="page"`, "the nav marks the page")
}
