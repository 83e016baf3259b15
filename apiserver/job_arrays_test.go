package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

// An array job's children are listed in index order, page after page, and
// every API names a child "<array job id>:<index>": the management detail,
// the list and the Daestro client API's detail.
func TestArrayChildrenAreNamedAndListedByIndex(t *testing.T) {
	t.Parallel()
	a := newJobAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	parent := c.do(http.MethodPost, "/v1/jobs", etlJob(map[string]any{"array_size": 5})).id(t)

	var got []string
	token := ""
	for pages := 0; pages < 5; pages++ {
		path := "/v1/jobs?limit=2&array_job_id=" + parent
		if token != "" {
			path += "&next_token=" + token
		}
		page := getData[domain.Page[domain.Job]](t, c, path)
		for _, j := range page.Items {
			got = append(got, j.PublicID())
			require.NotNil(t, j.ArrayChild, "a listed child says whose it is")
			assert.Equal(t, parent, j.ArrayChild.ParentID)
		}
		if token = page.NextToken; token == "" {
			break
		}
	}
	want := make([]string, 5)
	for i := range want {
		want[i] = fmt.Sprintf("%s:%d", parent, i)
	}
	assert.Equal(t, want, got, "children in index order over three pages")

	top := getData[domain.Page[domain.Job]](t, c, "/v1/jobs")
	require.Len(t, top.Items, 1, "the plain list shows the array job, not its children")
	assert.Equal(t, parent, top.Items[0].ID)

	assert.Equal(t, want[3], getData[map[string]any](t, c, "/v1/jobs/"+want[3])["id"])
	r := c.do(http.MethodGet, "/v1/client/job/"+want[3], nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, want[3], r.data(t)["id"], "the client API names the child as the rest of the API does")
}
