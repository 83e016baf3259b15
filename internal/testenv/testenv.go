// Package testenv gives integration tests the real services they need —
// Postgres, Temporal, Docker — and decides what happens when one is missing:
// under CI (CI=true) or `make test` (DAESTRO_TEST_REQUIRE_SERVICES=1) the
// test fails loudly; in a bare `go test` on a laptop it is skipped with the
// command that starts the service.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"daestro/agent"
	"daestro/internal/config"
	"daestro/internal/logging"
	"daestro/internal/secrets"
	"daestro/internal/store"
	"daestro/internal/temporalx"
)

// RequireServices reports whether a missing service must fail the test.
func RequireServices() bool {
	return os.Getenv("CI") == "true" || os.Getenv("DAESTRO_TEST_REQUIRE_SERVICES") == "1"
}

// Missing stops the test because service is not available: a failure when
// services are required, a skip otherwise.
func Missing(tb testing.TB, service, howToStart string, err error) {
	tb.Helper()
	msg := fmt.Sprintf("%s is not available (%v); start it with `%s` or run `make test`", service, err, howToStart)
	if RequireServices() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// Logger returns a logger that writes to the test log.
func Logger(tb testing.TB) *slog.Logger {
	return logging.New(testWriter{tb}, "text", slog.LevelWarn)
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// DatabaseURL is the server the tests use: DAESTRO_DATABASE_URL or the
// default of scripts/postgres.sh.
func DatabaseURL() string {
	if u := os.Getenv(config.EnvDatabaseURL); u != "" {
		return u
	}
	return config.DefaultDatabaseURL
}

// NewDatabase creates an empty database of its own for the test, dropped at
// cleanup, and returns its URL. Tests in different packages run in parallel
// without seeing each other's rows.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, DatabaseURL())
	if err != nil {
		Missing(tb, "Postgres at "+DatabaseURL(), "scripts/postgres.sh start", err)
	}
	defer admin.Close(ctx)
	name := "daestro_test_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, DatabaseURL())
		if err != nil {
			tb.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		tb.Fatalf("parse %s: %v", config.EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Store returns a Store on a fresh, fully migrated database of the test's own.
func Store(tb testing.TB) *store.Store {
	tb.Helper()
	st := OpenStore(tb, NewDatabase(tb))
	if _, err := st.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate test database: %v", err)
	}
	return st
}

// SealingStore is Store with a random master key, for tests that write
// secrets (credentials, sensitive env values).
func SealingStore(tb testing.TB) *store.Store {
	tb.Helper()
	st := Store(tb)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		tb.Fatalf("keyring: %v", err)
	}
	st.Secrets = ring
	return st
}

// OpenStore opens url and closes it at cleanup.
func OpenStore(tb testing.TB, url string) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		Missing(tb, "Postgres", "scripts/postgres.sh start", err)
	}
	tb.Cleanup(st.Close)
	return st
}

// TemporalAddress is the dev server the tests use: TEMPORAL_ADDRESS or the
// test instance of scripts/temporal.sh.
func TemporalAddress() string {
	if a := os.Getenv(config.EnvTemporalAddress); a != "" {
		return a
	}
	return "127.0.0.1:7243"
}

// Temporal returns a client of the real Temporal server, closed at cleanup,
// with daestro's search attributes registered.
func Temporal(tb testing.TB) client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := temporalx.Options{Address: TemporalAddress(), Namespace: config.DefaultTemporalNamespace, Logger: Logger(tb)}
	c, err := temporalx.Dial(ctx, opts)
	if err != nil {
		Missing(tb, "Temporal at "+TemporalAddress(), "scripts/temporal.sh start test", err)
	}
	tb.Cleanup(c.Close)
	if err := temporalx.EnsureSearchAttributes(ctx, c, opts.Namespace); err != nil {
		tb.Fatalf("register search attributes: %v", err)
	}
	return c
}

// TaskQueue returns a task queue name no other test uses, so workers of
// concurrent tests never steal each other's tasks.
func TaskQueue(tb testing.TB) string {
	return "test-" + strings.NewReplacer("/", "-", " ", "-").Replace(tb.Name()) + "-" + randomHex(4)
}

// TestImage is the local image built by scripts/docker-images.sh (busybox).
// Its tag is not "latest" on purpose: the executor always pulls "latest",
// and tests must send no traffic to a registry.
func TestImage() string {
	if img := os.Getenv("DAESTRO_TEST_IMAGE"); img != "" {
		return img
	}
	return "daestro-test/busybox:1"
}

// BashImage is the local stand-in for ubuntu:24.04 (busybox + bash-static).
func BashImage() string {
	if img := os.Getenv(config.EnvBashImage); img != "" {
		return img
	}
	return "daestro-test/bash:1"
}

// Docker returns a client of the real Docker engine, closed at cleanup.
func Docker(tb testing.TB) *agent.Docker {
	tb.Helper()
	d, err := agent.NewDocker()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = d.Ping(ctx)
	}
	if err != nil {
		Missing(tb, "Docker engine", "systemctl start docker", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	// Tests run containers of the local test images, never pulled: without
	// them they would fail on "image not found" instead of saying what to run.
	for _, ref := range []string{TestImage(), BashImage()} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := d.Client().ImageInspect(ctx, ref)
		cancel()
		if err != nil {
			Missing(tb, "the test image "+ref, `eval "$(scripts/docker-images.sh)"`, err)
		}
	}
	return d
}

// RandomName returns a short random suffix for test resources.
func RandomName(prefix string) string { return prefix + "-" + randomHex(4) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var _ io.Writer = testWriter{}
