package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"daestro/internal/config"
	"daestro/internal/testenv"
)

// chromiumPath is the browser the console tests drive: DAESTRO_CHROMIUM,
// else chromium on PATH (scripts/chromium.sh installs Debian's).
func chromiumPath(t testing.TB) string {
	if p := os.Getenv("DAESTRO_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "Chromium", "scripts/chromium.sh (apt-get install chromium)", err)
	}
	return p
}

// browser is a headless Chromium tab on the console of s.
type browser struct {
	t   *testing.T
	s   *e2e
	ctx context.Context
	// dir receives the screenshots.
	dir string
}

func newBrowser(t *testing.T, s *e2e) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	_, err := chromedp.Run(bctx, chromedp.Navigate("about:blank"))
	require.NoError(t, err, "start chromium")
	dir := os.Getenv("DAESTRO_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, t.Name())
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	t.Logf("console screenshots go to %s", dir)
	return &browser{t: t, s: s, ctx: bctx, dir: dir}
}

// do runs steps with a bound of its own.
func (b *browser) do(within time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...))
}

// get runs one action that reads a value.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err)
	return v
}

// open navigates to a console path and waits for its heading.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(30*time.Second, chromedp.Navigate(b.s.baseURL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
}

// html is the current page's HTML.
func (b *browser) html() string {
	b.t.Helper()
	return get(b, chromedp.OuterHTML(chromedp.CSS("html")))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browser) location() string {
	b.t.Helper()
	return strings.TrimPrefix(get(b, chromedp.Location()), b.s.baseURL)
}

// click clicks what sel finds (an XPath or CSS search) and waits for the
// page it leads to: a marker on the old page's window tells the two apart.
func (b *browser) click(sel string) {
	b.t.Helper()
	_ = get(b, chromedp.Evaluate[bool](`window.__daestroOld = true`))
	b.do(30*time.Second, chromedp.Click(sel))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__daestroOld !== true && document.readyState === 'complete' && !!document.querySelector('h1')`))
		cancel()
		if err == nil && done {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	h, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	b.t.Fatalf("clicking %s led to no new page; at %s:\n%s", sel, loc, h)
}

// fill sets form fields by id and clicks the submit button matching submit.
func (b *browser) fill(submit string, fields map[string]string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for id, v := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.ID(id), v))
	}
	b.do(30*time.Second, steps...)
	b.click(submit)
}

// shot saves a full-page screenshot at 1280 px and at 390 px wide, and
// checks what both widths need: no sideways scrolling of the page, and a
// label for every form control.
func (b *browser) shot(name string) {
	b.t.Helper()
	for _, w := range []int64{1280, 390} {
		b.do(10*time.Second, chromedp.EmulateViewport(w, 900))
		overflow := get(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
		assert.False(b.t, overflow, "%s is wider than %d px", name, w)
		png := get(b, chromedp.FullScreenshot(100))
		require.NoError(b.t, os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644))
	}
	b.do(10*time.Second, chromedp.EmulateViewport(1280, 900))
	unlabelled := get(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('input,select,textarea'))
		.filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
		.map(e => e.name || e.id)`))
	assert.Empty(b.t, unlabelled, "form controls without a label on %s", name)
}

// waitText reloads path until sel's text matches re (pages of jobs on their
// way refresh themselves too; this does not rely on it).
func (b *browser) waitText(path, sel string, re *regexp.Regexp, within time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		b.open(path)
		if last = b.text(sel); re.MatchString(last) {
			return
		}
		time.Sleep(time.Second)
	}
	facts := b.text("dl.facts")
	b.t.Fatalf("%s %s never matched %s; last: %q; the page says:\n%s", path, sel, re, last, facts)
}

// ownNamespace registers a Temporal namespace for the test alone and points
// the system at it: the shared test server's daestro-control queue of the
// default namespace is polled by every other e2e run on the machine, whose
// workers would take this test's tasks against their own databases.
func ownNamespace(t *testing.T) {
	tc := testenv.Temporal(t)
	ns := testenv.RandomName("e2e-console")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = tc.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: ns})
	})
	require.Eventually(t, func() bool {
		_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		return err == nil
	}, 30*time.Second, 200*time.Millisecond, "namespace %s never appeared", ns)
	t.Setenv(config.EnvTemporalNamespace, ns)
}

