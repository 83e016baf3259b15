package main

import (
	"context"
	"errors"
	"io"
)

// runAgent is the agent role. Registration, the spawn task queue and the job
// executor arrive with the agent issue; until then the command says so
// instead of pretending to run.
func runAgent(_ context.Context, _ []string, _ io.Writer) error {
	return errors.New("agent: not available in this build yet (self-hosted agents arrive with the agent issue); run `daestro dev` for a local system")
}
