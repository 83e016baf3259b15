package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"daestro/agent"
	"daestro/internal/config"
	"daestro/internal/logging"
)

// runAgent runs the agent of one compute spawn: `docker run … <agent image>`
// starts it with DAESTRO_AUTH_TOKEN and DAESTRO_SERVER_URL.
func runAgent(ctx context.Context, stderr io.Writer) error {
	cfg, err := agent.ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("invalid agent configuration:\n%w", err)
	}
	// The agent shares the server's logging variables, not its other config.
	format := os.Getenv(config.EnvLogFormat)
	if format != "text" {
		format = "json"
	}
	log := logging.New(stderr, format, 0)
	docker, err := agent.NewDocker()
	if err != nil {
		return err
	}
	defer docker.Close()
	if err := docker.Ping(ctx); err != nil {
		return err
	}
	tel, err := newTelemetry(ctx, "agent")
	if err != nil {
		return err
	}
	defer tel.close()
	if err := tel.metrics.Serve(ctx, cfg.MetricsAddr, log); err != nil {
		return err
	}
	return agent.New(cfg, log, docker).WithTelemetry(tel.metrics, tel.tracing).Run(ctx)
}
