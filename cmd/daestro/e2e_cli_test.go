package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"daestro/cli"
	"daestro/internal/config"
	"daestro/internal/testenv"
)

// cliResult is what one `daestro …` command line printed and its exit status.
type cliResult struct {
	stdout, stderr string
	code           int
}

// daestroCLI runs one command line in-process as the binary would: the
// exit status is what main would exit with (cli.Exit), not an os.Exit.
func daestroCLI(args ...string) cliResult {
	var out, errOut syncBuffer
	err := run(context.Background(), args, &out, &errOut)
	code := cli.Exit(&errOut, err)
	return cliResult{stdout: out.String(), stderr: errOut.String(), code: code}
}

// mustCLI runs a command line that must succeed and returns its stdout.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := daestroCLI(args...)
	require.Equal(t, 0, r.code, "daestro %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.stdout, r.stderr)
	return r.stdout
}

// cliJSON runs `daestro noun verb -o json …` and decodes what it printed
// (-o goes before the rest: after -- it would be a job's command).
func cliJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out := mustCLI(t, slices.Concat(args[:2], []string{"-o", "json"}, args[2:])...)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v
}

// useCLI points the user commands at the system, through the environment,
// with a config directory of the test's own.
func (s *e2e) useCLI(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(cli.EnvURL, s.baseURL)
	t.Setenv(cli.EnvAPIKey, s.key)
}

// A job that prints lines and exits 3, submitted with --follow: its lines
// come out on stdout in order and the CLI exits 3; -o json is the API's
// object as returned.
func TestCLIJobSubmitFollowExitsWithTheJobsCode(t *testing.T) {
	image := agentTestImage(t)
	s := startSystem(t)
	s.useCLI(t)
	ar := s.startAgent(image)
	s.waitIdle(ar.spawnID)

	mustCLI(t, "def", "create", "count", "--image", testenv.TestImage(), "--param", "code=0",
		"--", "sh", "-c", "for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done; exit Param::code")

	r := daestroCLI("job", "submit", "-d", "count", "-q", "etl", "--name", "exits-3", "--param", "code=3", "--follow")
	assert.Equal(t, 3, r.code, "the job's exit code; stderr: %s", r.stderr)
	assert.Equal(t, "line-1\nline-2\nline-3\nline-4\nline-5\n", r.stdout, "every line on stdout, in order, nothing else")
	assert.Contains(t, r.stderr, "exits-3 failed", "the job's outcome and note on stderr")

	r = daestroCLI("job", "submit", "-d", "count", "-q", "etl", "--follow")
	assert.Equal(t, 0, r.code, "a completed job exits 0: %s", r.stderr)
	assert.Equal(t, "line-1\nline-2\nline-3\nline-4\nline-5\n", r.stdout)

	// -o json prints the API's object as returned.
	status, apiJob := s.call(http.MethodGet, "/v1/jobs/exits-3", nil)
	require.Equal(t, http.StatusNotFound, status, "the API takes IDs; the CLI also takes names")
	cliJob := cliJSON(t, "job", "get", "exits-3")
	id, _ := cliJob["id"].(string)
	require.NotEmpty(t, id, "%v", cliJob)
	status, apiJob = s.call(http.MethodGet, "/v1/jobs/"+id, nil)
	require.Equal(t, http.StatusOK, status, apiJob)
	assert.Equal(t, apiJob, cliJob, "job get -o json is GET /v1/jobs/{id}'s data")
	_, apiDef := s.call(http.MethodGet, "/v1/job-definitions/count", nil)
	assert.Equal(t, apiDef, cliJSON(t, "def", "get", "count"))
	var fromYAML map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(mustCLI(t, "job", "get", id, "-o", "yaml")), &fromYAML))
	assert.Equal(t, apiJob["state"], fromYAML["state"])
	assert.Equal(t, apiJob["command"], fromYAML["command"])

	// The finished job's log, its wait, its metrics and the list.
	assert.Equal(t, "line-1\nline-2\nline-3\nline-4\nline-5\n", mustCLI(t, "job", "logs", id))
	assert.Equal(t, "line-1\nline-2\nline-3\nline-4\nline-5\n", mustCLI(t, "job", "logs", "-f", id), "following a finished run prints it and ends")
	r = daestroCLI("job", "wait", id)
	assert.Equal(t, 3, r.code, "job wait exits with the job's code too")
	assert.Contains(t, r.stdout, "failed")
	metrics := mustCLI(t, "job", "metrics", id)
	assert.Contains(t, metrics, "samples", metrics)
	list := mustCLI(t, "job", "ls", "--state", "failed")
	assert.Contains(t, list, id)
	assert.Contains(t, list, "exits-3")
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		assert.LessOrEqual(t, len([]rune(l)), 80, "%q", l)
	}

	// A resubmission runs attempt 2; --run 1 still shows the first run's log.
	r = daestroCLI("job", "resubmit", id, "--follow")
	assert.Equal(t, 3, r.code, r.stderr)
	assert.Equal(t, "line-1\nline-2\nline-3\nline-4\nline-5\n", r.stdout)
	assert.Equal(t, "line-1\nline-2\nline-3\nline-4\nline-5\n", mustCLI(t, "job", "logs", id, "--run", "1"))

	// A job cancelled while it waits: no exit code, non-zero, the note on stderr.
	sub := cliJSON(t, "job", "submit", "-d", "count", "-q", "etl", "--at", "+1h")
	jobID := sub["id"].(string)
	assert.NotNil(t, sub["schedule_at"], "%v", sub)
	mustCLI(t, "job", "cancel", jobID)
	r = daestroCLI("job", "wait", jobID)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "cancelled")
}

