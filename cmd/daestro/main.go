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
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"daestro/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		os.Exit(cli.Exit(os.Stderr, err)) // a job's exit code when a command carries one
	}
}

// errUsage marks a mistake in the command line itself.
var errUsage = errors.New("see `daestro --help`")

// Environment variables each command reads, for its --help. README.md has
// the full table with defaults.
const (
	envLogging = `  DAESTRO_LOG_FORMAT        json (default) or text
  DAESTRO_LOG_LEVEL         debug, info (default), warn or error`
	envDatabase = `  DAESTRO_DATABASE_URL      Postgres URL (required)
  DAESTRO_MASTER_KEY        base64 of 32 bytes that seal every secret (required; daestro admin gen-key)
  DAESTRO_OLD_MASTER_KEYS   earlier master keys, comma-separated, while rotating
  DAESTRO_MIGRATE_ON_START  false to leave migrations to daestro migrate`
	envTemporal = `  TEMPORAL_ADDRESS          host:port of Temporal's frontend (required)
  TEMPORAL_NAMESPACE        namespace (default "default")
  DAESTRO_CONTROL_TASK_QUEUE  the control plane's task queue (default daestro-control)
  TEMPORAL_TLS_*, TEMPORAL_API_KEY, TEMPORAL_PROFILE …  Temporal's own client variables (envconfig)`
	envServer = `  DAESTRO_HTTP_ADDR         address the API listens on (default 127.0.0.1:8080)
  DAESTRO_PUBLIC_URL        the URL agents and users reach the API at
  DAESTRO_TLS_CERT_FILE, DAESTRO_TLS_KEY_FILE  serve HTTPS (and the agents' gateway over TLS)
  DAESTRO_ALLOW_INSECURE    true to serve plain HTTP off loopback (behind a TLS proxy)
  DAESTRO_SHUTDOWN_TIMEOUT  how long a stop waits for requests in flight
  DAESTRO_AGENT_IMAGE       the agent image in docker run lines and cloud machines
  DAESTRO_BASH_IMAGE        the image bash job definitions run in
  DAESTRO_RUN_LOG_CAP_MB    the most log a run keeps
  DAESTRO_SPAWN_UNREACHABLE_AFTER  a spawn silent this long is unreachable; its runs are interrupted (default 5m)
  DAESTRO_ENABLE_LOCALDOCKER  true to allow localdocker compute environments (the server's own engine)
  DAESTRO_TEMPORAL_UI_URL   shown in links to a job's workflow`
	envWorker = `  DAESTRO_ENABLE_LOCALDOCKER  true to let localdocker compute environments create machines on this engine
  DAESTRO_AGENT_IMAGE       the agent image cloud machines start`
	envAgent = `  DAESTRO_AUTH_TOKEN        the spawn's one-time bootstrap token (required on first start)
  DAESTRO_SERVER_URL        the daestro server's URL (required)
  DAESTRO_SERVER_CA_FILE    PEM of a private CA the server's certificate is signed by
  DAESTRO_ALLOW_INSECURE    true to talk plain HTTP to a server off loopback
  DAESTRO_AGENT_STATE_DIR   where the agent keeps its identity (default /var/lib/daestro-agent)
  DAESTRO_AGENT_CPU_PCT, DAESTRO_AGENT_MEMORY_MB  offer less than the host has
  DAESTRO_AGENT_REAP_AFTER  age of a dangling run container of this spawn before it is removed (default 15m)`
)

// envHelp is a command's long help: what it does and what it reads.
func envHelp(what string, envs ...string) string {
	return what + "\n\nEnvironment:\n" + strings.Join(envs, "\n")
}

// newRootCmd builds the command tree; run executes it.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "daestro",
		Short: "a self-hostable, cloud-agnostic batch job orchestrator",
		Long: `daestro — a self-hostable, cloud-agnostic batch job orchestrator

Configuration comes from environment variables; each command's --help lists
those it reads, and README.md has the table with defaults.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(stderr, cmd.UsageString())
			return fmt.Errorf("no command given: %w", errUsage)
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	noArgs := func(f func(ctx context.Context) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error { return f(cmd.Context()) }
	}
	root.AddCommand(
		&cobra.Command{
			Use: "server", Short: "run the REST API (applies migrations first unless DAESTRO_MIGRATE_ON_START=false)",
			Long: envHelp("Runs the REST API, the agents' Temporal gateway and the agent endpoints on one port.",
				envServer, envDatabase, envTemporal, envLogging),
			Args: cobra.NoArgs,
			RunE: noArgs(func(ctx context.Context) error { return runServer(ctx, stderr) }),
		},
		&cobra.Command{
			Use: "worker", Short: "run the control-plane Temporal worker",
			Long: envHelp("Runs the workflows and activities of the control plane: jobs, dispatch, spawns, cron and reconciliation.",
				envWorker, envDatabase, envTemporal, envLogging),
			Args: cobra.NoArgs,
			RunE: noArgs(func(ctx context.Context) error { return runWorker(ctx, stderr) }),
		},
		&cobra.Command{
			Use: "agent", Short: "run the agent on a compute spawn",
			Long: envHelp("Runs the agent of one compute spawn: `docker run … <agent image>` starts it (the spawn's docker run line sets the two required variables).",
				envAgent, envLogging),
			Args: cobra.NoArgs,
			RunE: noArgs(func(ctx context.Context) error { return runAgent(ctx, stderr) }),
		},
		newDevCmd(stdout, stderr),
		&cobra.Command{
			Use: "migrate", Short: "apply pending database migrations and exit",
			Long: envHelp("Applies the pending database migrations and exits.", envDatabase, envLogging),
			Args: cobra.NoArgs,
			RunE: noArgs(func(ctx context.Context) error { return runMigrate(ctx, stdout, stderr) }),
		},
		newAdminCmd(stdout, stderr),
	)
	root.AddCommand(cli.Commands()...)
	return root
}

// run executes one command line; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && (strings.HasPrefix(err.Error(), "unknown command") || strings.Contains(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "accepts") || strings.Contains(err.Error(), "flag needs")) {
		fmt.Fprint(stderr, cmd.UsageString())
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	return err
}
