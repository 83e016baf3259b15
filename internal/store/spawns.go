package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"daestro/internal/agentapi"
	"daestro/internal/domain"
)

// spawnAllocation is the capacity held by the runs placed on spawn s, as a
// LATERAL subquery yielding cpu_pct, memory_mb and the runs: every read of a
// spawn's capacity and running runs follows the allocations table.
const spawnAllocation = `(SELECT COALESCE(sum(al.cpu_pct), 0)::int AS cpu_pct, COALESCE(sum(al.memory_mb), 0)::int AS memory_mb,
		COALESCE(array_agg(al.run_id::text ORDER BY al.created_at) FILTER (WHERE al.run_id IS NOT NULL), '{}') AS runs
	FROM allocations al WHERE al.compute_spawn_id = s.id)`

// spawnSelect reads spawns with the names of their queue and environment
// (deleted ones included: a spawn outlives both) and their allocation, as the
// columns of spawnRow.
const spawnSelect = `SELECT s.id, s.kind, s.state, q.id AS queue_id, q.name AS queue_name, e.id AS compute_env_id, e.name AS compute_env_name,
		s.capacity_cpu_pct, s.capacity_memory_mb, a.cpu_pct AS allocated_cpu_pct, a.memory_mb AS allocated_memory_mb, a.runs,
		s.reported_runs, s.last_ping_at, s.agent_version, s.hostname, s.created_at, s.updated_at, s.state_changed_at,
		s.provider, s.region, s.instance_type, s.instance_id, s.public_ipv4, s.public_ipv6, s.system_note
	FROM compute_spawns s
	JOIN job_queues q ON q.id = s.job_queue_id
	JOIN compute_envs e ON e.id = s.compute_env_id
	CROSS JOIN LATERAL ` + spawnAllocation + ` a`

// spawnRow is one row of spawnSelect.
type spawnRow struct {
	ID                string     `db:"id"`
	Kind              string     `db:"kind"`
	State             string     `db:"state"`
	QueueID           string     `db:"queue_id"`
	QueueName         string     `db:"queue_name"`
	ComputeEnvID      string     `db:"compute_env_id"`
	ComputeEnvName    string     `db:"compute_env_name"`
	CapacityCPUPct    int        `db:"capacity_cpu_pct"`
	CapacityMemoryMB  int        `db:"capacity_memory_mb"`
	AllocatedCPUPct   int        `db:"allocated_cpu_pct"`
	AllocatedMemoryMB int        `db:"allocated_memory_mb"`
	Runs              []string   `db:"runs"`
	ReportedRuns      []string   `db:"reported_runs"`
	LastPingAt        *time.Time `db:"last_ping_at"`
	AgentVersion      string     `db:"agent_version"`
	Hostname          string     `db:"hostname"`
	CreatedAt         time.Time  `db:"created_at"`
	UpdatedAt         time.Time  `db:"updated_at"`
	StateChangedAt    time.Time  `db:"state_changed_at"`
	Provider          string     `db:"provider"`
	Region            string     `db:"region"`
	InstanceType      string     `db:"instance_type"`
	InstanceID        string     `db:"instance_id"`
	PublicIPv4        string     `db:"public_ipv4"`
	PublicIPv6        string     `db:"public_ipv6"`
	SystemNote        string     `db:"system_note"`
}

// computeSpawn maps the row to its spawn; only a cloud spawn has a machine.
func (r spawnRow) computeSpawn() domain.ComputeSpawn {
	sp := domain.ComputeSpawn{
		ID:         r.ID,
		Kind:       r.Kind,
		State:      r.State,
		JobQueue:   domain.JobQueueRef{ID: r.QueueID, Name: r.QueueName},
		ComputeEnv: domain.ComputeEnvRef{ID: r.ComputeEnvID, Name: r.ComputeEnvName},
		Capacity: domain.SpawnCapacity{TotalCPUPct: r.CapacityCPUPct, TotalMemoryMB: r.CapacityMemoryMB,
			AllocatedCPUPct: r.AllocatedCPUPct, AllocatedMemoryMB: r.AllocatedMemoryMB}.WithFree(),
		LastPingAt:     r.LastPingAt,
		AgentVersion:   r.AgentVersion,
		Hostname:       r.Hostname,
		RunningRuns:    r.Runs,
		AgentRuns:      nonNil(r.ReportedRuns),
		SystemNote:     r.SystemNote,
		CreatedAt:      r.CreatedAt,
		UpdatedAt:      r.UpdatedAt,
		StateChangedAt: r.StateChangedAt,
	}
	if sp.Kind == domain.SpawnKindCloud {
		sp.Machine = &domain.SpawnMachine{Provider: r.Provider, Region: r.Region, InstanceType: r.InstanceType,
			InstanceID: r.InstanceID, PublicIPv4: r.PublicIPv4, PublicIPv6: r.PublicIPv6}
	}
	return sp
}

