package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"time"

	"go.temporal.io/sdk/client"

	"daestro/internal/config"
	"daestro/internal/contract"
	"daestro/internal/store"
	"daestro/internal/temporalx"
	"daestro/workflows"
)

const adminUsage = `Usage: daestro admin <task> [flags]

Tasks:
  create-project --code CODE [--name NAME]   create a project and print its first API key (shown once)
  gen-key                                    print a new random master key for DAESTRO_MASTER_KEY
  check                                      run a health-check workflow through the control worker
  rotate-key                                 re-encrypt every secret under DAESTRO_MASTER_KEY; the previous
                                             key(s) go in DAESTRO_OLD_MASTER_KEYS (comma-separated)
`

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("admin needs a task: %w", errUsage)
	}
	switch args[0] {
	case "create-project":
		return adminCreateProject(ctx, args[1:], stdout, stderr)
	case "gen-key":
		var k [config.MasterKeySize]byte
		_, _ = rand.Read(k[:])
		fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(k[:]))
		return nil
	case "check":
		return adminCheck(ctx, stdout, stderr)
	case "rotate-key":
		return adminRotateKey(ctx, stdout, stderr)
	default:
		fmt.Fprint(stderr, adminUsage)
		return fmt.Errorf("unknown admin task %q: %w", args[0], errUsage)
	}
}

func adminCreateProject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create-project", flag.ContinueOnError)
	fs.SetOutput(stderr)
	code := fs.String("code", "", "project code: lowercase letters, digits, dashes (required)")
	name := fs.String("name", "", "display name (default: the code)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *code == "" {
		return fmt.Errorf("create-project needs --code: %w", errUsage)
	}
	cfg, log, err := loadConfig(stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, log, cfg.MigrateOnStart)
	if err != nil {
		return err
	}
	defer st.Close()
	return createProjectWithKey(ctx, st, *code, *name, stdout)
}

// createProjectWithKey creates the project and its first key in one go.
func createProjectWithKey(ctx context.Context, st *store.Store, code, name string, stdout io.Writer) error {
	p, err := st.CreateProject(ctx, code, name)
	if err != nil {
		return err
	}
	_, secret, err := st.CreateAPIKey(ctx, p.ID, "initial")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "project %s created (id %s)\nAPI key (shown once, store it now): %s\n", p.Code, p.ID, secret)
	return nil
}

func adminCheck(ctx context.Context, stdout, stderr io.Writer) error {
	cfg, log, err := loadConfig(stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tc, err := temporalx.Dial(ctx, temporalOptions(cfg, log))
	if err != nil {
		return err
	}
	defer tc.Close()
	note := time.Now().UTC().Format(time.RFC3339Nano)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.HealthCheckWorkflowID(note),
		TaskQueue: contract.ControlTaskQueue,
	}, workflows.HealthCheckWorkflow, workflows.HealthCheckWorkflowInput{Note: note})
	if err != nil {
		return fmt.Errorf("start health check: %w", err)
	}
	var res workflows.HealthCheckWorkflowResult
	if err := run.Get(ctx, &res); err != nil {
		return fmt.Errorf("health check did not finish (is a `daestro worker` running?): %w", err)
	}
	fmt.Fprintf(stdout, "ok: control worker answered; database schema at version %d\n", res.SchemaVersion)
	return nil
}

// adminRotateKey re-encrypts every secret sealed under an old key. Run it with
// the new key in DAESTRO_MASTER_KEY and the old one in DAESTRO_OLD_MASTER_KEYS;
// servers started with both read old and new values meanwhile.
func adminRotateKey(ctx context.Context, stdout, stderr io.Writer) error {
	_, _, st, err := openRole(ctx, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.RotateSecrets(ctx)
	if err != nil {
		return fmt.Errorf("rotation stopped after %d secrets (run it again: it is idempotent): %w", n, err)
	}
	fmt.Fprintf(stdout, "re-encrypted %d secrets under key %s; DAESTRO_OLD_MASTER_KEYS can now be removed\n", n, st.Secrets.CurrentKeyID())
	return nil
}
