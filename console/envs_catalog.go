package console

import (
	"net/http"

	"daestro/internal/cloud"
	"daestro/internal/domain"
)

// envCatalog is what the cloud environment form's pickers offer: the
// regions of the chosen cloud auth and the instance types of the chosen
// region, from the same cached provider lists the API serves.
type envCatalog struct {
	Regions []domain.CloudRegion
	Types   []domain.CloudInstanceType
	// Families are Types grouped by instance family, in the order the
	// provider lists them, for the picker's option groups.
	Families []typeFamily
	// Err is the provider's (or the rule's) sentence when a list failed.
	Err string
}

// typeFamily is one instance family of a region and its types.
type typeFamily struct {
	Name  string
	Types []domain.CloudInstanceType
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
	if f.Get("region") == "" {
		return &out
	}
	if out.Types, err = c.o.Service.Catalog.InstanceTypes(ctx(r), s.Project.ID, f.Get("cloud_auth_id"), f.Get("region")); err != nil {
		out.Err = domain.ErrorMessage(c.userError(err))
		return &out
	}
	ca, err := c.o.Store.CloudAuth(ctx(r), s.Project.ID, f.Get("cloud_auth_id"))
	if err != nil {
		out.Err = domain.ErrorMessage(c.userError(err))
		return &out
	}
	out.Families = families(ca.Provider, out.Types)
	return &out
}

// families groups types by cloud.InstanceFamily, keeping the list's order.
func families(provider string, types []domain.CloudInstanceType) []typeFamily {
	var out []typeFamily
	index := map[string]int{}
	for _, t := range types {
		name := cloud.InstanceFamily(provider, t.ID)
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, typeFamily{Name: name})
		}
		out[i].Types = append(out[i].Types, t)
	}
	return out
}
