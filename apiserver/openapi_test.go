package apiserver_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/testenv"
	"daestro/schemas"
)

// The OpenAPI document is valid OpenAPI 3 and lists exactly the routes the
// server serves: a new route without documentation (or a documented route
// that no longer exists) fails here.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(schemas.OpenAPI)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()), "schemas/openapi.json is not valid OpenAPI 3")

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	srv := apiserver.New(apiserver.Options{Logger: testenv.Logger(t)})
	for _, r := range srv.Routes() {
		served[r.Method+" "+r.Path] = true
	}
	assert.Empty(t, missing(served, documented), "routes served but not documented in schemas/openapi.json")
	assert.Empty(t, missing(documented, served), "routes documented in schemas/openapi.json but not served")
}

func missing(have, in map[string]bool) []string {
	var out []string
	for k := range have {
		if !in[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIIsServedWithoutAKey(t *testing.T) {
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Logger: testenv.Logger(t)}).Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + apiserver.PathOpenAPI)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"))
	assert.Equal(t, string(schemas.OpenAPI), string(body))
}