// spawnEventRow is one row of compute_spawn_events.
type spawnEventRow struct {
	ID     string    `db:"id"`
	State  string    `db:"state"`
	Reason string    `db:"reason"`
	At     time.Time `db:"at"`
}

func (r spawnEventRow) spawnEvent() domain.SpawnEvent {
	return domain.SpawnEvent{ID: r.ID, State: r.State, Reason: r.Reason, At: r.At}
}

// pingSignalEvery bounds how often pings signal a workflow that is waiting
// for one, while it has not acted on the last.
const pingSignalEvery = time.Minute

func spawnNotFound(id string) error {
	return domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q in this project", id)
}

// CreateSelfHostedSpawn checks the rules of a self-hosted spawn, writes it
// (state initialized, its first event and its agent token) and calls start
// (which starts its workflow) before committing: when start fails nothing is
// left behind. It returns the spawn and the agent token, which exists only in
// this return value.
func (s *Store) CreateSelfHostedSpawn(ctx context.Context, projectID string, in domain.ComputeSpawnInput,
	start func(context.Context, domain.ComputeSpawn) error) (domain.ComputeSpawn, string, error) {
	if err := in.Validate(); err != nil {
		return domain.ComputeSpawn{}, "", err
	}
	var (
		sp    domain.ComputeSpawn
		token string
	)
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// FOR UPDATE on the queue serialises the max_spawns count with other
		// creates and waits out DeleteJobQueue and RemoveQueueComputeEnv;
		// FOR SHARE on the environment waits out DeleteComputeEnv, whose
		// "no active spawn" check cannot see the row inserted here.
		q, err := s.jobQueue(ctx, tx, projectID, in.JobQueueID, "FOR UPDATE")
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return domain.Errorf(domain.EINVALID, "job_queue_id: no job queue with id %q in this project", in.JobQueueID)
		}
		if err != nil {
			return err
		}
		env, err := s.computeEnv(ctx, tx, projectID, in.ComputeEnvID, "FOR SHARE")
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return domain.Errorf(domain.EINVALID, "compute_env_id: no compute environment with id %q in this project", in.ComputeEnvID)
		}
		if err != nil {
			return err
		}
		if err := checkSpawnRules(ctx, tx, q, env); err != nil {
			return err
		}
		id := NewID()
		if _, err := tx.Exec(ctx, `INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, projectID, q.ID, env.ID, domain.SpawnKindSelfHosted, domain.SpawnInitialized); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO compute_spawn_events (id, compute_spawn_id, state, reason, at, transition_key)
			VALUES ($1, $2, $3, $4, now(), $5)`, NewID(), id, domain.SpawnInitialized,
			"created via API: waiting for the agent's first ping", "create/"+id); err != nil {
			return err
		}
		if token, err = createAgentToken(ctx, tx, projectID, id, tokenBootstrap); err != nil {
			return err
		}
		if sp, err = spawnByID(ctx, tx, projectID, id); err != nil {
			return err
		}
		return start(ctx, sp)
	})
	if err != nil {
		return domain.ComputeSpawn{}, "", err
	}
	return sp, token, nil
}

