package store

import (
	"context"
	"daestro/internal/domain"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// errNoKeyring means the process was started without a master key.
var errNoKeyring = errors.New("no master key configured (DAESTRO_MASTER_KEY)")

// secretAAD binds a ciphertext to its table, column and row.
func secretAAD(table, column, id string) string { return table + "." + column + ":" + id }

// seal encrypts plain for table.column of row id.
func (s *Store) seal(plain []byte, table, column, id string) ([]byte, error) {
	if s.Secrets == nil {
		return nil, errNoKeyring
	}
	return s.Secrets.Seal(plain, secretAAD(table, column, id)), nil
}

// open decrypts a value sealed by seal for the same row.
func (s *Store) open(sealed []byte, table, column, id string) ([]byte, error) {
	if s.Secrets == nil {
		return nil, errNoKeyring
	}
	plain, err := s.Secrets.Open(sealed, secretAAD(table, column, id))
	if err != nil {
		return nil, fmt.Errorf("%s.%s of %s: %w", table, column, id, err)
	}
	return plain, nil
}

// secretColumns lists every encrypted column; RotateSecrets walks them all.
var secretColumns = []struct{ table, column string }{
	{"cloud_auths", "credentials"},
	{"registry_auths", "password"},
	{"job_definitions", "env"},
	{"jobs", "env"},
	{"cron_jobs", "env"},
}

// sealedRow is one secret column's value with its row's ID.
type sealedRow struct {
	ID     string `db:"id"`
	Sealed []byte `db:"sealed"`
}

// RotateSecrets re-encrypts every secret not sealed under the current master
// key, one transaction per column. It returns how many values it re-sealed.
func (s *Store) RotateSecrets(ctx context.Context) (int, error) {
	if s.Secrets == nil {
		return 0, errNoKeyring
	}
	total := 0
	for _, sc := range secretColumns {
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT id::text AS id, %s AS sealed FROM %s WHERE %s IS NOT NULL FOR UPDATE`,
				sc.column, sc.table, sc.column))
			if err != nil {
				return err
			}
			sealed, err := pgx.CollectRows(rows, pgx.RowToStructByName[sealedRow])
			if err != nil {
				return err
			}
			stale := 0
			for _, r := range sealed {
				if s.Secrets.IsCurrent(r.Sealed) {
					continue
				}
				plain, err := s.open(r.Sealed, sc.table, sc.column, r.ID)
				if err != nil {
					return err
				}
				resealed, err := s.seal(plain, sc.table, sc.column, r.ID)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE id = $2`, sc.table, sc.column), resealed, r.ID); err != nil {
					return err
				}
				stale++
			}
			total += stale
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("rotate %s.%s: %w", sc.table, sc.column, err)
		}
	}
	return total, nil
}

// quoteNames renders names for a message: 'a', 'b' and 'c'.
func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// namesOf runs a query returning one text column and collects it.
func namesOf(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// An environment is sealed as one value: which variables a definition, a
// job or a cron job sets, not only their values, is the user's business.
// The row's table names it in the sealed value's binding (and in errors).
const (
	envOfDefinition = "job_definitions"
	envOfJob        = "jobs"
	envOfCronJob    = "cron_jobs"
)

// sealEnv encrypts env for the env column of table's row id; empty is NULL.
func (s *Store) sealEnv(table string, env domain.Env, id string) ([]byte, error) {
	if len(env) == 0 {
		return nil, nil
	}
	// The plain map type, because domain.Env's own JSON hides sensitive values.
	plain, err := json.Marshal(map[string]domain.EnvVar(env))
	if err != nil {
		return nil, err
	}
	return s.seal(plain, table, "env", id)
}

// openEnv decrypts what sealEnv sealed; NULL is an empty environment.
func (s *Store) openEnv(table string, sealed []byte, id string) (domain.Env, error) {
	env := domain.Env{}
	if sealed == nil {
		return env, nil
	}
	plain, err := s.open(sealed, table, "env", id)
	if err != nil {
		return nil, err
	}
	var m map[string]domain.EnvVar
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("%s %s env: %w", table, id, err)
	}
	for k, v := range m {
		env[k] = v
	}
	return env, nil
}
