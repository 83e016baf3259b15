package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/cloud"
	"daestro/internal/domain"
)

// Tag prefixes. Tags stay within 50 characters, Linode's limit.
const (
	spawnTagPrefix   = "daestro-spawn-"
	projectTagPrefix = "daestro-proj-"
)

// SpawnTag is the provider tag of a spawn's machine; reconciliation finds
// machines by it, even ones whose instance ID was never recorded.
func SpawnTag(spawnID string) string { return spawnTagPrefix + spawnID }

// SpawnIDFromTag returns the spawn ID a SpawnTag names.
func SpawnIDFromTag(tag string) (string, bool) { return strings.CutPrefix(tag, spawnTagPrefix) }

// ProjectTag is the provider tag naming a machine's project.
func ProjectTag(projectID string) string { return projectTagPrefix + projectID }

// DaestroTag is on every machine daestro starts.
const DaestroTag = "daestro"

// CloudSpawn is what SpawnWorkflow's activities need to create, find and
// delete a cloud spawn's machine. It holds decrypted credentials: it never
// leaves the worker process (activities return only IDs and states).
type CloudSpawn struct {
	ID, ProjectID, State           string
	Provider, Region, InstanceType string
	InstanceID                     string
	Credentials                    cloud.Credentials
	SSHPublicKey                   string
	MaxIdleSeconds                 int
}

// CloudSpawnMachine reads a cloud spawn with its account's credentials.
func (s *Store) CloudSpawnMachine(ctx context.Context, spawnID string) (CloudSpawn, error) {
	var (
		c      CloudSpawn
		authID *string
		sealed []byte
	)
	if !validUUID(spawnID) {
		return c, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
	err := s.Pool.QueryRow(ctx, `SELECT s.id, s.project_id, s.state, s.provider, s.region, s.instance_type, s.instance_id,
			s.cloud_auth_id, a.credentials, q.ssh_public_key, q.max_idle_seconds
		FROM compute_spawns s
		JOIN job_queues q ON q.id = s.job_queue_id
		LEFT JOIN cloud_auths a ON a.id = s.cloud_auth_id
		WHERE s.id = $1`, spawnID).Scan(&c.ID, &c.ProjectID, &c.State, &c.Provider, &c.Region, &c.InstanceType, &c.InstanceID,
		&authID, &sealed, &c.SSHPublicKey, &c.MaxIdleSeconds)
	if isNoRows(err) {
		return c, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
	if err != nil {
		return c, err
	}
	if authID == nil || sealed == nil {
		return c, domain.Errorf(domain.EINVALID, "compute spawn %s has no cloud auth: its cloud auth was deleted", spawnID)
	}
	c.Credentials, err = s.openCredentials(*authID, sealed)
	return c, err
}

// openCredentials decrypts a cloud auth's sealed credentials.
func (s *Store) openCredentials(authID string, sealed []byte) (cloud.Credentials, error) {
	plain, err := s.open(sealed, "cloud_auths", "credentials", authID)
	if err != nil {
		return cloud.Credentials{}, err
	}
	var c cloud.Credentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return cloud.Credentials{}, fmt.Errorf("cloud auth %s credentials: %w", authID, err)
	}
	return c, nil
}

// RecordSpawnMachine stores the machine's instance ID and addresses.
func (s *Store) RecordSpawnMachine(ctx context.Context, spawnID string, inst cloud.Instance) error {
	_, err := s.Pool.Exec(ctx, `UPDATE compute_spawns SET instance_id = $2,
			public_ipv4 = CASE WHEN $3 = '' THEN public_ipv4 ELSE $3 END,
			public_ipv6 = CASE WHEN $4 = '' THEN public_ipv6 ELSE $4 END, updated_at = now()
		WHERE id = $1`, spawnID, inst.ID, inst.PublicIPv4, inst.PublicIPv6)
	return err
}

// CloudAccount is one cloud auth with its credentials, for reconciliation.
type CloudAccount struct {
	ID, ProjectID, Provider, DefaultRegion string
	Credentials                            cloud.Credentials
}

// CloudAccounts lists every cloud auth of every project, decrypted, for
// reconciliation: each is asked for the machines daestro tagged.
func (s *Store) CloudAccounts(ctx context.Context) ([]CloudAccount, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, project_id, provider, default_region, credentials FROM cloud_auths ORDER BY id`)
	if err != nil {
		return nil, err
	}
	type row struct {
		ID, ProjectID, Provider, Region string
		Sealed                          []byte
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, err
	}
	out := make([]CloudAccount, 0, len(list))
	var errs []error
	for _, r := range list {
		creds, err := s.openCredentials(r.ID, r.Sealed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, CloudAccount{ID: r.ID, ProjectID: r.ProjectID, Provider: r.Provider, DefaultRegion: r.Region, Credentials: creds})
	}
	return out, errors.Join(errs...)
}

// SpawnFact is a spawn's state as reconciliation sees it.
type SpawnFact struct {
	State          string
	StateChangedAt time.Time
	// SinceChange is how long ago the state changed, by the database's clock.
	SinceChange time.Duration
}

// SpawnFacts reads the state of the given spawns; missing IDs are absent
// from the map (their project was deleted).
func (s *Store) SpawnFacts(ctx context.Context, ids []string) (map[string]SpawnFact, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if validUUID(id) {
			valid = append(valid, id)
		}
	}
	out := map[string]SpawnFact{}
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := s.Pool.Query(ctx, `SELECT id::text, state, state_changed_at, (extract(epoch FROM now() - state_changed_at) * 1000)::bigint
		FROM compute_spawns WHERE id = ANY($1::uuid[])`, valid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			f  SpawnFact
			ms int64
		)
		if err := rows.Scan(&id, &f.State, &f.StateChangedAt, &ms); err != nil {
			return nil, err
		}
		f.SinceChange = time.Duration(ms) * time.Millisecond
		out[id] = f
	}
	return out, rows.Err()
}

// CloudAuthRegions lists the regions a cloud auth's machines may be in: its
// default region and every region one of its spawns was made in.
func (s *Store) CloudAuthRegions(ctx context.Context, authID string) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT default_region FROM cloud_auths WHERE id = $1
		UNION SELECT DISTINCT region FROM compute_spawns WHERE cloud_auth_id = $1 ORDER BY 1`, authID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// TerminationFailedSpawns lists the spawns of a cloud auth in
// termination_failed for at least grace: reconciliation marks terminated
// those whose machines it no longer finds.
func (s *Store) TerminationFailedSpawns(ctx context.Context, authID string, grace time.Duration) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id::text FROM compute_spawns
		WHERE cloud_auth_id = $1 AND state = 'termination_failed' AND state_changed_at <= now() - make_interval(secs => $2)`,
		authID, grace.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// SpawnAllocations counts the runs allocated to a spawn now and reads its
// queue's current max idle time.
func (s *Store) SpawnAllocations(ctx context.Context, spawnID string) (allocated, maxIdleSeconds int, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM allocations WHERE compute_spawn_id = s.id), q.max_idle_seconds
		FROM compute_spawns s JOIN job_queues q ON q.id = s.job_queue_id WHERE s.id = $1`, spawnID).Scan(&allocated, &maxIdleSeconds)
	return allocated, maxIdleSeconds, err
}
