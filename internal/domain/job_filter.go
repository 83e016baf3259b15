package domain

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// ParseJobFilter reads the job list's filters (the API's query string and
// the console's filter form alike) from a query string: job_queue_id,
// state (a comma-separated list), job_definition ("name" or "name:version"),
// created_after and created_before (RFC 3339), name_prefix, array_job_id (an array job: its children).
func ParseJobFilter(q url.Values) (JobFilter, error) {
	var f JobFilter
	if id := q.Get("job_queue_id"); id != "" {
		if uuid.Validate(id) != nil {
			return f, Errorf(EINVALID, "job_queue_id: %q is not a job queue id", id)
		}
		f.JobQueueID = id
	}
	if s := q.Get("state"); s != "" {
		for st := range strings.SplitSeq(s, ",") {
			st := JobState(strings.TrimSpace(st))
			if err := ValidateJobState("state", st); err != nil {
				return f, err
			}
			if !slices.Contains(f.States, st) {
				f.States = append(f.States, st)
			}
		}
	}
	if d := q.Get("job_definition"); d != "" {
		name, version, err := ParseDefinitionRef(d)
		if err != nil {
			return f, Errorf(EINVALID, "job_definition: %s", ErrorMessage(err))
		}
		f.DefinitionName, f.DefinitionVersion = name, version
	}
	for _, b := range []struct {
		key string
		dst **time.Time
	}{{"created_after", &f.CreatedAfter}, {"created_before", &f.CreatedBefore}} {
		v := q.Get(b.key)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, Errorf(EINVALID, "%s: %q is not an RFC 3339 time like 2025-05-17T06:37:00Z (in a URL, write + as %%2B)", b.key, v)
		}
		*b.dst = &t
	}
	if id := q.Get("array_job_id"); id != "" {
		if uuid.Validate(id) != nil {
			return f, Errorf(EINVALID, "array_job_id: %q is not a job ID", id)
		}
		f.ArrayJobID = id
	}
	if p := q.Get("name_prefix"); p != "" {
		if !ValidJobNamePrefix(p) {
			return f, Errorf(EINVALID, "name_prefix: %q cannot start a job name: names are letters, digits and dashes", p)
		}
		f.NamePrefix = p
	}
	return f, nil
}
