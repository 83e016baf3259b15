package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"daestro/internal/config"
	"daestro/internal/store"
	"daestro/internal/temporalx"
	"daestro/workflows"
)

func newAdminCmd(stdout, stderr io.Writer) *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "operator tasks: create-project, gen-key, check, rotate-key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(stderr, cmd.UsageString())
			return fmt.Errorf("admin needs a task: %w", errUsage)
		},
	}
	var code, name string
	create := &cobra.Command{
		Use:   "create-project",
		Short: "create a project and print its first API key (shown once)",
		Long:  envHelp("Creates a project and prints its first API key, shown only once.", envDatabase, envLogging),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code == "" {
				return fmt.Errorf("create-project needs --code: %w", errUsage)
			}
			cfg, log, err := loadConfig(stderr)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg, log, cfg.MigrateOnStart)
			if err != nil {
				return err
			}
			defer st.Close()
			return createProjectWithKey(cmd.Context(), st, code, name, stdout)
		},
	}
	create.Flags().StringVar(&code, "code", "", "project code: lowercase letters, digits, dashes (required)")
	create.Flags().StringVar(&name, "name", "", "display name (default: the code)")
	admin.AddCommand(create,
		&cobra.Command{
			Use: "gen-key", Short: "print a new random master key for DAESTRO_MASTER_KEY", Args: cobra.NoArgs,
			Long: "Prints a new random master key (base64 of 32 bytes) for DAESTRO_MASTER_KEY. Reads no environment.",
			RunE: func(*cobra.Command, []string) error {
				var k [config.MasterKeySize]byte
				_, _ = rand.Read(k[:])
				fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(k[:]))
				return nil
			},
		},
		&cobra.Command{
			Use: "check", Short: "run a health-check workflow through the control worker", Args: cobra.NoArgs,
			Long: envHelp("Runs a health-check workflow through the control worker and prints the schema version it reports.", envTemporal, envLogging),
			RunE: func(cmd *cobra.Command, _ []string) error { return adminCheck(cmd.Context(), stdout, stderr) },
		},
		&cobra.Command{
			Use: "rotate-key", Args: cobra.NoArgs,
			Short: "re-encrypt every secret under DAESTRO_MASTER_KEY (previous keys in DAESTRO_OLD_MASTER_KEYS)",
			Long: envHelp(`Re-encrypts every secret under DAESTRO_MASTER_KEY; the previous key(s) go in
DAESTRO_OLD_MASTER_KEYS (comma-separated). Idempotent: run it again after a failure.`, envDatabase, envTemporal, envLogging),
			RunE: func(cmd *cobra.Command, _ []string) error { return adminRotateKey(cmd.Context(), stdout, stderr) },
		},
	)
	return admin
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
	tc, err := temporalx.Dial(ctx, temporalOptions(cfg, log, nil))
	if err != nil {
		return err
	}
	defer tc.Close()
	note := time.Now().UTC().Format(time.RFC3339Nano)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.HealthCheckWorkflowID(note),
		TaskQueue: cfg.ControlTaskQueue,
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