// login checks the key, writes the config file readable by its owner only,
// and later commands use it; the environment and flags override it; a
// wrong key is refused with a sentence and exit 1.
func TestCLILoginStoresTheKeyAndAWrongKeyIsRefused(t *testing.T) {
	s := startSystem(t)
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv(cli.EnvURL, "")
	t.Setenv(cli.EnvAPIKey, "")

	r := daestroCLI("queue", "ls")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "run daestro login", "without a login every command says what to do")

	r = daestroCLI("login", "--url", s.baseURL, "--api-key", "dst_000000000000_wrong")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the API key was refused")
	_, err := os.Stat(filepath.Join(dir, "daestro", "config.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a refused key is not stored")

	out := mustCLI(t, "login", "--url", s.baseURL+"/", "--api-key", s.key)
	assert.Contains(t, out, "project e2e")
	path := filepath.Join(dir, "daestro", "config.json")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the file holds the key: only its owner reads it")
	var saved cli.Config
	b, _ := os.ReadFile(path)
	require.NoError(t, json.Unmarshal(b, &saved))
	assert.Equal(t, cli.Config{URL: s.baseURL, APIKey: s.key}, saved)

	mustCLI(t, "queue", "create", "from-file", "--priority", "5")
	assert.Contains(t, mustCLI(t, "queue", "ls"), "from-file", "later commands use the stored URL and key")

	t.Setenv(cli.EnvAPIKey, "dst_000000000000_wrong")
	r = daestroCLI("queue", "ls")
	assert.Equal(t, 1, r.code, "DAESTRO_API_KEY overrides the file")
	assert.Regexp(t, regexp.MustCompile(`^daestro: the API key was refused \(.+\): run daestro login\n$`), r.stderr)
	assert.Empty(t, r.stdout)
	assert.Contains(t, mustCLI(t, "queue", "ls", "--api-key", s.key), "from-file", "--api-key overrides the environment")

	t.Setenv(cli.EnvAPIKey, "")
	r = daestroCLI("queue", "get", "no-such-queue")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no job queue named "no-such-queue"`)
	r = daestroCLI("queue", "create", "from-file")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^daestro: .*from-file.*\n$`, r.stderr, "the API's sentence, on one line")
}

