package apiserver_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/domain"
)

// A cloud compute environment on a server whose DAESTRO_PUBLIC_URL is a
// loopback address is refused with a sentence naming the variable: its
// machines' agents could never reach the server. Nothing is written.
func TestCloudComputeEnvNeedsAPublicURLMachinesCanReach(t *testing.T) {
	t.Parallel()
	a := serveAPI(t, newTestStore(t), apiserver.Options{PublicURL: "http://127.0.0.1:8080"})
	c := a.newProject("acme")
	auth := insertCloudAuth(t, a, c.project.ID)
	r := c.do(http.MethodPost, "/v1/compute-envs", cloudEnv(auth, "do-vms"))
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	assert.Equal(t, "DAESTRO_PUBLIC_URL is http://127.0.0.1:8080, a loopback address: digitalocean machines could never reach this server there; "+
		"set DAESTRO_PUBLIC_URL to the URL the machines reach the server at, then create the compute environment", r.Message)
	var list domain.Page[domain.ComputeEnv]
	c.do(http.MethodGet, "/v1/compute-envs", nil).decode(t, &list)
	assert.Empty(t, list.Items, "nothing was written")

	// Self-hosted machines are the user's own: they may well reach a loopback URL.
	r = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "boxes", "kind": "selfhosted"})
	assert.Equal(t, http.StatusCreated, r.Status, r.Raw)
}
