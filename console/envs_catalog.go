package console

import (
	"net/http"

	"daestro/internal/domain"
)

// envCatalog is what the cloud environment form's pickers offer: the
// regions of the chosen cloud auth and the instance types of the chosen
// region, from the same cached provider lists the API serves.
type envCatalog struct {
	Regions []domain.CloudRegion
	Types   []domain.CloudInstanceType
	// Err is the provider's (or the rule's) sentence when a list failed.
	Err string
}

func (c *Console) envCatalog(r *http.Request, s *domain.ConsoleSession, f *form) *envCatalog {
	if f.Get("kind") != domain.ComputeEnvCloud || f.Get("cloud_auth_id") == "" || c.o.Service.Catalog == nil {
		return nil
	}
	var out envCatalog
	var err error
	if out.Regions, err = c.o.Service.Catalog.Regions(ctx(r), s.Project.ID, f.Get("cloud_auth_id")); err != nil {
		out.Err = domain.ErrorMessage(c.userError(err))
		return &out
	}
	if f.Get("region") != "" {
		if out.Types, err = c.o.Service.Catalog.InstanceTypes(ctx(r), s.Project.ID, f.Get("cloud_auth_id"), f.Get("region")); err != nil {
			out.Err = domain.ErrorMessage(c.userError(err))
		}
	}
	return &out
}
