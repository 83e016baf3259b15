package service

import (
	"context"

	"daestro/internal/domain"
)

// CloudCatalog is what the providers offer a cloud auth's account, cached:
// the API server's catalog, which the console's pickers show too.
type CloudCatalog interface {
	// Regions lists the regions of a cloud auth of the project.
	Regions(ctx context.Context, projectID, authID string) ([]domain.CloudRegion, error)
	// InstanceTypes lists a region's instance types (the auth's default region when empty).
	InstanceTypes(ctx context.Context, projectID, authID, region string) ([]domain.CloudInstanceType, error)
	// EnvSize checks a cloud environment's region and instance type with the
	// provider and returns the type's size.
	EnvSize(ctx context.Context, projectID string, in domain.ComputeEnvInput) (domain.InstanceSize, error)
	// Forget drops what is cached for a cloud auth (its keys or row changed).
	Forget(authID string)
}

// CreateComputeEnv stores a compute environment. A cloud one is checked with
// its provider first — the region exists, the instance type is offered there
// — and records the type's size and price; the provider is asked before the
// store's transaction begins, so a slow provider holds no database lock.
func (s *Service) CreateComputeEnv(ctx context.Context, projectID string, in domain.ComputeEnvInput) (domain.ComputeEnv, error) {
	if err := in.Validate(); err != nil {
		return domain.ComputeEnv{}, err
	}
	if in.ResolvedKind() == domain.ComputeEnvCloud {
		if s.Catalog == nil {
			return domain.ComputeEnv{}, domain.Errorf(domain.EUNAVAILABLE, "cannot check the cloud compute environment: no cloud provider is wired on this server")
		}
		size, err := s.Catalog.EnvSize(ctx, projectID, in)
		if err != nil {
			return domain.ComputeEnv{}, err
		}
		in.Size = &size
	}
	return s.Store.CreateComputeEnv(ctx, projectID, in)
}
