package store

import "context"

// CloudComputeEnvCount is how many cloud compute environments exist, in
// every project: the worker warns when they would run an unpinned agent image.
func (s *Store) CloudComputeEnvCount(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM compute_envs WHERE kind = 'cloud' AND deleted_at IS NULL`).Scan(&n)
	return n, err
}
