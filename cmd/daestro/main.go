// Command daestro is the one binary of daestro: server, worker, agent, dev,
// migrate and admin are its subcommands. It only wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `daestro — a self-hostable, cloud-agnostic batch job orchestrator

Usage: daestro <command> [flags]

Commands:
  server    run the REST API (applies migrations first unless DAESTRO_MIGRATE_ON_START=false)
  worker    run the control-plane Temporal worker
  agent     run the agent on a compute spawn
  dev       run API + worker in one process against local services, for a laptop
  migrate   apply pending database migrations and exit
  admin     operator tasks: create-project, gen-key, check

Configuration comes from environment variables; README.md has the table.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "daestro:", err)
		os.Exit(1)
	}
}

// errUsage marks a mistake in the command line itself.
var errUsage = errors.New("see `daestro help`")

// run executes one subcommand; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given: %w", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "server":
		return runServer(ctx, rest, stderr)
	case "worker":
		return runWorker(ctx, rest, stderr)
	case "agent":
		return runAgent(ctx, rest, stderr)
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "admin":
		return runAdmin(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
	}
}
