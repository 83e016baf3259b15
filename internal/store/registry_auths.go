package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
	"daestro/internal/secrets"
)

const registryAuthCols = `id, name, registry_url, username, password_hint, created_at, updated_at`

// registryAuthRow is one row of registry_auths read with registryAuthCols (no password).
type registryAuthRow struct {
	ID           string    `db:"id"`
	Name         string    `db:"name"`
	RegistryURL  string    `db:"registry_url"`
	Username     string    `db:"username"`
	PasswordHint string    `db:"password_hint"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
}

func (r registryAuthRow) registryAuth() domain.RegistryAuth {
	return domain.RegistryAuth{ID: r.ID, Name: r.Name, RegistryURL: r.RegistryURL, Username: r.Username,
		PasswordHint: r.PasswordHint, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func registryAuthNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no registry auth with id %q in this project", id)
}

// CreateRegistryAuth stores a registry auth with its password encrypted.
func (s *Store) CreateRegistryAuth(ctx context.Context, projectID string, in domain.RegistryAuthInput) (domain.RegistryAuth, error) {
	in, err := in.Normalize()
	if err != nil {
		return domain.RegistryAuth{}, err
	}
	id := NewID()
	var sealed []byte
	hint := ""
	if in.Password != "" {
		if sealed, err = s.seal([]byte(in.Password), "registry_auths", "password", id); err != nil {
			return domain.RegistryAuth{}, err
		}
		hint = secrets.Hint(in.Password)
	}
	rows, err := s.Pool.Query(ctx, `INSERT INTO registry_auths (id, project_id, name, registry_url, username, password, password_hint)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+registryAuthCols,
		id, projectID, in.Name, in.RegistryURL, in.Username, sealed, hint)
	if err != nil {
		return domain.RegistryAuth{}, err
	}
	ra, err := pgx.CollectExactlyOneRow(rows, byName(registryAuthRow.registryAuth))
	if isUniqueViolation(err) {
		return domain.RegistryAuth{}, domain.Errorf(domain.ECONFLICT,
			"a registry auth named '%s' already exists: registry auths are immutable, so give the new one another name", in.Name)
	}
	return ra, err
}

// RegistryAuth returns one registry auth of the project.
func (s *Store) RegistryAuth(ctx context.Context, projectID, id string) (domain.RegistryAuth, error) {
	return s.registryAuth(ctx, s.Pool, projectID, id, "")
}

// registryAuth reads one registry auth, taking the row lock named by lock
// ("", "FOR SHARE", "FOR UPDATE") inside a transaction.
func (s *Store) registryAuth(ctx context.Context, q querier, projectID, id, lock string) (domain.RegistryAuth, error) {
	if !validUUID(id) {
		return domain.RegistryAuth{}, registryAuthNotFound(id)
	}
	rows, err := q.Query(ctx, `SELECT `+registryAuthCols+` FROM registry_auths WHERE project_id = $1 AND id = $2 `+lock, projectID, id)
	if err != nil {
		return domain.RegistryAuth{}, err
	}
	ra, err := pgx.CollectExactlyOneRow(rows, byName(registryAuthRow.registryAuth))
	if isNoRows(err) {
		return domain.RegistryAuth{}, registryAuthNotFound(id)
	}
	return ra, err
}

// RegistryAuthSecret decrypts a registry auth's credentials, for the agent
// that pulls an image; password is "" when the auth has none.
func (s *Store) RegistryAuthSecret(ctx context.Context, projectID, id string) (username, password string, err error) {
	if !validUUID(id) {
		return "", "", registryAuthNotFound(id)
	}
	var sealed []byte
	err = s.Pool.QueryRow(ctx, `SELECT username, password FROM registry_auths WHERE project_id = $1 AND id = $2`, projectID, id).
		Scan(&username, &sealed)
	if isNoRows(err) {
		return "", "", registryAuthNotFound(id)
	}
	if err != nil || sealed == nil {
		return username, "", err
	}
	plain, err := s.open(sealed, "registry_auths", "password", id)
	if err != nil {
		return "", "", err
	}
	return username, string(plain), nil
}

// ListRegistryAuths returns one page of the project's registry auths.
func (s *Store) ListRegistryAuths(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.RegistryAuth], error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+registryAuthCols+` FROM registry_auths
		WHERE project_id = $1 AND ($2 = '' OR id > $2::uuid) ORDER BY id LIMIT $3`, projectID, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.RegistryAuth]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(registryAuthRow.registryAuth))
	if err != nil {
		return domain.Page[domain.RegistryAuth]{}, err
	}
	return domain.NewPage(items, page, func(r domain.RegistryAuth) string { return r.ID }), nil
}

// DeleteRegistryAuth deletes a registry auth no active job definition uses.
// Deleted definition versions that still point at it let go of it: they can
// no longer run, and keeping the reference would pin the auth forever.
func (s *Store) DeleteRegistryAuth(ctx context.Context, projectID, id string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// FOR UPDATE waits for definitions being created with this auth
		// (they hold FOR SHARE on it), so none slips in after the check.
		ra, err := s.registryAuth(ctx, tx, projectID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		users, err := namesOf(ctx, tx, `SELECT name || ':' || version FROM job_definitions
			WHERE project_id = $1 AND registry_auth_id = $2 AND deleted_at IS NULL ORDER BY name, version`, projectID, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return domain.Errorf(domain.ECONFLICT,
				"registry auth '%s' is used by job definitions %s: delete those versions or add revisions that use another registry auth first",
				ra.Name, quoteNames(users))
		}
		if _, err := tx.Exec(ctx, `UPDATE job_definitions SET registry_auth_id = NULL
			WHERE project_id = $1 AND registry_auth_id = $2 AND deleted_at IS NOT NULL`, projectID, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM registry_auths WHERE project_id = $1 AND id = $2`, projectID, id)
		return err
	})
}
