package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"daestro/internal/domain"
)

// newConsoleSecret is 256 random bits, URL-safe: a session or CSRF token.
func newConsoleSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CreateConsoleSession opens a console session for an authenticated API key
// and returns its token (the cookie's value, kept only as a hash) and the
// session. Expired sessions are swept on the way.
func (s *Store) CreateConsoleSession(ctx context.Context, apiKeyID string, ttl time.Duration) (string, domain.ConsoleSession, error) {
	if _, err := s.Pool.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < now()`); err != nil {
		return "", domain.ConsoleSession{}, err
	}
	token, csrf := newConsoleSecret(), newConsoleSecret()
	hash := sha256.Sum256([]byte(token))
	if _, err := s.Pool.Exec(ctx, `INSERT INTO console_sessions (token_hash, api_key_id, csrf_token, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4))`, hash[:], apiKeyID, csrf, ttl.Seconds()); err != nil {
		return "", domain.ConsoleSession{}, err
	}
	sess, err := s.ConsoleSession(ctx, token)
	return token, sess, err
}

// ConsoleSession resolves a session token. An unknown or expired token, or
// one whose API key was revoked, is EUNAUTHORIZED with the reason.
func (s *Store) ConsoleSession(ctx context.Context, token string) (domain.ConsoleSession, error) {
	hash := sha256.Sum256([]byte(token))
	var sess domain.ConsoleSession
	var revoked *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT cs.csrf_token, cs.expires_at, k.id, k.prefix, k.revoked_at,
			p.id, p.code, p.name, p.log_retention_days, p.created_at, p.updated_at
		FROM console_sessions cs JOIN api_keys k ON k.id = cs.api_key_id JOIN projects p ON p.id = k.project_id
		WHERE cs.token_hash = $1`, hash[:]).Scan(&sess.CSRFToken, &sess.ExpiresAt, &sess.APIKeyID, &sess.APIKeyPrefix, &revoked,
		&sess.Project.ID, &sess.Project.Code, &sess.Project.Name, &sess.Project.LogRetentionDays, &sess.Project.CreatedAt, &sess.Project.UpdatedAt)
	switch {
	case isNoRows(err):
		return sess, domain.Errorf(domain.EUNAUTHORIZED, "you are signed out: sign in with an API key of the project")
	case err != nil:
		return sess, err
	case revoked != nil:
		return sess, domain.Errorf(domain.EUNAUTHORIZED, "the API key %s this session was opened with was revoked: sign in with another key", sess.APIKeyPrefix)
	case time.Now().After(sess.ExpiresAt):
		return sess, domain.Errorf(domain.EUNAUTHORIZED, "your session expired: sign in again")
	}
	return sess, nil
}

// DeleteConsoleSession ends a session (sign-out); an unknown token is no error.
func (s *Store) DeleteConsoleSession(ctx context.Context, token string) error {
	hash := sha256.Sum256([]byte(token))
	_, err := s.Pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, hash[:])
	return err
}

// JobCountsByState counts the project's jobs per state, for the console's dashboard.
func (s *Store) JobCountsByState(ctx context.Context, projectID string) (map[domain.JobState]int, error) {
	return countByState[domain.JobState](ctx, s, `SELECT state, count(*) FROM jobs WHERE project_id = $1 GROUP BY state`, projectID)
}

// SpawnCountsByState counts the project's compute spawns per state.
func (s *Store) SpawnCountsByState(ctx context.Context, projectID string) (map[string]int, error) {
	return countByState[string](ctx, s, `SELECT state, count(*) FROM compute_spawns WHERE project_id = $1 GROUP BY state`, projectID)
}

func countByState[K ~string](ctx context.Context, s *Store, sql, projectID string) (map[K]int, error) {
	rows, err := s.Pool.Query(ctx, sql, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[K]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		out[K(state)] = n
	}
	return out, rows.Err()
}
