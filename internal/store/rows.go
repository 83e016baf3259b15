package store

import "github.com/jackc/pgx/v5"

// Row mapping, one style for the whole store: a query that reads a row of a
// table or of a read model scans it by column name into a store-local row
// struct whose db tags name the columns, and one method per row struct turns
// it into the domain type. pgx.RowToStructByName refuses a column without a
// field and a field without a column, so a query and its struct that drift
// apart fail loudly instead of filling the wrong field (a positional scan of
// two swapped time columns would not). Scans of one or two loose values (a
// count, a RETURNING id, a state to check) stay plain Scan calls.

// byName returns a pgx.RowToFunc that scans a row by name into the row
// struct R and maps it to T with to; use it with pgx.CollectRows and friends.
func byName[R, T any](to func(R) T) pgx.RowToFunc[T] {
	return func(row pgx.CollectableRow) (T, error) {
		r, err := pgx.RowToStructByName[R](row)
		if err != nil {
			var zero T
			return zero, err
		}
		return to(r), nil
	}
}

// byNameErr is byName for a mapping that may fail (it opens a sealed column).
func byNameErr[R, T any](to func(R) (T, error)) pgx.RowToFunc[T] {
	return func(row pgx.CollectableRow) (T, error) {
		r, err := pgx.RowToStructByName[R](row)
		if err != nil {
			var zero T
			return zero, err
		}
		return to(r)
	}
}