// checkSpawnRules holds the rules of a new self-hosted spawn: a selfhosted,
// enabled environment of the queue, and room under the queue's max_spawns.
func checkSpawnRules(ctx context.Context, tx pgx.Tx, q domain.JobQueue, env domain.ComputeEnv) error {
	if env.Kind != domain.ComputeEnvSelfHosted {
		return domain.Errorf(domain.EINVALID, "compute_env_id: compute environment '%s' is a %s environment: only a %s environment takes a spawn created by hand (cloud machines are spawned when jobs need them)",
			env.Name, env.Kind, domain.ComputeEnvSelfHosted)
	}
	if !env.Enabled {
		return domain.Errorf(domain.EINVALID, "compute_env_id: compute environment '%s' is disabled: enable it (PATCH /v1/compute-envs/%s enabled=true) first", env.Name, env.ID)
	}
	var inQueue bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM job_queue_compute_envs WHERE job_queue_id = $1 AND compute_env_id = $2)`,
		q.ID, env.ID).Scan(&inQueue); err != nil {
		return err
	}
	if !inQueue {
		return domain.Errorf(domain.EINVALID, "compute_env_id: compute environment '%s' is not one of job queue '%s''s compute environments: add it (POST /v1/job-queues/%s/compute-envs) first",
			env.Name, q.Name, q.ID)
	}
	if q.MaxSpawns > 0 {
		var active int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM compute_spawns WHERE job_queue_id = $1 AND `+activeSpawnStates, q.ID).Scan(&active); err != nil {
			return err
		}
		if active >= q.MaxSpawns {
			return domain.Errorf(domain.ECONFLICT, "job queue '%s' already has %s, its max_spawns: terminate one first", q.Name, countNoun(active, "active compute spawn"))
		}
	}
	return nil
}

// ComputeSpawn returns one compute spawn of the project.
func (s *Store) ComputeSpawn(ctx context.Context, projectID, id string) (domain.ComputeSpawn, error) {
	return spawnByID(ctx, s.Pool, projectID, id)
}

func spawnByID(ctx context.Context, q querier, projectID, id string) (domain.ComputeSpawn, error) {
	if !validUUID(id) {
		return domain.ComputeSpawn{}, spawnNotFound(id)
	}
	rows, err := q.Query(ctx, spawnSelect+` WHERE s.project_id = $1 AND s.id = $2`, projectID, id)
	if err != nil {
		return domain.ComputeSpawn{}, err
	}
	sp, err := pgx.CollectExactlyOneRow(rows, byName(spawnRow.computeSpawn))
	if isNoRows(err) {
		return domain.ComputeSpawn{}, spawnNotFound(id)
	}
	return sp, err
}

// ListComputeSpawns returns one page of the project's spawns, in creation
// order, narrowed by f.
func (s *Store) ListComputeSpawns(ctx context.Context, projectID string, f domain.SpawnFilter, page domain.PageRequest) (domain.Page[domain.ComputeSpawn], error) {
	if f.JobQueueID != "" && !validUUID(f.JobQueueID) {
		return domain.Page[domain.ComputeSpawn]{}, domain.Errorf(domain.EINVALID, "job_queue_id: %q is not a job queue id", f.JobQueueID)
	}
	if f.State != "" {
		if err := domain.ValidateSpawnState("state", f.State); err != nil {
			return domain.Page[domain.ComputeSpawn]{}, err
		}
	}
	rows, err := s.Pool.Query(ctx, spawnSelect+` WHERE s.project_id = $1
			AND ($2::text = '' OR s.id > $2::uuid)
			AND ($3::text = '' OR s.job_queue_id = $3::uuid)
			AND ($4::text = '' OR s.state = $4)
		ORDER BY s.id LIMIT $5`, projectID, page.After, f.JobQueueID, f.State, page.Limit+1)
	if err != nil {
		return domain.Page[domain.ComputeSpawn]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(spawnRow.computeSpawn))
	if err != nil {
		return domain.Page[domain.ComputeSpawn]{}, err
	}
	return domain.NewPage(items, page, func(sp domain.ComputeSpawn) string { return sp.ID }), nil
}

