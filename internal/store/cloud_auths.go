package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/internal/secrets"
)

const cloudAuthCols = `id, name, provider, default_region, credentials_hint, account_id, created_at, updated_at`

// cloudAuthRow is one row of cloud_auths read with cloudAuthCols (no credentials).
type cloudAuthRow struct {
	ID              string    `db:"id"`
	Name            string    `db:"name"`
	Provider        string    `db:"provider"`
	DefaultRegion   string    `db:"default_region"`
	CredentialsHint string    `db:"credentials_hint"`
	AccountID       *string   `db:"account_id"`
	CreatedAt       time.Time `db:"created_at"`
	UpdatedAt       time.Time `db:"updated_at"`
}

func (r cloudAuthRow) cloudAuth() domain.CloudAuth {
	return domain.CloudAuth{ID: r.ID, Name: r.Name, Provider: r.Provider, DefaultRegion: r.DefaultRegion,
		CredentialsHint: r.CredentialsHint, AccountID: r.AccountID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// credentialsHint masks the identifying part of the credentials; localdocker
// has none, so it has no hint.
func credentialsHint(provider string, c cloud.Credentials) string {
	switch provider {
	case cloud.AWS:
		return secrets.Hint(c.AccessKeyID)
	case cloud.LocalDocker:
		return ""
	}
	return secrets.Hint(c.AccessToken)
}

// CreateCloudAuth stores a cloud auth with its credentials encrypted.
// accountID is the provider account the provider said the credentials
// belong to, "" when it was not asked (recorded as unknown).
func (s *Store) CreateCloudAuth(ctx context.Context, projectID string, in domain.CloudAuthInput, accountID string) (domain.CloudAuth, error) {
	if err := in.Validate(); err != nil {
		return domain.CloudAuth{}, err
	}
	id := NewID()
	creds := cloud.Credentials{AccessKeyID: in.AccessKeyID, SecretAccessKey: in.SecretAccessKey, AccessToken: in.AccessToken}
	sealed, err := s.sealCredentials(id, creds)
	if err != nil {
		return domain.CloudAuth{}, err
	}
	rows, err := s.Pool.Query(ctx, `INSERT INTO cloud_auths (id, project_id, name, provider, default_region, credentials, credentials_hint, account_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, '')) RETURNING `+cloudAuthCols,
		id, projectID, in.Name, in.Provider, in.DefaultRegion, sealed, credentialsHint(in.Provider, creds), accountID)
	if err != nil {
		return domain.CloudAuth{}, err
	}
	ca, err := pgx.CollectExactlyOneRow(rows, byName(cloudAuthRow.cloudAuth))
	if isUniqueViolation(err) {
		return domain.CloudAuth{}, domain.Errorf(domain.ECONFLICT, "a cloud auth named '%s' already exists", in.Name)
	}
	return ca, err
}

func (s *Store) sealCredentials(id string, c cloud.Credentials) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return s.seal(plain, "cloud_auths", "credentials", id)
}

func cloudAuthNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no cloud auth with id %q in this project", id)
}

// CloudAuth returns one cloud auth of the project.
func (s *Store) CloudAuth(ctx context.Context, projectID, id string) (domain.CloudAuth, error) {
	return s.cloudAuth(ctx, s.Pool, projectID, id, "")
}

func (s *Store) cloudAuth(ctx context.Context, q querier, projectID, id, lock string) (domain.CloudAuth, error) {
	if !validUUID(id) {
		return domain.CloudAuth{}, cloudAuthNotFound(id)
	}
	rows, err := q.Query(ctx, `SELECT `+cloudAuthCols+` FROM cloud_auths WHERE project_id = $1 AND id = $2 `+lock, projectID, id)
	if err != nil {
		return domain.CloudAuth{}, err
	}
	ca, err := pgx.CollectExactlyOneRow(rows, byName(cloudAuthRow.cloudAuth))
	if isNoRows(err) {
		return domain.CloudAuth{}, cloudAuthNotFound(id)
	}
	return ca, err
}

// CloudAuthCredentials decrypts a cloud auth's credentials, for provider calls.
func (s *Store) CloudAuthCredentials(ctx context.Context, projectID, id string) (domain.CloudAuth, cloud.Credentials, error) {
	return s.cloudAuthCredentials(ctx, s.Pool, projectID, id, "")
}

func (s *Store) cloudAuthCredentials(ctx context.Context, q querier, projectID, id, lock string) (domain.CloudAuth, cloud.Credentials, error) {
	ca, err := s.cloudAuth(ctx, q, projectID, id, lock)
	if err != nil {
		return ca, cloud.Credentials{}, err
	}
	var sealed []byte
	if err := q.QueryRow(ctx, `SELECT credentials FROM cloud_auths WHERE id = $1`, id).Scan(&sealed); err != nil {
		return ca, cloud.Credentials{}, err
	}
	c, err := s.openCredentials(id, sealed)
	return ca, c, err
}

// ListCloudAuths returns one page of the project's cloud auths.
func (s *Store) ListCloudAuths(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.CloudAuth], error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+cloudAuthCols+` FROM cloud_auths
		WHERE project_id = $1 AND ($2 = '' OR id > $2::uuid) ORDER BY id LIMIT $3`, projectID, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.CloudAuth]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(cloudAuthRow.cloudAuth))
	if err != nil {
		return domain.Page[domain.CloudAuth]{}, err
	}
	return domain.NewPage(items, page, func(c domain.CloudAuth) string { return c.ID }), nil
}

