package store

import (
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"daestro/internal/domain"
)

// UserError turns a database error that slipped past a query's own checks
// into a domain error a user can act on: a constraint violation is a
// conflict (409), a database that cannot be reached is unavailable (503,
// clients retry). Anything else, a domain error included, is returned as is.
func UserError(err error) error {
	if err == nil || domain.ErrorCode(err) != domain.EINTERNAL {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "23") { // class 23: integrity constraint violation
		return domain.Errorf(domain.ECONFLICT, "the change conflicts with data that depends on it (%s): nothing was changed", pgErr.ConstraintName)
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		(errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P03")) {
		return domain.Errorf(domain.EUNAVAILABLE, "the database is not reachable right now: nothing was changed; try again (GET /readyz shows what is down)")
	}
	return err
}