// SpawnEvents returns one page of a spawn's state transitions, oldest first.
func (s *Store) SpawnEvents(ctx context.Context, projectID, id string, page domain.PageRequest) (domain.Page[domain.SpawnEvent], error) {
	if _, err := spawnByID(ctx, s.Pool, projectID, id); err != nil {
		return domain.Page[domain.SpawnEvent]{}, err
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, state, reason, at FROM compute_spawn_events
		WHERE compute_spawn_id = $1
			AND ($2::text = '' OR (at, id) > (SELECT at, id FROM compute_spawn_events WHERE id = $2::uuid))
		ORDER BY at, id LIMIT $3`, id, page.After, page.Limit+1)
	if err != nil {
		return domain.Page[domain.SpawnEvent]{}, err
	}
	items, err := pgx.CollectRows(rows, byName(spawnEventRow.spawnEvent))
	if err != nil {
		return domain.Page[domain.SpawnEvent]{}, err
	}
	return domain.NewPage(items, page, func(e domain.SpawnEvent) string { return e.ID }), nil
}

// SpawnTransition is one state change of a spawn, decided by its workflow.
type SpawnTransition struct {
	// SpawnID is the spawn.
	SpawnID string
	// State is the state entered.
	State string
	// Reason is recorded with the event.
	Reason string
	// Key identifies the decision; a second write with the same key changes
	// nothing, so a retried activity is harmless.
	Key string
	// RequireSilence, when > 0, applies the change only if the agent has
	// not pinged for that long, checked under the spawn's row lock so that
	// a ping racing the change wins.
	RequireSilence time.Duration
	// RequireNoAllocations applies the change only if no run is allocated
	// to the spawn, checked under the project's dispatch lock so that a
	// placement round racing the change (the idle timeout) wins.
	RequireNoAllocations bool
	// Note, when set, becomes the spawn's system note (why it failed).
	Note string
}

// RecordSpawnTransition writes a state change and its event in one
// transaction. It reports false when RequireSilence did not hold; a
// transition already recorded under its key reports true.
func (s *Store) RecordSpawnTransition(ctx context.Context, t SpawnTransition) (bool, error) {
	if !validUUID(t.SpawnID) {
		return false, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", t.SpawnID)
	}
	applied := false
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if t.RequireNoAllocations {
			// The dispatch lock first, as PlanRound takes it: taken after the
			// row lock below it could deadlock with a round's allocation
			// insert (which needs a key-share lock on the spawn row).
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(project_id::text)) FROM compute_spawns WHERE id = $2`,
				dispatchLockKey, t.SpawnID); err != nil {
				return err
			}
		}
		// Insert first: the unique key both detects a repeat and makes a
		// concurrent repeat wait for this transaction.
		tag, err := tx.Exec(ctx, `INSERT INTO compute_spawn_events (id, compute_spawn_id, state, reason, at, transition_key)
			VALUES ($1, $2, $3, $4, now(), $5) ON CONFLICT (transition_key) DO NOTHING`,
			NewID(), t.SpawnID, t.State, t.Reason, t.Key)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", t.SpawnID)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			applied = true
			return nil
		}
		var silent bool
		err = tx.QueryRow(ctx, `SELECT last_ping_at IS NULL OR last_ping_at <= now() - make_interval(secs => $2)
			FROM compute_spawns WHERE id = $1 FOR UPDATE`, t.SpawnID, t.RequireSilence.Seconds()).Scan(&silent)
		if err != nil {
			return err
		}
		if t.RequireSilence > 0 && !silent {
			return errPreconditionFailed
		}
		if t.RequireNoAllocations {
			var busy bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM allocations WHERE compute_spawn_id = $1)`, t.SpawnID).Scan(&busy); err != nil {
				return err
			}
			if busy {
				return errPreconditionFailed
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE compute_spawns SET state = $2, state_changed_at = now(), updated_at = now(),
				system_note = CASE WHEN $3 = '' THEN system_note ELSE $3 END WHERE id = $1`,
			t.SpawnID, t.State, t.Note); err != nil {
			return err
		}
		applied = true
		return nil
	})
	if errors.Is(err, errPreconditionFailed) {
		return false, nil
	}
	return applied, err
}

// errPreconditionFailed rolls back a transition whose precondition did not hold.
var errPreconditionFailed = errors.New("precondition failed")

