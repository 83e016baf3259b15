package service

import (
	"context"
	"fmt"

	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/internal/store"
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
// them, so rejected credentials leave nothing behind, and records the
// account they belong to.
func (s *Service) CreateCloudAuth(ctx context.Context, projectID string, in domain.CloudAuthInput) (CloudAuthWritten, error) {
	if err := in.Validate(); err != nil {
		return CloudAuthWritten{}, err
	}
	creds := cloud.Credentials{AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey, AccessToken: in.AccessToken}
	v, err := s.clouds().Validate(ctx, in.Provider, creds, in.DefaultRegion)
	if err != nil {
		return CloudAuthWritten{}, err
	}
	ca, err := s.Store.CreateCloudAuth(ctx, projectID, in, v.Account.ID)
	if err != nil {
		return CloudAuthWritten{}, err
	}
	return CloudAuthWritten{CloudAuth: ca, Validation: &v}, nil
}

// UpdateCloudAuth renames a cloud auth, changes its default region or
// replaces its keys. New keys are checked with the provider, and so is the
// account they belong to: the product lets a user change keys only to keys
// of the same provider account, since a machine is visible only to keys of
// the account that created it.
//
//   - same account: saved.
//   - another account: ECONFLICT naming both accounts, nothing written,
//     unless the patch says confirm_account_change; then saved, the account
//     recorded, and a warning that machines made under the old account can
//     no longer be managed (the spawns of those machines become
//     termination_failed with a note instead of passing for deleted).
//   - the row's account unknown (stored before daestro recorded accounts):
//     the old keys are asked which account they belong to and the rule
//     applies; if they no longer answer (a revoked key is a common reason
//     to change keys) the change is saved with a warning, since refusing it
//     would leave the user no way to fix dead keys.
//   - the new keys' account unknown (a provider daestro cannot ask): saved,
//     the account becomes unknown, with the warning daestro always gave.
func (s *Service) UpdateCloudAuth(ctx context.Context, projectID, id string, p domain.CloudAuthPatch) (CloudAuthWritten, error) {
	var out CloudAuthWritten
	want, creds, err := s.Store.PrepareCloudAuthUpdate(ctx, projectID, id, p)
	if err != nil {
		return out, err
	}
	var kc store.KeyChange
	if p.ChangesKeys() {
		if kc, out.Warnings, err = s.checkKeyChange(ctx, projectID, want, creds, p.ConfirmAccountChange, &out); err != nil {
			return out, err
		}
	}
	if out.CloudAuth, err = s.Store.UpdateCloudAuth(ctx, projectID, id, p, kc); err != nil {
		return out, err
	}
	// The cached listings were read with the old row, maybe with old keys.
	// (They are keyed by updated_at, so other API processes never serve
	// them either; dropping them here frees them now.)
	if s.Catalog != nil {
		s.Catalog.Forget(id)
	}
	return out, nil
}

// checkKeyChange validates the new keys and applies the same-account rule
// (see UpdateCloudAuth), returning what the write records and the warnings.
func (s *Service) checkKeyChange(ctx context.Context, projectID string, want domain.CloudAuth, creds cloud.Credentials, confirm bool, out *CloudAuthWritten) (store.KeyChange, []string, error) {
	provider := cloud.DisplayName(want.Provider)
	clouds := s.clouds()
	v, err := clouds.Validate(ctx, want.Provider, creds, want.DefaultRegion)
	if err != nil {
		return store.KeyChange{}, nil, err
	}
	out.Validation = &v
	kc := store.KeyChange{Checked: want.AccountID, NewAccount: v.Account.ID}
	if kc.NewAccount == "" {
		return kc, []string{fmt.Sprintf("daestro could not ask %s which account the new keys belong to: they must belong to the same account as the old ones, or machines created with the old keys can no longer be managed or terminated", provider)}, nil
	}
	// The row as it stands (want carries the patch's name and region).
	cur, oldCreds, err := s.Store.CloudAuthCredentials(ctx, projectID, want.ID)
	if err != nil {
		return kc, nil, err
	}
	kc.Checked = cur.AccountID
	old := ""
	if cur.AccountID != nil {
		old = *cur.AccountID
	} else {
		// An old row: ask the stored keys, which may be dead by now.
		acct, err := clouds.Account(ctx, want.Provider, oldCreds, cur.DefaultRegion)
		if err != nil {
			log(ctx).Warn("could not read the account of a cloud auth's old keys", "cloud_auth_id", want.ID, "error", err)
			return kc, []string{fmt.Sprintf("daestro could not tell which %s account the old keys belonged to (%s): if it was not account %s, machines created with the old keys can no longer be managed by daestro; delete them in their own account",
				provider, domain.ErrorMessage(err), kc.NewAccount)}, nil
		}
		old = acct.ID
		kc.OldAccount = old
	}
	if old == kc.NewAccount {
		return kc, nil, nil
	}
	if !confirm {
		return kc, nil, domain.Errorf(domain.ECONFLICT,
			"the new keys belong to %s account %s, but cloud auth '%s' holds keys of account %s: machines created under account %s could no longer be seen or deleted by daestro. Nothing was changed; if you mean to switch accounts, send the keys again with \"confirm_account_change\": true",
			provider, kc.NewAccount, cur.Name, old, old)
	}
	return kc, []string{fmt.Sprintf("cloud auth '%s' now holds keys of %s account %s instead of %s: daestro can no longer see or delete machines created under account %s; their compute spawns become termination_failed when daestro tries to terminate them, and reconciliation lists them; delete those machines in account %s",
		want.Name, provider, kc.NewAccount, old, old, old)}, nil
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
