package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"daestro/apiserver"
	"daestro/internal/config"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/worker"

	"github.com/spf13/cobra"
)

// devOptions are `daestro dev`'s flags.
type devOptions struct {
	dir, project string
	noAgent      bool
}

func newDevCmd(stdout, stderr io.Writer) *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "run API + worker in one process against local services, for a laptop",
		Long: envHelp(`Runs the API and the control worker in one process against a local Postgres and
Temporal (make dev starts them), bootstraps a project and its API key, and runs a
local self-hosted agent. Every server and worker variable applies; dev fills in
DAESTRO_MASTER_KEY (kept in --dir) and DAESTRO_LOG_FORMAT=text when unset.`, envServer, envDatabase, envTemporal, envLogging),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDev(cmd.Context(), o, stdout, stderr) },
	}
	cmd.Flags().StringVar(&o.dir, "dir", ".data", "directory for the dev master key and bootstrap API key")
	cmd.Flags().StringVar(&o.project, "project", "default", "code of the project to bootstrap")
	cmd.Flags().BoolVar(&o.noAgent, "no-agent", false, "do not run a local self-hosted agent")
	return cmd
}

// runDev runs API and control worker in one process for a laptop, bootstraps
// a default project and prints how to reach everything. `make dev` starts the
// Postgres and Temporal it points at.
func runDev(ctx context.Context, o devOptions, stdout, stderr io.Writer) error {
	dir, project, noAgent := &o.dir, &o.project, &o.noAgent
	if os.Getenv(config.EnvLogFormat) == "" {
		_ = os.Setenv(config.EnvLogFormat, "text")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("dev state dir %s: %w", *dir, err)
	}
	if os.Getenv(config.EnvMasterKey) == "" {
		key, err := devMasterKey(filepath.Join(*dir, "master.key"))
		if err != nil {
			return err
		}
		_ = os.Setenv(config.EnvMasterKey, key)
	}
	cfg, log, err := loadConfig(stderr)
	if err != nil {
		return err
	}
	// A laptop's conveniences: localdocker machines, privileged jobs on them.
	cfg.Dev, cfg.EnableLocalDocker = true, true
	// Not plain HTTP beyond loopback, though: dev serves no TLS.
	if err := cfg.CheckTransport(); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer st.Close()
	// One registry for the API and the control worker, served on the API's listener.
	tel, err := newTelemetry(ctx, "dev")
	if err != nil {
		return err
	}
	defer tel.close()
	tel.metrics.ReadAtScrape(databaseGauges(st))
	tc, err := dialTemporal(ctx, cfg, log, tel)
	if err != nil {
		return err
	}
	defer tc.Close()

	apiKey, err := devBootstrapKey(ctx, st, *project, filepath.Join(*dir, "dev-api-key"))
	if err != nil {
		return err
	}

	w := worker.New(tc, cfg.ControlTaskQueue, controlActivities(cfg, st, tel.metrics))
	if err := w.Start(); err != nil {
		return fmt.Errorf("start control worker: %w", err)
	}
	if err := worker.EnsureSystemSchedules(ctx, tc, cfg.ControlTaskQueue); err != nil {
		return err
	}
	defer w.Stop()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (DAESTRO_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	srv := apiserver.New(serverOptions(cfg, st, tc, log, tel))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, cfg.ShutdownTimeout) }()

	agentLine := "off (--no-agent)"
	agentDone := make(chan struct{})
	if *noAgent {
		close(agentDone)
	} else {
		sp, err := setUpLocalAgent(ctx, devAPI{baseURL: cfg.PublicURL, key: apiKey}, *dir)
		if err != nil {
			return fmt.Errorf("set up the local agent: %w", err)
		}
		agentLine = fmt.Sprintf("compute spawn %s in queue %q (compute env %q)", sp.SpawnID, devJobQueue, devComputeEnv)
		go func() {
			defer close(agentDone)
			_ = runLocalAgent(ctx, log, cfg.PublicURL, *dir, sp)
		}()
	}
	ui := cfg.TemporalUIURL
	if ui == "" {
		ui = "(not set: DAESTRO_TEMPORAL_UI_URL)"
	}
	fmt.Fprintf(stdout, `
daestro dev is up.
  Console:          %s/   (sign in with the API key below)
  API:              %s   (readiness: %s%s)
  Temporal Web UI:  %s
  Temporal:         %s namespace %s
  Project:          %s
  API key:          %s
  Local agent:      %s
Try: curl -H "Authorization: Bearer %s" %s/v1/project
Ctrl-C stops.
`, cfg.PublicURL, cfg.PublicURL, cfg.PublicURL, apiserver.PathReadyz, ui, cfg.TemporalAddress, cfg.TemporalNamespace,
		*project, apiKey, agentLine, apiKey, cfg.PublicURL)
	err = <-served
	<-agentDone
	log.Info("daestro dev stopped")
	return err
}

// devMasterKey reads the dev master key from path, creating it on first use.
func devMasterKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read dev master key: %w", err)
	}
	var k [config.MasterKeySize]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev master key: %w", err)
	}
	return key, nil
}

// devBootstrapKey makes sure the dev project exists and returns a working API
// key for it, kept in path so every `daestro dev` start prints the same key.
func devBootstrapKey(ctx context.Context, st *store.Store, code, path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if p, _, err := st.AuthenticateAPIKey(ctx, key); err == nil && p.Code == code {
			return key, nil
		}
	}
	p, err := st.ProjectByCode(ctx, code)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		p, err = st.CreateProject(ctx, code, "Default project")
	}
	if err != nil {
		return "", err
	}
	_, secret, err := st.CreateAPIKey(ctx, p.ID, "dev bootstrap")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev API key: %w", err)
	}
	return secret, nil
}
