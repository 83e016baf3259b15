package apiserver

import (
	"net/url"

	"daestro/internal/domain"
)

// parseJobFilter reads the list filters from a query string
// (domain.ParseJobFilter, which the console's job list shares).
func parseJobFilter(q url.Values) (domain.JobFilter, error) { return domain.ParseJobFilter(q) }
