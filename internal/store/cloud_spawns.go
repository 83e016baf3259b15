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
	// AuthName is the cloud auth's name, for notes.
	AuthName string
	// AccountID is the provider account the spawn's machine was (or is
	// being) created in; AuthAccountID the account of the cloud auth's
	// keys now, read with Credentials. Either is "" when unknown.
	AccountID, AuthAccountID string
}

// AccountMoved reports whether the cloud auth's keys now belong to another
// provider account than the one the spawn's machine was created in: then
// the provider's "not found" with these keys says nothing about the
// machine, which daestro can no longer see or delete. Unknown accounts
// (rows from before daestro recorded them) never count as moved.
func (c CloudSpawn) AccountMoved() bool {
	return c.AccountID != "" && c.AuthAccountID != "" && c.AccountID != c.AuthAccountID
}

// cloudSpawnRow is a cloud spawn with its queue's machine settings and its
// cloud auth's sealed credentials (NULL once the auth is gone).
type cloudSpawnRow struct {
	ID             string  `db:"id"`
	ProjectID      string  `db:"project_id"`
	State          string  `db:"state"`
	Provider       string  `db:"provider"`
	Region         string  `db:"region"`
	InstanceType   string  `db:"instance_type"`
	InstanceID     string  `db:"instance_id"`
	CloudAuthID    *string `db:"cloud_auth_id"`
	Credentials    []byte  `db:"credentials"` // sealed
	SSHPublicKey   string  `db:"ssh_public_key"`
	MaxIdleSeconds int     `db:"max_idle_seconds"`
	AuthName       *string `db:"auth_name"`
	AccountID      *string `db:"account_id"`
	AuthAccountID  *string `db:"auth_account_id"`
}

// cloudSpawnOf maps a cloudSpawnRow to its CloudSpawn, opening the credentials.
func (s *Store) cloudSpawnOf(r cloudSpawnRow) (CloudSpawn, error) {
	c := CloudSpawn{ID: r.ID, ProjectID: r.ProjectID, State: r.State, Provider: r.Provider, Region: r.Region,
		InstanceType: r.InstanceType, InstanceID: r.InstanceID, SSHPublicKey: r.SSHPublicKey, MaxIdleSeconds: r.MaxIdleSeconds,
		AuthName: deref(r.AuthName), AccountID: deref(r.AccountID), AuthAccountID: deref(r.AuthAccountID)}
	if r.CloudAuthID == nil || r.Credentials == nil {
		return c, domain.Errorf(domain.EINVALID, "compute spawn %s has no cloud auth: its cloud auth was deleted", r.ID)
	}
	var err error
	c.Credentials, err = s.openCredentials(*r.CloudAuthID, r.Credentials)
	return c, err
}