// Every resource family: create, list, get, change and delete through the CLI.
func TestCLIResourceFamilies(t *testing.T) {
	t.Setenv(config.EnvEnableLocalDocker, "true") // the localdocker cloud auth: this machine is the test's own
	s := startSystem(t)
	s.useCLI(t)

	t.Run("env", func(t *testing.T) {
		env := cliJSON(t, "env", "create", "boxes", "--kind", "selfhosted", "--usable-cpu", "100")
		assert.Equal(t, "boxes", env["name"])
		assert.Contains(t, mustCLI(t, "env", "ls"), "boxes")
		assert.Equal(t, env["id"], cliJSON(t, "env", "get", "boxes")["id"])
		assert.Equal(t, false, cliJSON(t, "env", "update", "boxes", "--enabled=false")["enabled"])
		mustCLI(t, "env", "delete", "boxes")
		assert.NotContains(t, mustCLI(t, "env", "ls"), "boxes")
	})
	t.Run("queue", func(t *testing.T) {
		mustCLI(t, "env", "create", "q-boxes")
		q := cliJSON(t, "queue", "create", "etl2", "--priority", "7", "--env", "q-boxes", "--enable")
		assert.Equal(t, true, q["enabled"], "created, given its env and enabled in one go: %v", q)
		assert.Contains(t, mustCLI(t, "queue", "ls"), "etl2")
		got := mustCLI(t, "queue", "get", "etl2")
		assert.Contains(t, got, "q-boxes")
		assert.Equal(t, 9.0, cliJSON(t, "queue", "update", "etl2", "--priority", "9", "--enabled=false")["priority"])
		mustCLI(t, "queue", "delete", "etl2")
		assert.NotContains(t, mustCLI(t, "queue", "ls"), "etl2")
	})
	t.Run("def", func(t *testing.T) {
		d := cliJSON(t, "def", "create", "hello", "--image", testenv.TestImage(), "--param", "who=world", "--", "echo", "hello", "Param::who")
		assert.Equal(t, 1.0, d["version"])
		d = cliJSON(t, "def", "revise", "hello", "--cpu", "50", "--memory", "64")
		assert.Equal(t, 2.0, d["version"], "revise makes the next version")
		assert.Equal(t, []any{"echo", "hello", "Param::who"}, d["command"], "what is not given is inherited")
		assert.Contains(t, mustCLI(t, "def", "revisions", "hello"), "hello")
		assert.Contains(t, mustCLI(t, "def", "ls"), "hello")
		assert.Equal(t, 1.0, cliJSON(t, "def", "get", "hello:1")["version"])
		mustCLI(t, "def", "delete", "hello:1")
		r := daestroCLI("def", "get", "hello:1")
		assert.Equal(t, 1, r.code, "a deleted version is gone: %s", r.stderr)
	})
	t.Run("registry", func(t *testing.T) {
		reg := cliJSON(t, "registry", "create", "ghcr", "--registry-url", "ghcr.io", "--username", "bot", "--password", "s3cr3t-token")
		assert.Equal(t, "ghcr", reg["name"])
		assert.NotContains(t, mustCLI(t, "registry", "get", "ghcr", "-o", "json"), "s3cr3t-token", "the password never comes back")
		assert.Contains(t, mustCLI(t, "registry", "ls"), "ghcr")
		mustCLI(t, "registry", "delete", "ghcr")
		assert.NotContains(t, mustCLI(t, "registry", "ls"), "ghcr")
	})
	t.Run("auth", func(t *testing.T) {
		a := cliJSON(t, "auth", "create", "laptop", "--provider", "localdocker")
		assert.Equal(t, "localdocker", a["provider"])
		assert.Contains(t, mustCLI(t, "auth", "ls"), "laptop")
		assert.Contains(t, mustCLI(t, "auth", "regions", "laptop"), "local")
		assert.Contains(t, mustCLI(t, "auth", "instance-types", "laptop", "--region", "local"), "local-1c-512m")
		assert.Equal(t, "laptop2", cliJSON(t, "auth", "update", "laptop", "--name", "laptop2")["name"])
		assert.Equal(t, a["id"], cliJSON(t, "auth", "get", "laptop2")["id"])
		mustCLI(t, "auth", "delete", "laptop2")
		assert.NotContains(t, mustCLI(t, "auth", "ls"), "laptop")
	})
	t.Run("spawn", func(t *testing.T) {
		mustCLI(t, "env", "create", "s-boxes")
		mustCLI(t, "queue", "create", "s-queue", "--env", "s-boxes", "--enable")
		out := mustCLI(t, "spawn", "new", "--env", "s-boxes", "--queue", "s-queue")
		m := regexp.MustCompile(`Spawn:\s+(\S+)`).FindStringSubmatch(out)
		require.Len(t, m, 2, out)
		assert.Regexp(t, `Agent token:\s+dsa_\S+`, out)
		assert.Regexp(t, `(?m)^docker run .*DAESTRO_AUTH_TOKEN=dsa_\S+ .*`+regexp.QuoteMeta(s.baseURL), out, "the line to paste, whole")
		assert.Contains(t, mustCLI(t, "spawn", "ls", "--queue", "s-queue"), m[1])
		assert.Equal(t, "initialized", cliJSON(t, "spawn", "get", m[1])["state"])
		mustCLI(t, "spawn", "terminate", m[1])
		assert.Contains(t, mustCLI(t, "spawn", "events", m[1]), "initialized")
	})
	t.Run("cron", func(t *testing.T) {
		mustCLI(t, "env", "create", "c-boxes")
		mustCLI(t, "queue", "create", "c-queue", "--env", "c-boxes", "--enable")
		mustCLI(t, "def", "create", "tick", "--image", testenv.TestImage(), "--", "echo", "tick")
		c := cliJSON(t, "cron", "create", "weekdays", "-e", "0 30 9 ? * MON-FRI", "--time-zone", "Europe/Berlin", "-d", "tick", "-q", "c-queue")
		assert.Equal(t, "weekdays", c["name"])
		assert.Contains(t, mustCLI(t, "cron", "ls"), "weekdays")
		up := mustCLI(t, "cron", "upcoming", "weekdays", "-n", "3")
		assert.Len(t, strings.Split(strings.TrimSpace(up), "\n"), 4, "a header and three times:\n%s", up)
		assert.Contains(t, up, "09:30:00")
		assert.Equal(t, false, cliJSON(t, "cron", "update", "weekdays", "--enabled=false")["enabled"])
		assert.Equal(t, c["id"], cliJSON(t, "cron", "get", "weekdays")["id"])
		mustCLI(t, "cron", "delete", "weekdays")
		assert.NotContains(t, mustCLI(t, "cron", "ls"), "weekdays")
	})
	t.Run("project", func(t *testing.T) {
		assert.Contains(t, mustCLI(t, "project", "get"), "30 days after a run ends")
		assert.Equal(t, 7.0, cliJSON(t, "project", "update", "--log-retention-days", "7")["log_retention_days"])
		r := daestroCLI("project", "update", "--log-retention-days", "0")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "log_retention_days: 0 is out of range", "the API's sentence")
		assert.Equal(t, 7.0, cliJSON(t, "project", "get")["log_retention_days"], "a refused value changes nothing")
		r = daestroCLI("project", "update")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, "give --log-retention-days N")
	})
}