// PrepareCloudAuthUpdate validates a patch against the current row and
// returns the credentials and region it would leave, so the caller can check
// them with the provider before UpdateCloudAuth writes anything.
func (s *Store) PrepareCloudAuthUpdate(ctx context.Context, projectID, id string, p domain.CloudAuthPatch) (domain.CloudAuth, cloud.Credentials, error) {
	ca, creds, err := s.CloudAuthCredentials(ctx, projectID, id)
	if err != nil {
		return ca, creds, err
	}
	if p.Name != nil {
		if err := domain.ValidateName("cloud auth", *p.Name); err != nil {
			return ca, creds, err
		}
		ca.Name = *p.Name
	}
	if p.DefaultRegion != nil {
		ca.DefaultRegion = *p.DefaultRegion
		if err := domain.ValidateCloudRegion(ca.Provider, ca.DefaultRegion); err != nil {
			return ca, creds, err
		}
	}
	if p.ChangesKeys() {
		// A key pair is replaced whole: half of an old pair and half of a new one never match.
		creds = cloud.Credentials{}
		if p.AccessKeyID != nil {
			creds.AccessKeyID = *p.AccessKeyID
		}
		if p.SecretAccessKey != nil {
			creds.SecretAccessKey = *p.SecretAccessKey
		}
		if p.AccessToken != nil {
			creds.AccessToken = *p.AccessToken
		}
		if err := domain.ValidateCloudCredentials(ca.Provider, creds.AccessKeyID, creds.SecretAccessKey, creds.AccessToken); err != nil {
			return ca, creds, err
		}
	}
	return ca, creds, nil
}

// KeyChange is what a key change records about provider accounts; the
// caller checked the new keys (and, for a row whose account was unknown,
// the old ones) with the provider.
type KeyChange struct {
	// Checked is the account_id the row held when the caller compared
	// accounts (nil = unknown): if another change landed meanwhile the write
	// is refused (ECONFLICT), so no unchecked switch of accounts slips in.
	Checked *string
	// OldAccount is the account of the keys being replaced, when known.
	// The auth's spawns whose account is unknown get it: their machines
	// were made with those keys, and must not pass for the new account's.
	OldAccount string
	// NewAccount is the account of the new keys, "" when the provider could
	// not say (then the auth's account becomes unknown).
	NewAccount string
}

// UpdateCloudAuth writes a patch prepared (and validated) by
// PrepareCloudAuthUpdate. A patch that changes the keys records kc's
// accounts in the same transaction; kc is ignored otherwise.
func (s *Store) UpdateCloudAuth(ctx context.Context, projectID, id string, p domain.CloudAuthPatch, kc KeyChange) (domain.CloudAuth, error) {
	want, creds, err := s.PrepareCloudAuthUpdate(ctx, projectID, id, p)
	if err != nil {
		return want, err
	}
	var sealed []byte
	if p.ChangesKeys() {
		if sealed, err = s.sealCredentials(id, creds); err != nil {
			return want, err
		}
	}
	var ca domain.CloudAuth
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		cur, err := s.cloudAuth(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		account := cur.AccountID
		if p.ChangesKeys() {
			if !sameAccount(cur.AccountID, kc.Checked) {
				return domain.Errorf(domain.ECONFLICT, "cloud auth '%s' changed while its new keys were checked: send the change again", cur.Name)
			}
			account = nil
			if kc.NewAccount != "" {
				account = &kc.NewAccount
			}
			if kc.OldAccount != "" {
				if _, err := tx.Exec(ctx, `UPDATE compute_spawns SET account_id = $2
					WHERE cloud_auth_id = $1 AND account_id IS NULL`, id, kc.OldAccount); err != nil {
					return err
				}
			}
		}
		rows, err := tx.Query(ctx, `UPDATE cloud_auths SET name = $3, default_region = $4,
				credentials = COALESCE($5, credentials),
				credentials_hint = CASE WHEN $5::bytea IS NULL THEN credentials_hint ELSE $6 END,
				account_id = $7,
				updated_at = now()
			WHERE project_id = $1 AND id = $2 RETURNING `+cloudAuthCols,
			projectID, id, want.Name, want.DefaultRegion, sealed, credentialsHint(want.Provider, creds), account)
		if err != nil {
			return err
		}
		ca, err = pgx.CollectExactlyOneRow(rows, byName(cloudAuthRow.cloudAuth))
		return err
	})
	switch {
	case isUniqueViolation(err):
		return want, domain.Errorf(domain.ECONFLICT, "a cloud auth named '%s' already exists", want.Name)
	case isNoRows(err):
		return want, cloudAuthNotFound(id)
	case err != nil:
		return want, err
	}
	return ca, nil
}

// sameAccount compares two maybe-unknown accounts.
func sameAccount(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// DeleteCloudAuth deletes a cloud auth no compute environment uses.
func (s *Store) DeleteCloudAuth(ctx context.Context, projectID, id string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		ca, err := s.cloudAuth(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		users, err := namesOf(ctx, tx, `SELECT name FROM compute_envs WHERE cloud_auth_id = $1 ORDER BY name`, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return domain.Errorf(domain.ECONFLICT, "cloud auth '%s' is used by compute environments %s: delete them first", ca.Name, quoteNames(users))
		}
		_, err = tx.Exec(ctx, `DELETE FROM cloud_auths WHERE project_id = $1 AND id = $2`, projectID, id)
		return err
	})
}