// CloudSpawnMachine reads a cloud spawn with its account's credentials.
func (s *Store) CloudSpawnMachine(ctx context.Context, spawnID string) (CloudSpawn, error) {
	if !validUUID(spawnID) {
		return CloudSpawn{}, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
	rows, err := s.Pool.Query(ctx, `SELECT s.id, s.project_id, s.state, s.provider, s.region, s.instance_type, s.instance_id,
			s.cloud_auth_id, a.credentials, q.ssh_public_key, q.max_idle_seconds,
			a.name AS auth_name, s.account_id, a.account_id AS auth_account_id
		FROM compute_spawns s
		JOIN job_queues q ON q.id = s.job_queue_id
		LEFT JOIN cloud_auths a ON a.id = s.cloud_auth_id
		WHERE s.id = $1`, spawnID)
	if err != nil {
		return CloudSpawn{}, err
	}
	c, err := pgx.CollectOneRow(rows, byNameErr(s.cloudSpawnOf))
	if isNoRows(err) {
		return c, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
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

// SetSpawnAccount records the provider account a spawn's machine is created
// in: the account of the keys about to create it ("" = unknown, a no-op).
func (s *Store) SetSpawnAccount(ctx context.Context, spawnID, accountID string) error {
	if accountID == "" {
		return nil
	}
	_, err := s.Pool.Exec(ctx, `UPDATE compute_spawns SET account_id = $2 WHERE id = $1`, spawnID, accountID)
	return err
}

// deref is *p, "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// CloudAccount is one cloud auth with its credentials, for reconciliation.
type CloudAccount struct {
	ID, ProjectID, Provider, DefaultRegion string
	Credentials                            cloud.Credentials
	// Name is the cloud auth's name; AccountID the provider account of its
	// keys, "" when unknown.
	Name, AccountID string
}

// CloudAccounts lists every cloud auth of every project, decrypted, for
// reconciliation: each is asked for the machines daestro tagged.
func (s *Store) CloudAccounts(ctx context.Context) ([]CloudAccount, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, project_id, name, provider, default_region, credentials, account_id FROM cloud_auths ORDER BY id`)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[cloudAccountRow])
	if err != nil {
		return nil, err
	}
	out := make([]CloudAccount, 0, len(list))
	var errs []error
	for _, r := range list {
		a, err := s.cloudAccountOf(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a)
	}
	return out, errors.Join(errs...)
}

// cloudAccountRow is one cloud auth with its sealed credentials.
type cloudAccountRow struct {
	ID            string  `db:"id"`
	ProjectID     string  `db:"project_id"`
	Name          string  `db:"name"`
	Provider      string  `db:"provider"`
	DefaultRegion string  `db:"default_region"`
	Credentials   []byte  `db:"credentials"` // sealed
	AccountID     *string `db:"account_id"`
}

// cloudAccountOf maps a cloudAccountRow to its account, opening the credentials.
func (s *Store) cloudAccountOf(r cloudAccountRow) (CloudAccount, error) {
	creds, err := s.openCredentials(r.ID, r.Credentials)
	if err != nil {
		return CloudAccount{}, err
	}
	return CloudAccount{ID: r.ID, ProjectID: r.ProjectID, Name: r.Name, Provider: r.Provider, DefaultRegion: r.DefaultRegion,
		Credentials: creds, AccountID: deref(r.AccountID)}, nil
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
	rows, err := s.Pool.Query(ctx, `SELECT id::text AS id, state, state_changed_at,
			(extract(epoch FROM now() - state_changed_at) * 1000)::bigint AS since_change_ms
		FROM compute_spawns WHERE id = ANY($1::text[]::uuid[])`, valid)
	if err != nil {
		return nil, err
	}
	facts, err := pgx.CollectRows(rows, pgx.RowToStructByName[spawnFactRow])
	if err != nil {
		return nil, err
	}
	for _, r := range facts {
		out[r.ID] = r.spawnFact()
	}
	return out, nil
}

// spawnFactRow is a spawn's state with its age by the database's clock.
type spawnFactRow struct {
	ID             string    `db:"id"`
	State          string    `db:"state"`
	StateChangedAt time.Time `db:"state_changed_at"`
	SinceChangeMS  int64     `db:"since_change_ms"`
}

func (r spawnFactRow) spawnFact() SpawnFact {
	return SpawnFact{State: r.State, StateChangedAt: r.StateChangedAt, SinceChange: time.Duration(r.SinceChangeMS) * time.Millisecond}
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
// those whose machines it no longer finds. A spawn whose machine was made
// in another account than the auth's keys now belong to is left out: the
// keys cannot see its machine, so not finding it proves nothing
// (OtherAccountSpawns lists those).
func (s *Store) TerminationFailedSpawns(ctx context.Context, authID string, grace time.Duration) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT s.id::text FROM compute_spawns s JOIN cloud_auths a ON a.id = s.cloud_auth_id
		WHERE s.cloud_auth_id = $1 AND s.state = 'termination_failed' AND s.state_changed_at <= now() - make_interval(secs => $2)
			AND (s.account_id IS NULL OR a.account_id IS NULL OR s.account_id = a.account_id)`,
		authID, grace.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// OtherAccountSpawn is a spawn whose machine lives in another provider
// account than its cloud auth's keys now belong to.
type OtherAccountSpawn struct {
	ID         string `db:"id"`
	State      string `db:"state"`
	InstanceID string `db:"instance_id"`
	AccountID  string `db:"account_id"`
	SystemNote string `db:"system_note"`
}

// OtherAccountSpawns lists the cloud auth's spawns, not terminated or
// failed, whose machine was created in another account than the auth's
// keys now belong to: daestro can neither see nor delete those machines.
func (s *Store) OtherAccountSpawns(ctx context.Context, authID string) ([]OtherAccountSpawn, error) {
	rows, err := s.Pool.Query(ctx, `SELECT s.id::text AS id, s.state, s.instance_id, s.account_id, s.system_note
		FROM compute_spawns s JOIN cloud_auths a ON a.id = s.cloud_auth_id
		WHERE s.cloud_auth_id = $1 AND s.state NOT IN ('terminated', 'failed')
			AND s.account_id IS NOT NULL AND a.account_id IS NOT NULL AND s.account_id <> a.account_id
		ORDER BY s.id`, authID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[OtherAccountSpawn])
}

// SpawnAllocations counts the runs allocated to a spawn now and reads its
// queue's current max idle time.
func (s *Store) SpawnAllocations(ctx context.Context, spawnID string) (allocated, maxIdleSeconds int, err error) {
	err = s.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM allocations WHERE compute_spawn_id = s.id), q.max_idle_seconds
		FROM compute_spawns s JOIN job_queues q ON q.id = s.job_queue_id WHERE s.id = $1`, spawnID).Scan(&allocated, &maxIdleSeconds)
	return allocated, maxIdleSeconds, err
}
