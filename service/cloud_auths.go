package service

import (
	"context"
	"fmt"

	"daestro/internal/cloud"
	"daestro/internal/domain"
)

// CloudAuthWritten is a created or updated cloud auth with what the
// provider said of its credentials and any warning about the change.
type CloudAuthWritten struct {
	domain.CloudAuth
	// Validation is the provider's answer to the credentials just checked.
	Validation *cloud.Validation `json:"validation,omitempty"`
	// Warnings are sentences for the user.
	Warnings []string `json:"warnings,omitempty"`
}

// clouds is the provider registry (an empty one refuses every provider).
func (s *Service) clouds() *cloud.Registry {
	if s.Clouds == nil {
		return cloud.NewRegistry()
	}
	return s.Clouds
}

// CreateCloudAuth checks the credentials with the provider before storing
// them, so rejected credentials leave nothing behind.
func (s *Service) CreateCloudAuth(ctx context.Context, projectID string, in domain.CloudAuthInput) (CloudAuthWritten, error) {
	if err := in.Validate(); err != nil {
		return CloudAuthWritten{}, err
	}
	creds := cloud.Credentials{AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey, AccessToken: in.AccessToken}
	v, err := s.clouds().Validate(ctx, in.Provider, creds, in.DefaultRegion)
	if err != nil {
		return CloudAuthWritten{}, err
	}
	ca, err := s.Store.CreateCloudAuth(ctx, projectID, in)
	if err != nil {
		return CloudAuthWritten{}, err
	}
	return CloudAuthWritten{CloudAuth: ca, Validation: &v}, nil
}

// UpdateCloudAuth renames a cloud auth, changes its default region or
// replaces its keys; new keys are checked with the provider first.
func (s *Service) UpdateCloudAuth(ctx context.Context, projectID, id string, p domain.CloudAuthPatch) (CloudAuthWritten, error) {
	want, creds, err := s.Store.PrepareCloudAuthUpdate(ctx, projectID, id, p)
	if err != nil {
		return CloudAuthWritten{}, err
	}
	var out CloudAuthWritten
	if p.ChangesKeys() {
		v, err := s.clouds().Validate(ctx, want.Provider, creds, want.DefaultRegion)
		if err != nil {
			return CloudAuthWritten{}, err
		}
		out.Validation = &v
		out.Warnings = []string{fmt.Sprintf("the new keys must belong to the same %s account as the old ones: machines created with the old keys are managed and terminated with the new ones", cloud.DisplayName(want.Provider))}
	}
	if out.CloudAuth, err = s.Store.UpdateCloudAuth(ctx, projectID, id, p); err != nil {
		return CloudAuthWritten{}, err
	}
	// The cached listings were read with the old row, maybe with old keys.
	// (They are keyed by updated_at, so other API processes never serve
	// them either; dropping them here frees them now.)
	if s.Catalog != nil {
		s.Catalog.Forget(id)
	}
	return out, nil
}

// DeleteCloudAuth deletes a cloud auth no compute environment uses.
func (s *Service) DeleteCloudAuth(ctx context.Context, projectID, id string) error {
	if err := s.Store.DeleteCloudAuth(ctx, projectID, id); err != nil {
		return err
	}
	if s.Catalog != nil {
		s.Catalog.Forget(id)
	}
	return nil
}
