package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// NewID returns a new UUID v7: time-ordered, so primary-key indexes stay compact.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// validUUID reports whether s parses as a UUID; a malformed ID is "not found",
// never a database error.
func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// isNoRows reports whether err means the query matched nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// querier is what both the pool and a transaction offer, so a read can run
// inside or outside a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// beginner is what both the pool and a transaction offer to start a
// transaction: on a transaction, pgx.BeginFunc makes a savepoint, so a write
// can run alone or join a larger one.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}
