package cli

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"daestro/client"
)

// pageSize is the limit the CLI asks lists for when it looks for a name.
const pageSize = 500

func ptr[T any](v T) *T { return &v }

// isID says whether s is a resource ID (a UUID) rather than a name.
func isID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// named is an item of any list: enough to find one by its name.
type named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// findID is arg when it is an ID, else the ID of the item named arg, found
// by paging through a list (names are unique within a project).
func (s *session) findID(kind, noun, arg string, page func(next *string) (*http.Response, error)) (string, error) {
	if isID(arg) {
		return arg, nil
	}
	var next *string
	for {
		p, err := as[struct {
			Items     []named `json:"items"`
			NextToken string  `json:"next_token"`
		}](s.data(page(next)))
		if err != nil {
			return "", err
		}
		for _, it := range p.Items {
			if it.Name == arg {
				return it.ID, nil
			}
		}
		if p.NextToken == "" {
			return "", fmt.Errorf("no %s named %q in this project: daestro %s ls lists them", kind, arg, noun)
		}
		next = &p.NextToken
	}
}

func (s *session) queueID(arg string) (string, error) {
	return s.findID("job queue", "queue", arg, func(next *string) (*http.Response, error) {
		return s.api.ListJobQueues(s.ctx, &client.ListJobQueuesParams{Limit: ptr(pageSize), NextToken: next})
	})
}

func (s *session) envID(arg string) (string, error) {
	return s.findID("compute environment", "env", arg, func(next *string) (*http.Response, error) {
		return s.api.ListComputeEnvs(s.ctx, &client.ListComputeEnvsParams{Limit: ptr(pageSize), NextToken: next})
	})
}

func (s *session) authID(arg string) (string, error) {
	return s.findID("cloud auth", "auth", arg, func(next *string) (*http.Response, error) {
		return s.api.ListCloudAuths(s.ctx, &client.ListCloudAuthsParams{Limit: ptr(pageSize), NextToken: next})
	})
}

func (s *session) registryID(arg string) (string, error) {
	return s.findID("registry auth", "registry", arg, func(next *string) (*http.Response, error) {
		return s.api.ListRegistryAuths(s.ctx, &client.ListRegistryAuthsParams{Limit: ptr(pageSize), NextToken: next})
	})
}

func (s *session) cronID(arg string) (string, error) {
	return s.findID("cron job", "cron", arg, func(next *string) (*http.Response, error) {
		return s.api.ListCronJobs(s.ctx, &client.ListCronJobsParams{Limit: ptr(pageSize), NextToken: next})
	})
}

// jobID is arg when it is an ID, else the ID of the one job named arg (job
// names are unique within a queue, so a name may be ambiguous).
func (s *session) jobID(arg string) (string, error) {
	if isID(arg) {
		return arg, nil
	}
	var found []string
	var next *string
	for {
		p, err := as[client.JobPage](s.data(s.api.ListJobs(s.ctx, &client.ListJobsParams{Limit: ptr(pageSize), NextToken: next, NamePrefix: &arg})))
		if err != nil {
			return "", err
		}
		for _, j := range deref(p.Items) {
			if str(j.Name) == arg {
				found = append(found, fmt.Sprintf("%s (queue %s)", str(j.Id), str(j.JobQueue.Name)))
			}
		}
		if str(p.NextToken) == "" {
			break
		}
		next = p.NextToken
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no job named %q: daestro job ls lists them", arg)
	case 1:
		id, _, _ := strings.Cut(found[0], " ")
		return id, nil
	}
	return "", fmt.Errorf("%d jobs are named %q, one per queue: give the ID of one of %s", len(found), arg, strings.Join(found, ", "))
}

// deref is the slice p points to (nil for nil).
func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
