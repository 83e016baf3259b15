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

	"daestro/internal/agentapi"
	"daestro/internal/domain"
)

// Kinds of agent token (agent_tokens.kind).
const (
	// tokenBootstrap is shown once (the `docker run` line, cloud-init) and
	// exchanged at the agent's first registration.
	tokenBootstrap = "bootstrap"
	// tokenCredential is what the agent keeps in its state dir and uses for
	// everything else: HTTP routes and the Temporal gateway.
	tokenCredential = "credential"
)

// createAgentToken makes an agent token of a spawn and returns it; the
// database keeps a hash, as for API keys.
func createAgentToken(ctx context.Context, tx pgx.Tx, projectID, spawnID, kind string) (string, error) {
	var p [6]byte
	var b [32]byte
	_, _ = rand.Read(p[:])
	_, _ = rand.Read(b[:])
	// The prefix is hex so it never contains the '_' separator (the secret's
	// base64url alphabet may).
	prefix := agentapi.TokenPrefix + hex.EncodeToString(p[:])
	token := prefix + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	hash := sha256.Sum256([]byte(token))
	if _, err := tx.Exec(ctx, `INSERT INTO agent_tokens (id, project_id, compute_spawn_id, prefix, secret_hash, kind)
		VALUES ($1, $2, $3, $4, $5, $6)`, NewID(), projectID, spawnID, prefix, hash[:], kind); err != nil {
		return "", fmt.Errorf("create agent token: %w", err)
	}
	return token, nil
}

// MintAgentToken makes a fresh bootstrap token for a spawn, for the
// user-data of its next machine. The caller has checked that no machine of
// the spawn exists, so the spawn's earlier unused bootstrap tokens (of
// attempts whose create failed) are held by nobody and stop working.
func (s *Store) MintAgentToken(ctx context.Context, spawnID string) (string, error) {
	var token string
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var projectID string
		if err := tx.QueryRow(ctx, `SELECT project_id FROM compute_spawns WHERE id = $1`, spawnID).Scan(&projectID); err != nil {
			if isNoRows(err) {
				return domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE agent_tokens SET revoked_at = now()
			WHERE compute_spawn_id = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL`, spawnID, tokenBootstrap); err != nil {
			return err
		}
		var err error
		token, err = createAgentToken(ctx, tx, projectID, spawnID, tokenBootstrap)
		return err
	})
	return token, err
}

// agentTokenRow is an agent token with its spawn and the spawn's
// environment, as AuthenticateAgentToken reads it.
type agentTokenRow struct {
	TokenID          string     `db:"token_id"`
	TokenPrefix      string     `db:"token_prefix"`
	SecretHash       []byte     `db:"secret_hash"`
	TokenKind        string     `db:"token_kind"`
	RevokedAt        *time.Time `db:"revoked_at"`
	UsedAt           *time.Time `db:"used_at"`
	SpawnID          string     `db:"spawn_id"`
	ProjectID        string     `db:"project_id"`
	State            string     `db:"state"`
	UsableCPUPct     *int       `db:"usable_cpu_pct"`
	UsableMemoryMB   *int       `db:"usable_memory_mb"`
	SpawnKind        string     `db:"spawn_kind"`
	InstanceVCPU     *int       `db:"instance_vcpu"`
	InstanceMemoryMB *int       `db:"instance_memory_mb"`
}

// session is the token's agent session; whether the token may be used is
// the caller's check.
func (r agentTokenRow) session() domain.AgentSession {
	return domain.AgentSession{SpawnID: r.SpawnID, ProjectID: r.ProjectID, State: r.State, TokenPrefix: r.TokenPrefix,
		UsableCPUPct: r.UsableCPUPct, UsableMemoryMB: r.UsableMemoryMB, TokenID: r.TokenID,
		Bootstrap: r.TokenKind == tokenBootstrap, SpawnKind: r.SpawnKind,
		InstanceVCPU: r.InstanceVCPU, InstanceMemoryMB: r.InstanceMemoryMB}
}

// AuthenticateAgentToken resolves a presented agent token to its spawn,
// records its use, and says exactly why a token is refused (EUNAUTHORIZED):
// unknown, revoked, already exchanged, or of a spawn that ended. A bootstrap
// token resolves too (session.Bootstrap): only registration takes one.
func (s *Store) AuthenticateAgentToken(ctx context.Context, presented string) (domain.AgentSession, error) {
	prefix, _, ok := strings.Cut(strings.TrimPrefix(presented, agentapi.TokenPrefix), "_")
	if !strings.HasPrefix(presented, agentapi.TokenPrefix) || !ok || prefix == "" {
		return domain.AgentSession{}, domain.Errorf(domain.EUNAUTHORIZED,
			"malformed agent token: expected %s<prefix>_<secret> as printed when the compute spawn was created", agentapi.TokenPrefix)
	}
	rows, err := s.Pool.Query(ctx, `SELECT t.id AS token_id, t.prefix AS token_prefix, t.secret_hash, t.kind AS token_kind,
			t.revoked_at, t.used_at, s.id AS spawn_id, s.project_id, s.state, e.usable_cpu_pct, e.usable_memory_mb,
			s.kind AS spawn_kind, e.instance_vcpu, e.instance_memory_mb
		FROM agent_tokens t
		JOIN compute_spawns s ON s.id = t.compute_spawn_id
		JOIN compute_envs e ON e.id = s.compute_env_id
		WHERE t.prefix = $1`, agentapi.TokenPrefix+prefix)
	if err != nil {
		return domain.AgentSession{}, err
	}
	row, err := pgx.CollectOneRow(rows, pgx.RowToStructByName[agentTokenRow])
	sum := sha256.Sum256([]byte(presented))
	if isNoRows(err) || (err == nil && subtle.ConstantTimeCompare(sum[:], row.SecretHash) != 1) {
		return domain.AgentSession{}, domain.Errorf(domain.EUNAUTHORIZED,
			"unknown agent token %s…: check %s for a typo, or create a new compute spawn for a new token", agentapi.TokenPrefix+prefix, agentapi.EnvAuthToken)
	}
	if err != nil {
		return domain.AgentSession{}, err
	}
	a, revokedAt, usedAt := row.session(), row.RevokedAt, row.UsedAt
	switch {
	case revokedAt != nil:
		return domain.AgentSession{}, domain.Errorf(domain.EUNAUTHORIZED, "agent token %s was revoked at %s (a newer agent registered for this spawn, or the spawn ended): create a new compute spawn and start the agent with its token",
			a.TokenPrefix, revokedAt.UTC().Format(time.RFC3339))
	case a.Bootstrap && usedAt != nil:
		return domain.AgentSession{}, domain.Errorf(domain.EUNAUTHORIZED, "agent token %s was already exchanged by an agent at %s: a bootstrap token works once; the agent keeps its credential in its state dir (%s), so restart it with the same volume, or create a new compute spawn",
			a.TokenPrefix, usedAt.UTC().Format(time.RFC3339), "/var/lib/daestro-agent")
	case domain.SpawnStateIsFinal(a.State):
		// The session comes back with the error: the caller may tell the
		// agent that its spawn ended (a reason to stop, not to complain).
		return a, domain.Errorf(domain.EUNAUTHORIZED, "compute spawn %s is %s: its agent tokens no longer work; create a new compute spawn and start the agent with its token",
			a.SpawnID, a.State)
	}
	// Coarse last-used tracking, as for API keys: one write a minute at most.
	if _, err := s.Pool.Exec(ctx, `UPDATE agent_tokens SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, a.TokenID); err != nil {
		return domain.AgentSession{}, err
	}
	return a, nil
}

// ExchangeBootstrapToken spends the session's bootstrap token and returns
// the spawn's new credential. Every other token of the spawn stops working:
// the agent that registers last is the spawn's agent, an earlier one is
// superseded (and the tasks handed to it are forgotten).
func (s *Store) ExchangeBootstrapToken(ctx context.Context, sess domain.AgentSession) (string, error) {
	var credential string
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE agent_tokens SET used_at = now(), last_used_at = now()
			WHERE id = $1 AND kind = $2 AND used_at IS NULL AND revoked_at IS NULL`, sess.TokenID, tokenBootstrap)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return domain.Errorf(domain.EUNAUTHORIZED, "agent token %s was already exchanged by another agent: a bootstrap token works once", sess.TokenPrefix)
		}
		if _, err := tx.Exec(ctx, `UPDATE agent_tokens SET revoked_at = now()
			WHERE compute_spawn_id = $1 AND id <> $2 AND revoked_at IS NULL`, sess.SpawnID, sess.TokenID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM agent_task_tokens WHERE compute_spawn_id = $1`, sess.SpawnID); err != nil {
			return err
		}
		credential, err = createAgentToken(ctx, tx, sess.ProjectID, sess.SpawnID, tokenCredential)
		return err
	})
	return credential, err
}

