// Package store speaks SQL: it owns the Postgres pool, the migrations and
// every query. Other packages see domain types and errors, never pgx.
package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"daestro/internal/secrets"
)

// Store is the handle every other package uses to reach Postgres.
type Store struct {
	// Pool is the shared connection pool.
	Pool *pgxpool.Pool
	// Secrets seals and opens secret columns; nil in roles that never touch secrets.
	Secrets *secrets.Keyring
	// RunLogCapBytes bounds one run's stored log (DefaultRunLogCapBytes when 0).
	RunLogCapBytes int64
	// RoundJobsFloor is the least number of each queue's runnable jobs a
	// dispatcher round reads (placement.DefaultJobsFloor when 0); see
	// placement.Bounds.
	RoundJobsFloor int

	// feedMu guards feed and the subscriptions of every feed of the Store.
	feedMu sync.Mutex
	// feed is the Store's one listening connection for log followers
	// (SubscribeRunLogs); nil while no one follows.
	feed *logFeed
}

// Open connects to Postgres at url and checks that it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s := &Store{Pool: pool}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database at %s does not answer: %w (is Postgres running? `scripts/postgres.sh start` starts a local one)", cfg.ConnConfig.Host, err)
	}
	return s, nil
}

// Ping checks that Postgres answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.Pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Close releases every connection.
func (s *Store) Close() { s.Pool.Close() }
