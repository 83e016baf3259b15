package apiserver

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/domain"
)

func TestParseJobFilter(t *testing.T) {
	t.Parallel()
	f, err := parseJobFilter(url.Values{
		"job_queue_id": {"0190a5c2-0000-7000-8000-000000000000"}, "state": {"running, failed,running"},
		"job_definition": {"etl:2"}, "created_after": {"2025-05-17T06:37:00Z"}, "created_before": {"2025-05-18T00:00:00+02:00"},
		"name_prefix": {"nightly-"},
	})
	require.NoError(t, err)
	after, before := time.Date(2025, 5, 17, 6, 37, 0, 0, time.UTC), time.Date(2025, 5, 17, 22, 0, 0, 0, time.UTC)
	assert.Equal(t, "0190a5c2-0000-7000-8000-000000000000", f.JobQueueID)
	assert.Equal(t, []domain.JobState{"running", "failed"}, f.States)
	assert.Equal(t, "etl", f.DefinitionName)
	assert.Equal(t, 2, f.DefinitionVersion)
	assert.True(t, after.Equal(*f.CreatedAfter))
	assert.True(t, before.Equal(*f.CreatedBefore))
	assert.Equal(t, "nightly-", f.NamePrefix)

	empty, err := parseJobFilter(url.Values{})
	require.NoError(t, err)
	assert.Equal(t, domain.JobFilter{}, empty)

	for q, want := range map[string]string{
		"job_queue_id=etl":                        `job_queue_id: "etl" is not a job queue id`,
		"state=done":                              `state: "done" is not a job state: use one of submitted, pending`,
		"state=running,":                          `state: "" is not a job state`,
		"job_definition=etl:x":                    "job_definition: job definition reference",
		"created_after=yesterday":                 `created_after: "yesterday" is not an RFC 3339 time`,
		"created_before=2025-05-17":               `created_before: "2025-05-17" is not an RFC 3339 time`,
		"name_prefix=a%25":                        `name_prefix: "a%" cannot start a job name`,
		"created_after=2025-05-17T06:37:00 02:00": "is not an RFC 3339 time like 2025-05-17T06:37:00Z (in a URL, write + as %2B)",
	} {
		v, err := url.ParseQuery(q)
		require.NoError(t, err)
		_, err = parseJobFilter(v)
		assert.ErrorContains(t, err, want, q)
	}
}
