package apiserver

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"daestro/internal/domain"
)

// parseJobFilter reads the list filters from a query string: job_queue_id,
// state (a comma-separated list), job_definition ("name" or "name:version"),
// created_after and created_before (RFC 3339), name_prefix.
func parseJobFilter(q url.Values) (domain.JobFilter, error) {
	var f domain.JobFilter
	if id := q.Get("job_queue_id"); id != "" {
		if uuid.Validate(id) != nil {
			return f, domain.Errorf(domain.EINVALID, "job_queue_id: %q is not a job queue id", id)
		}
		f.JobQueueID = id
	}
	if s := q.Get("state"); s != "" {
		for st := range strings.SplitSeq(s, ",") {
			st := domain.JobState(strings.TrimSpace(st))
			if err := domain.ValidateJobState("state", st); err != nil {
				return f, err
			}
			if !slices.Contains(f.States, st) {
				f.States = append(f.States, st)
			}
		}
	}
	if d := q.Get("job_definition"); d != "" {
		name, version, err := domain.ParseDefinitionRef(d)
		if err != nil {
			return f, domain.Errorf(domain.EINVALID, "job_definition: %s", domain.ErrorMessage(err))
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
			return f, domain.Errorf(domain.EINVALID, "%s: %q is not an RFC 3339 time like 2025-05-17T06:37:00Z (in a URL, write + as %%2B)", b.key, v)
		}
		*b.dst = &t
	}
	if p := q.Get("name_prefix"); p != "" {
		if !domain.ValidJobNamePrefix(p) {
			return f, domain.Errorf(domain.EINVALID, "name_prefix: %q cannot start a job name: names are letters, digits and dashes", p)
		}
		f.NamePrefix = p
	}
	return f, nil
}