// Every user command answers --help with its flags, the connection flags
// and the environment variables it reads, and exits 0 (the whole tree is
// also walked by TestEveryCommandAnswersHelp).
func TestCLICommandsAnswerHelp(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	var walk func(path []string, cmd *cobra.Command)
	seen := 0
	walk = func(path []string, cmd *cobra.Command) {
		for _, sub := range cmd.Commands() {
			p := append(slices.Clone(path), sub.Name())
			r := daestroCLI(append(p, "--help")...)
			require.Equal(t, 0, r.code, "daestro %v --help: %s", p, r.stderr)
			if p[0] != "completion" {
				assert.Contains(t, r.stdout, "--api-key", "daestro %v --help", p)
				assert.Contains(t, r.stdout, "DAESTRO_URL", "daestro %v --help", p)
				assert.Contains(t, r.stdout, "DAESTRO_API_KEY", "daestro %v --help", p)
				if p[0] != "login" {
					assert.Contains(t, r.stdout, "--output", "daestro %v --help", p)
				}
			}
			seen++
			walk(p, sub)
		}
	}
	for _, c := range cli.Commands() {
		sub, _, err := root.Find([]string{c.Name()})
		require.NoError(t, err)
		walk([]string{c.Name()}, sub)
		r := daestroCLI(c.Name(), "--help")
		require.Equal(t, 0, r.code)
		seen++
	}
	assert.GreaterOrEqual(t, seen, 50, "login, completion and every noun with its verbs")
	help := mustCLI(t, "job", "submit", "--help")
	for _, f := range []string{"--follow", "--param", "--env", "--secret-env", "--at", "--file"} {
		assert.Contains(t, help, f)
	}
	assert.Contains(t, mustCLI(t, "completion", "bash"), "daestro")
	assert.Contains(t, mustCLI(t, "completion", "zsh"), "#compdef daestro")
	assert.Contains(t, mustCLI(t, "completion", "fish"), "complete -c daestro")
	assert.Equal(t, 1, daestroCLI("completion", "tcsh").code)
}