// SpawnLiveness returns when the spawn's agent last pinged (nil if never)
// and how long ago by the database's clock, the same clock the ping wrote
// with, so worker clock skew cannot make a spawn unreachable early.
func (s *Store) SpawnLiveness(ctx context.Context, spawnID string) (*time.Time, time.Duration, error) {
	if !validUUID(spawnID) {
		return nil, 0, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
	var (
		last *time.Time
		ms   *int64
	)
	err := s.Pool.QueryRow(ctx, `SELECT last_ping_at, (extract(epoch FROM now() - last_ping_at) * 1000)::bigint
		FROM compute_spawns WHERE id = $1`, spawnID).Scan(&last, &ms)
	if isNoRows(err) {
		return nil, 0, domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
	}
	if err != nil || ms == nil {
		return last, 0, err
	}
	return last, time.Duration(*ms) * time.Millisecond, nil
}

// RecordAgentRegistration stores what a starting agent says about itself.
func (s *Store) RecordAgentRegistration(ctx context.Context, spawnID string, r agentapi.RegisterRequest) error {
	_, err := s.Pool.Exec(ctx, `UPDATE compute_spawns SET registered_at = now(), agent_version = $2, hostname = $3,
			host_cpu_pct = $4, host_memory_mb = $5, updated_at = now()
		WHERE id = $1`, spawnID, r.AgentVersion, r.Hostname, r.HostCPUPct, r.HostMemoryMB)
	return err
}

// PingResult is what recording a ping found.
type PingResult struct {
	// State is the spawn's state.
	State string
	// Signal says the spawn's workflow waits for a ping (initialized,
	// requested or unreachable) and has not been signalled in this state lately: the
	// caller signals it.
	Signal bool
}

// RecordAgentPing writes a ping: last_ping_at, the offered capacity (capped
// by the compute environment's usable CPU, percent of one core, and memory)
// and the runs the agent follows.
func (s *Store) RecordAgentPing(ctx context.Context, spawnID string, p agentapi.PingRequest) (PingResult, error) {
	var res PingResult
	runs := p.RunningRuns
	if runs == nil {
		runs = []string{}
	}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// The row lock orders the ping against RecordSpawnTransition: either
		// the unreachable check sees this ping, or this ping sees unreachable.
		err := tx.QueryRow(ctx, `SELECT state,
				state IN ('initialized', 'requested', 'unreachable') AND (ping_signalled_at IS NULL
					OR ping_signalled_at < state_changed_at
					OR ping_signalled_at < now() - make_interval(secs => $2))
			FROM compute_spawns WHERE id = $1 FOR UPDATE`, spawnID, pingSignalEvery.Seconds()).Scan(&res.State, &res.Signal)
		if isNoRows(err) {
			return domain.Errorf(domain.ENOTFOUND, "no compute spawn with id %q", spawnID)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE compute_spawns s SET last_ping_at = now(), agent_version = $2,
				capacity_cpu_pct = LEAST($3, COALESCE(e.usable_cpu_pct, $3)),
				capacity_memory_mb = LEAST($4, COALESCE(e.usable_memory_mb, $4)),
				-- Only runs placed on this spawn: an agent's word names no other
				-- spawn's or project's run (DESIGN.md §9).
				reported_runs = ARRAY(SELECT r.id::text FROM job_runs r WHERE r.compute_spawn_id = s.id AND r.id::text = ANY($5::text[]) ORDER BY r.id),
				ping_signalled_at = CASE WHEN $6 THEN now() ELSE s.ping_signalled_at END
			FROM compute_envs e WHERE s.id = $1 AND e.id = s.compute_env_id`,
			spawnID, p.AgentVersion, p.CapacityCPUPct, p.CapacityMemoryMB, runs, res.Signal)
		return err
	})
	return res, err
}

// ForgetPingSignal clears the record of the last ping signal after the
// signal could not be sent, so the next ping tries again at once.
func (s *Store) ForgetPingSignal(ctx context.Context, spawnID string) error {
	_, err := s.Pool.Exec(ctx, `UPDATE compute_spawns SET ping_signalled_at = NULL WHERE id = $1`, spawnID)
	return err
}

// nonNil is runs, or an empty list for none (the API answers [] not null).
func nonNil(runs []string) []string {
	if runs == nil {
		return []string{}
	}
	return runs
}
