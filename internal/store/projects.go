package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/domain"
)

// APIKeyPrefix starts every API key, so a leaked key is recognisable by scanners.
const APIKeyPrefix = "dst_"

const projectCols = `id, code, name, log_retention_days, created_at, updated_at`

// projectRow is one row of projects read with projectCols.
type projectRow struct {
	ID        string    `db:"id"`
	Code      string    `db:"code"`
	Name      string    `db:"name"`
	Retention int       `db:"log_retention_days"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

func (r projectRow) project() domain.Project {
	return domain.Project{ID: r.ID, Code: r.Code, Name: r.Name, LogRetentionDays: r.Retention, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

const apiKeyCols = `id, project_id, name, prefix, created_at, last_used_at, revoked_at`

// apiKeyRow is one row of api_keys read with apiKeyCols (no secret hash).
type apiKeyRow struct {
	ID         string     `db:"id"`
	ProjectID  string     `db:"project_id"`
	Name       string     `db:"name"`
	Prefix     string     `db:"prefix"`
	CreatedAt  time.Time  `db:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
}

func (r apiKeyRow) apiKey() domain.APIKey {
	return domain.APIKey{ID: r.ID, ProjectID: r.ProjectID, Name: r.Name, Prefix: r.Prefix,
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

// apiKeyAuthRow is a key with its secret hash and its project, as
// AuthenticateAPIKey reads it.
type apiKeyAuthRow struct {
	apiKeyRow
	SecretHash       []byte    `db:"secret_hash"`
	ProjectCode      string    `db:"project_code"`
	ProjectName      string    `db:"project_name"`
	ProjectRetention int       `db:"project_log_retention_days"`
	ProjectCreatedAt time.Time `db:"project_created_at"`
	ProjectUpdatedAt time.Time `db:"project_updated_at"`
}

// project is the key's project (its ID is the key's project_id, the join's key).
func (r apiKeyAuthRow) project() domain.Project {
	return domain.Project{ID: r.ProjectID, Code: r.ProjectCode, Name: r.ProjectName, LogRetentionDays: r.ProjectRetention,
		CreatedAt: r.ProjectCreatedAt, UpdatedAt: r.ProjectUpdatedAt}
}

// CreateProject inserts a project; a taken code is ECONFLICT.
func (s *Store) CreateProject(ctx context.Context, code, name string) (domain.Project, error) {
	if err := domain.ValidateProjectCode(code); err != nil {
		return domain.Project{}, err
	}
	if name == "" {
		name = code
	}
	rows, err := s.Pool.Query(ctx, `INSERT INTO projects (id, code, name) VALUES ($1, $2, $3)
		RETURNING `+projectCols, NewID(), code, name)
	if err != nil {
		return domain.Project{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, byName(projectRow.project))
	if isUniqueViolation(err) {
		return domain.Project{}, domain.Errorf(domain.ECONFLICT, "project code %q is taken", code)
	}
	return p, err
}

// ProjectByCode finds a project by its code.
func (s *Store) ProjectByCode(ctx context.Context, code string) (domain.Project, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+projectCols+` FROM projects WHERE code = $1`, code)
	if err != nil {
		return domain.Project{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, byName(projectRow.project))
	if isNoRows(err) {
		return domain.Project{}, domain.Errorf(domain.ENOTFOUND, "no project with code %q", code)
	}
	return p, err
}

// ProjectByID finds a project by its ID.
func (s *Store) ProjectByID(ctx context.Context, id string) (domain.Project, error) {
	if !validUUID(id) {
		return domain.Project{}, domain.Errorf(domain.ENOTFOUND, "no project with id %q", id)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, id)
	if err != nil {
		return domain.Project{}, err
	}
	p, err := pgx.CollectExactlyOneRow(rows, byName(projectRow.project))
	if isNoRows(err) {
		return domain.Project{}, domain.Errorf(domain.ENOTFOUND, "no project with id %q", id)
	}
	return p, err
}

// CreateAPIKey makes a key for projectID and returns it with its secret,
// which exists only in this return value: the database keeps a hash.
func (s *Store) CreateAPIKey(ctx context.Context, projectID, name string) (domain.APIKey, string, error) {
	secret, prefix := newAPIKeySecret()
	hash := sha256.Sum256([]byte(secret))
	rows, err := s.Pool.Query(ctx, `INSERT INTO api_keys (id, project_id, name, prefix, secret_hash)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+apiKeyCols,
		NewID(), projectID, name, prefix, hash[:])
	if err != nil {
		return domain.APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	k, err := pgx.CollectOneRow(rows, byName(apiKeyRow.apiKey))
	if err != nil {
		return domain.APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	return k, secret, nil
}

// newAPIKeySecret returns a key "dst_<12 hex prefix chars>_<43 secret chars>"
// and its visible prefix. The prefix is hex so it never contains the '_'
// separator (the secret's base64url alphabet may).
func newAPIKeySecret() (secret, prefix string) {
	var p [6]byte
	var b [32]byte
	_, _ = rand.Read(p[:])
	_, _ = rand.Read(b[:])
	prefix = APIKeyPrefix + hex.EncodeToString(p[:])
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:]), prefix
}

// AuthenticateAPIKey resolves a presented key to its project, records its
// use, and says exactly why a key is refused (EUNAUTHORIZED).
func (s *Store) AuthenticateAPIKey(ctx context.Context, presented string) (domain.Project, domain.APIKey, error) {
	prefix, _, ok := strings.Cut(strings.TrimPrefix(presented, APIKeyPrefix), "_")
	if !strings.HasPrefix(presented, APIKeyPrefix) || !ok || prefix == "" {
		return domain.Project{}, domain.APIKey{}, domain.Errorf(domain.EUNAUTHORIZED,
			"malformed API key: expected %s<prefix>_<secret> as issued by `daestro admin create-project` or POST /v1/api-keys", APIKeyPrefix)
	}
	rows, err := s.Pool.Query(ctx, `SELECT k.id, k.project_id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at, k.secret_hash,
			p.code AS project_code, p.name AS project_name,
			p.log_retention_days AS project_log_retention_days, p.created_at AS project_created_at, p.updated_at AS project_updated_at
		FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.prefix = $1`, APIKeyPrefix+prefix)
	if err != nil {
		return domain.Project{}, domain.APIKey{}, err
	}
	row, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[apiKeyAuthRow])
	k, p := row.apiKey(), row.project()
	sum := sha256.Sum256([]byte(presented))
	if isNoRows(err) || (err == nil && subtle.ConstantTimeCompare(sum[:], row.SecretHash) != 1) {
		return domain.Project{}, domain.APIKey{}, domain.Errorf(domain.EUNAUTHORIZED, "unknown API key %s…: check for a typo or create a new key", APIKeyPrefix+prefix)
	}
	if err != nil {
		return domain.Project{}, domain.APIKey{}, err
	}
	if k.RevokedAt != nil {
		return domain.Project{}, domain.APIKey{}, domain.Errorf(domain.EUNAUTHORIZED, "API key %s was revoked at %s: use another key", k.Prefix, k.RevokedAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	// Coarse last-used tracking: one write a minute per key at most.
	if _, err := s.Pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, k.ID); err != nil {
		return domain.Project{}, domain.APIKey{}, err
	}
	return p, k, nil
}

// ListAPIKeys returns one page of the project's keys, revoked ones included.
func (s *Store) ListAPIKeys(ctx context.Context, projectID string, page domain.PageRequest) (domain.Page[domain.APIKey], error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys
		WHERE project_id = $1 AND ($2 = '' OR id > $2::uuid) ORDER BY id LIMIT $3`, projectID, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.APIKey]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(apiKeyRow.apiKey))
	if err != nil {
		return domain.Page[domain.APIKey]{}, err
	}
	return domain.NewPage(items, page, func(k domain.APIKey) string { return k.ID }), nil
}

// RevokeAPIKey revokes a key for good. The project's last active key cannot
// be revoked: that would lock everyone out of the API.
func (s *Store) RevokeAPIKey(ctx context.Context, projectID, id string) (domain.APIKey, error) {
	notFound := domain.Errorf(domain.ENOTFOUND, "no API key with id %q in this project", id)
	if !validUUID(id) {
		return domain.APIKey{}, notFound
	}
	var k domain.APIKey
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// Lock all the project's keys: two concurrent revocations must not
		// both see "another key is still active".
		rows, err := tx.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE project_id = $1 ORDER BY id FOR UPDATE`, projectID)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, byName(apiKeyRow.apiKey))
		if err != nil {
			return err
		}
		active, found := 0, false
		for _, key := range keys {
			if key.RevokedAt == nil {
				active++
			}
			if key.ID == id {
				k, found = key, true
			}
		}
		if !found {
			return notFound
		}
		if k.RevokedAt != nil {
			return domain.Errorf(domain.ECONFLICT, "API key %s is already revoked", k.Prefix)
		}
		if active == 1 {
			return domain.Errorf(domain.ECONFLICT, "API key %s is the project's last active key: create another key before revoking it", k.Prefix)
		}
		return tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING revoked_at`, id).Scan(&k.RevokedAt)
	})
	return k, err
}