// RevokeAgentTokens revokes every token of a spawn for good, and forgets
// the activity tasks handed to its agent.
func (s *Store) RevokeAgentTokens(ctx context.Context, spawnID string) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE agent_tokens SET revoked_at = now() WHERE compute_spawn_id = $1 AND revoked_at IS NULL`, spawnID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM agent_task_tokens WHERE compute_spawn_id = $1`, spawnID)
		return err
	})
}

// RecordTaskToken remembers that the gateway handed an activity task token
// to the agent of spawnID.
func (s *Store) RecordTaskToken(ctx context.Context, spawnID string, taskToken []byte) error {
	sum := sha256.Sum256(taskToken)
	_, err := s.Pool.Exec(ctx, `INSERT INTO agent_task_tokens (token_hash, compute_spawn_id) VALUES ($1, $2)
		ON CONFLICT (token_hash) DO NOTHING`, sum[:], spawnID)
	return err
}

// TaskTokenIssuedTo reports whether the gateway handed taskToken to the
// agent of spawnID.
func (s *Store) TaskTokenIssuedTo(ctx context.Context, spawnID string, taskToken []byte) (bool, error) {
	sum := sha256.Sum256(taskToken)
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM agent_task_tokens WHERE token_hash = $1 AND compute_spawn_id = $2)`,
		sum[:], spawnID).Scan(&ok)
	return ok, err
}

// ForgetTaskToken drops a task token the agent has answered for good.
func (s *Store) ForgetTaskToken(ctx context.Context, taskToken []byte) error {
	sum := sha256.Sum256(taskToken)
	_, err := s.Pool.Exec(ctx, `DELETE FROM agent_task_tokens WHERE token_hash = $1`, sum[:])
	return err
}