var spawnLinkRE = regexp.MustCompile(`href="/compute-spawns/([0-9a-f-]{36})"`)

// A user who never opens a terminal: signs in, builds a self-hosted
// environment, a queue and a definition in forms, starts the agent from the
// "New compute" line, submits a job and watches its log arrive live and its
// CPU/memory charts after; cancels a running job and resubmits it. Bad forms
// show the API's sentence and write nothing, no page ever holds a sensitive
// value, and a POST without the CSRF token is refused.
func TestConsoleInABrowser(t *testing.T) {
	image := agentTestImage(t)
	chromiumPath(t)
	ownNamespace(t)
	s := startSystem(t)
	b := newBrowser(t, s)
	const secret = "console-secret-3f9a1c"

	// Sign in.
	b.open("/")
	require.Equal(t, "/signin?next=%2F", b.location())
	b.shot("signin")
	b.fill(`//button[text()="Sign in"]`, map[string]string{"f-api_key": s.key})
	require.Equal(t, "/", b.location())
	assert.Contains(t, b.html(), "Jobs by state")

	// A queue name with a space: the API's sentence next to the field, nothing written.
	status, api := s.call(http.MethodPost, "/v1/job-queues", map[string]any{"name": "my queue"})
	require.Equal(t, http.StatusBadRequest, status)
	b.open("/job-queues/new")
	b.fill(`//button[text()="Create job queue"]`, map[string]string{"f-name": "my queue", "f-description": "typed by hand"})
	assert.Equal(t, api["message"], b.text("#err-name"))
	kept := get(b, chromedp.Value(chromedp.ID("f-description")))
	assert.Equal(t, "typed by hand", kept, "a failed submit keeps what the user typed")
	b.shot("queue-form-error")
	_, list := s.call(http.MethodGet, "/v1/job-queues", nil)
	assert.Empty(t, list["items"], "the refused form wrote nothing")

	// The queue, a self-hosted environment in it, enabled.
	b.open("/job-queues/new")
	b.fill(`//button[text()="Create job queue"]`, map[string]string{"f-name": "etl", "f-priority": "10"})
	queuePath := b.location()
	require.Regexp(t, `^/job-queues/[0-9a-f-]{36}$`, queuePath)
	b.open("/compute-envs/new")
	b.fill(`//button[text()="Create compute environment"]`, map[string]string{"f-name": "boxes", "f-usable_cpu_pct": "100"})
	envPath := b.location()
	require.Regexp(t, `^/compute-envs/[0-9a-f-]{36}$`, envPath)
	b.open(queuePath)
	b.click(`//button[text()="Add"]`)
	b.do(10*time.Second, chromedp.Click(chromedp.ID("f-enabled")))
	b.click(`//button[text()="Save"]`)
	assert.Contains(t, b.html(), "<dt>Enabled</dt><dd>yes</dd>")

	// New compute: the docker run line, once; run it as printed.
	b.open(envPath)
	b.click("#new-compute-button")
	line := b.text("#docker-run")
	require.Contains(t, line, "DAESTRO_AUTH_TOKEN=dsa_")
	m := spawnLinkRE.FindStringSubmatch(b.html())
	require.Len(t, m, 2)
	spawnID := m[1]
	b.shot("new-compute")
	b.open(envPath)
	assert.NotContains(t, b.html(), "dsa_", "the agent token is shown only once")
	s.runAgentLine(spawnID, line, image)
	var spawn map[string]any
	require.Eventually(t, func() bool {
		_, spawn = s.call(http.MethodGet, "/v1/compute-spawns/"+spawnID, nil)
		return spawn["state"] == "idle"
	}, 90*time.Second, 500*time.Millisecond, "the spawn never became idle")
	t.Logf("spawn %s: %v", spawnID, spawn)

	// A definition with a sensitive env value, through the form.
	b.open("/job-definitions/new")
	b.fill(`//button[text()="Create job definition"]`, map[string]string{
		"f-name": "ticker", "f-image": testenv.TestImage(),
		"f-command":       "sh\n-c\necho start; for i in $(seq 1 15); do echo tick-$i; sleep 1; done; echo done",
		"f-env":           "PLAIN=shown",
		"f-sensitive_env": "API_TOKEN=" + secret,
	})
	require.Equal(t, "/job-definitions/ticker:1", b.location(), b.html())
	b.shot("definition")

	// Submit; the log arrives live while the job runs.
	b.open("/jobs/new")
	b.fill(`//button[text()="Submit job"]`, map[string]string{"f-job_definition": "ticker", "f-job_queue": "etl"})
	jobPath := b.location()
	require.Regexp(t, `^/jobs/[0-9a-f-]{36}$`, jobPath)
	b.waitText(jobPath, "#job-state", regexp.MustCompile(`^running$`), 90*time.Second)
	b.do(60*time.Second, chromedp.WaitVisible(`//pre[@id="log"][@data-follow]/span[contains(., "tick-3")]`))
	live := b.text("#log")
	assert.NotContains(t, live, "done", "tick-3 showed while the job still ran")
	b.shot("job-running")
	// The page reloads itself at the run's end: outcome and charts.
	b.do(90*time.Second, chromedp.WaitVisible(chromedp.CSS(`pre#log:not([data-follow])`)))
	b.waitText(jobPath, "#job-state", regexp.MustCompile(`^completed$`), 30*time.Second)
	b.do(10*time.Second, chromedp.WaitVisible(chromedp.CSS(`figure[data-chart="cpu"] svg polyline`)))
	assert.Contains(t, b.text("#log"), "tick-15")
	assert.Contains(t, b.html(), `data-chart="memory"`)
	assert.Regexp(t, `CPU: max [0-9.]+ %, avg`, b.text(`figure[data-chart="cpu"] figcaption`))
	b.shot("job-completed")

	// Cancel a running job, then resubmit it.
	b.open("/jobs/new")
	b.fill(`//button[text()="Submit job"]`, map[string]string{"f-job_definition": "ticker", "f-job_queue": "etl", "f-name": "long-one",
		"f-container_cmd": "sh\n-c\necho long; sleep 300"})
	longPath := b.location()
	b.waitText(longPath, "#job-state", regexp.MustCompile(`^running$`), 90*time.Second)
	b.click("#cancel")
	b.waitText(longPath, "#job-state", regexp.MustCompile(`^cancelled$`), 60*time.Second)
	b.shot("job-cancelled")
	b.click("#resubmit")
	assert.Contains(t, b.html(), "#2", "the resubmission is the job's second run")
	b.waitText(longPath, "#job-state", regexp.MustCompile(`^running$`), 90*time.Second)
	b.click("#cancel")
	b.waitText(longPath, "#job-state", regexp.MustCompile(`^cancelled$`), 60*time.Second)

	// A POST without the form's token, from the signed-in page itself: 403, nothing written.
	b.open("/")
	code := get(b, chromedp.Evaluate[int](`fetch('/job-queues', {method: 'POST', body: new URLSearchParams({name: 'forged'})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	assert.Equal(t, http.StatusForbidden, code)
	_, list = s.call(http.MethodGet, "/v1/job-queues", nil)
	assert.Len(t, list["items"], 1, "only etl: the forged POST wrote nothing")

	// Every main page, screenshotted; none holds the sensitive value.
	for name, path := range map[string]string{"dashboard": "/", "jobs": "/jobs", "job": jobPath, "job-long": longPath,
		"definitions": "/job-definitions", "definition-detail": "/job-definitions/ticker:1", "definition-revise": "/job-definitions/ticker/revise",
		"queues": "/job-queues", "queue": queuePath, "envs": "/compute-envs", "env": envPath, "env-new": "/compute-envs/new",
		"spawns": "/compute-spawns", "spawn": "/compute-spawns/" + spawnID, "job-new": "/jobs/new"} {
		b.open(path)
		h := b.html()
		assert.NotContains(t, h, secret, "%s shows a sensitive value", path)
		b.shot(name)
	}

	// Sign out: the pages ask for sign-in again.
	b.open("/")
	b.click(`//button[text()="Sign out"]`)
	b.open("/jobs")
	assert.True(t, strings.HasPrefix(b.location(), "/signin"), b.location())
}
