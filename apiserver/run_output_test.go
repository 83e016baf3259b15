package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/agentapi"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// placedRun is a job whose run is placed on a self-hosted spawn, with the
// spawn's agent: what the dispatcher leaves behind once it placed a job.
type placedRun struct {
	c                        client
	queue, definition, spawn string
	job, run                 string
	agent                    client
	spawnEnv                 string
}

// newPlacedRun creates a queue, an environment, a definition and a spawn
// through the API and the store, then the job and its run with SQL (the
// jobs API and the dispatcher are not what these tests are about).
func newPlacedRun(t *testing.T, c client, name string) placedRun {
	t.Helper()
	p := placedRun{c: c}
	p.spawnEnv = c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": name + "-boxes", "kind": "selfhosted"}).id(t)
	p.queue = c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": name, "priority": 10}).id(t)
	r := c.do(http.MethodPost, "/v1/job-queues/"+p.queue+"/compute-envs", map[string]any{"compute_env_id": p.spawnEnv})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	p.definition = c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": name, "type": "docker", "image": "busybox:1"}).id(t)
	p.spawn, p.agent = newSpawnAgent(t, c, p.queue, p.spawnEnv)
	p.job, p.run = store.NewID(), store.NewID()
	outputSQL(t, c.a, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, current_run_id)
		VALUES ($1, $2, $3, $4, $5, 'running', $6)`, p.job, c.project.ID, p.queue, p.definition, name+"-job", p.run)
	outputSQL(t, c.a, `INSERT INTO job_runs (id, job_id, project_id, attempt, state, compute_spawn_id, started_at)
		VALUES ($1, $2, $3, 1, 'running', $4, now())`, p.run, p.job, c.project.ID, p.spawn)
	return p
}

// newSpawnAgent creates a spawn in the queue through the store (the API
// would start its workflow) and returns it with a client using its token.
func newSpawnAgent(t *testing.T, c client, queue, env string) (string, client) {
	t.Helper()
	spawnID, token := newSpawnToken(t, c, queue, env)
	return spawnID, c.a.registeredAgent(token)
}

// rerun adds the job's next run, on the same spawn, and makes it current.
func (p placedRun) rerun(t *testing.T) string {
	t.Helper()
	run := store.NewID()
	outputSQL(t, p.c.a, `INSERT INTO job_runs (id, job_id, project_id, attempt, state, compute_spawn_id)
		SELECT $1::uuid, $2::uuid, $3::uuid, max(attempt) + 1, 'running', $4::uuid FROM job_runs WHERE job_id = $2`, run, p.job, p.c.project.ID, p.spawn)
	outputSQL(t, p.c.a, `UPDATE jobs SET current_run_id = $1 WHERE id = $2`, run, p.job)
	return run
}

// finishRun ends a run as the job's workflow does.
func finishRun(t *testing.T, a *api, run string) {
	t.Helper()
	outputSQL(t, a, `UPDATE job_runs SET state = 'completed', finished_at = now(), exit_code = 0 WHERE id = $1`, run)
}

func outputSQL(t *testing.T, a *api, sql string, args ...any) {
	t.Helper()
	_, err := a.st.Pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

var logEpoch = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// logLines numbers lines from..to as the executor would: alternating
// streams, a millisecond apart.
func logLines(from, to int64) []agentapi.LogLine {
	var out []agentapi.LogLine
	for i := from; i <= to; i++ {
		stream := agentapi.StreamStdout
		if i%3 == 0 {
			stream = agentapi.StreamStderr
		}
		out = append(out, agentapi.LogLine{Seq: i, Stream: stream, Time: logEpoch.Add(time.Duration(i) * time.Millisecond),
			Text: fmt.Sprintf("line %d: ünïcode ✓", i), Partial: i%7 == 0})
	}
	return out
}

func shipLogs(t *testing.T, agent client, run string, lines []agentapi.LogLine) response {
	t.Helper()
	return agent.do(http.MethodPost, agentapi.RunPath(agentapi.PathRunLogs, run), agentapi.LogsRequest{Lines: lines})
}

// ackOf ships lines and returns the acknowledgement, failing on anything but 200.
func ackOf(t *testing.T, agent client, run string, lines []agentapi.LogLine) int64 {
	t.Helper()
	return dataOf[agentapi.LogsResponse](t, shipLogs(t, agent, run, lines), http.StatusOK).AckedSeq
}

func readLogs(t *testing.T, c client, job, query string) domain.RunLogs {
	t.Helper()
	return getData[domain.RunLogs](t, c, "/v1/jobs/"+job+"/logs"+query)
}

// wireLines is what the API shows for lines shipped as in.
func wireLines(in []agentapi.LogLine) []domain.LogLine {
	out := make([]domain.LogLine, len(in))
	for i, l := range in {
		out[i] = domain.LogLine{Seq: l.Seq, Stream: l.Stream, Time: l.Time, Text: l.Text, Partial: l.Partial}
	}
	return out
}

func lineSeqs(lines []domain.LogLine) []int64 {
	out := make([]int64, len(lines))
	for i, l := range lines {
		out[i] = l.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestLogsShippedInBatchesArriveCompleteAndInOrder(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	all := logLines(1, 10_000)
	for from := 0; from < len(all); from += 500 {
		batch := all[from : from+500]
		assert.Equal(t, batch[len(batch)-1].Seq, ackOf(t, p.agent, p.run, batch))
	}

	// Paging by after_seq reads every line once, in order, as shipped.
	var got []domain.LogLine
	after := int64(0)
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "paging does not end")
		page := readLogs(t, p.c, p.job, fmt.Sprintf("?after_seq=%d&limit=3000", after))
		assert.Equal(t, p.run, page.RunID)
		assert.False(t, page.RunFinished)
		got = append(got, page.Lines...)
		if len(page.Lines) == 0 {
			assert.Equal(t, after, page.NextAfterSeq, "an empty page keeps the position")
			break
		}
		assert.Equal(t, page.Lines[len(page.Lines)-1].Seq, page.NextAfterSeq)
		after = page.NextAfterSeq
	}
	require.Len(t, got, 10_000)
	assert.Equal(t, wireLines(all), got)
}

func TestLogResendChangesNothingAndAckStopsAtAGap(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")

	assert.Equal(t, int64(5), ackOf(t, p.agent, p.run, logLines(1, 5)))
	assert.Equal(t, int64(5), ackOf(t, p.agent, p.run, logLines(7, 7)), "line 6 is missing: 7 is kept but not acknowledged")

	// A resend with other text keeps what was stored first.
	resent := logLines(1, 5)
	for i := range resent {
		resent[i].Text = "changed"
	}
	assert.Equal(t, int64(5), ackOf(t, p.agent, p.run, resent))
	assert.Equal(t, int64(5), ackOf(t, p.agent, p.run, []agentapi.LogLine{}), "an empty batch asks for the acknowledgement")
	page := readLogs(t, p.c, p.job, "")
	assert.Equal(t, wireLines(logLines(1, 5)), page.Lines, "while the run lasts, a reader sees no line beyond the gap")
	assert.Equal(t, int64(5), page.NextAfterSeq)

	// Filling the gap acknowledges the line stored above it too.
	assert.Equal(t, int64(7), ackOf(t, p.agent, p.run, logLines(6, 6)))
	assert.Equal(t, int64(10), ackOf(t, p.agent, p.run, logLines(5, 10)), "an overlapping batch")
	assert.Equal(t, wireLines(logLines(1, 10)), readLogs(t, p.c, p.job, "").Lines)
	assert.Equal(t, 10, a.count("run_logs"))

	// Out of order within a batch and across a gap that stays open.
	assert.Equal(t, int64(12), ackOf(t, p.agent, p.run, []agentapi.LogLine{logLines(12, 12)[0], logLines(11, 11)[0], logLines(14, 14)[0]}))
	assert.Equal(t, seqRange(1, 12), lineSeqs(readLogs(t, p.c, p.job, "").Lines))
	// Once the run has finished, every stored line shows, gap or not.
	finishRun(t, a, p.run)
	page = readLogs(t, p.c, p.job, "?after_seq=10")
	assert.Equal(t, []int64{11, 12, 14}, lineSeqs(page.Lines))
	assert.True(t, page.RunFinished)
}

func TestLogsAndMetricsOfARunOnAnotherSpawnAre404(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	acme := a.newProject("acme")
	p := newPlacedRun(t, acme, "etl")
	_, sameProject := newSpawnAgent(t, acme, p.queue, p.spawnEnv)
	other := newPlacedRun(t, a.newProject("other"), "etl")

	for name, agent := range map[string]client{"another spawn of the project": sameProject, "another project's spawn": other.agent} {
		for _, path := range []string{agentapi.PathRunLogs, agentapi.PathRunMetrics} {
			t.Run(name+path, func(t *testing.T) {
				body := map[string]any{"lines": logLines(1, 3), "samples": []agentapi.MetricSample{{Time: logEpoch, CPUPct: 1, MemoryBytes: 1}}}
				r := agent.do(http.MethodPost, agentapi.RunPath(path, p.run), body)
				assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
				assert.Equal(t, "no run "+p.run+" on this compute spawn", r.Message)
			})
		}
	}
	for _, run := range []string{store.NewID(), "not-a-uuid"} {
		r := shipLogs(t, p.agent, run, logLines(1, 1))
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
		assert.Equal(t, "no run "+run+" on this compute spawn", r.Message)
	}
	r := a.agent("").do(http.MethodPost, agentapi.RunPath(agentapi.PathRunLogs, p.run), agentapi.LogsRequest{Lines: logLines(1, 1)})
	assert.Equal(t, http.StatusUnauthorized, r.Status, "an agent token is required")
	r = p.c.do(http.MethodPost, agentapi.RunPath(agentapi.PathRunLogs, p.run), agentapi.LogsRequest{Lines: logLines(1, 1)})
	assert.Equal(t, http.StatusUnauthorized, r.Status, "an API key is not an agent token")
	assert.Zero(t, a.count("run_logs"))
	assert.Zero(t, a.count("run_metrics"))
}

func TestLogAndMetricBatchesWithBadInputAre400(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	line := func(mod func(*agentapi.LogLine)) []agentapi.LogLine {
		l := logLines(1, 1)
		mod(&l[0])
		return l
	}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"no body", "", "request body is empty"},
		{"not JSON", "{lines:", "request body is not valid JSON"},
		{"no lines", map[string]any{}, "lines: is required"},
		{"seq 0", agentapi.LogsRequest{Lines: line(func(l *agentapi.LogLine) { l.Seq = 0 })}, "lines[0].seq: is 0; lines are numbered from 1"},
		{"negative seq", agentapi.LogsRequest{Lines: line(func(l *agentapi.LogLine) { l.Seq = -4 })}, "lines[0].seq: is -4"},
		{"unknown stream", agentapi.LogsRequest{Lines: line(func(l *agentapi.LogLine) { l.Stream = "stdin" })}, `lines[0].stream: "stdin" is not a stream: use stdout or stderr`},
		{"no time", agentapi.LogsRequest{Lines: line(func(l *agentapi.LogLine) { l.Time = time.Time{} })}, "lines[0].time: is required"},
		{"bad time", `{"lines":[{"seq":1,"stream":"stdout","time":"yesterday","text":"x"}]}`, "request body is not valid"},
		{"seq as text", `{"lines":[{"seq":"1","stream":"stdout","time":"2026-11-29T12:00:00Z","text":"x"}]}`, "lines.seq: must be a whole number"},
		{"line too long", agentapi.LogsRequest{Lines: line(func(l *agentapi.LogLine) { l.Text = strings.Repeat("x", agentapi.MaxLogLineBytes+1) })},
			"lines[0].text: is 65537 bytes long; the limit is 65536"},
		{"too many lines", agentapi.LogsRequest{Lines: logLines(1, agentapi.MaxLogLines+1)}, "lines: a batch of 5001 lines; the limit is 5000"},
		{"too much text", agentapi.LogsRequest{Lines: func() []agentapi.LogLine {
			l := logLines(1, 65)
			for i := range l {
				l[i].Text = strings.Repeat("x", agentapi.MaxLogLineBytes)
			}
			return l
		}()}, "lines: the batch carries 4259840 bytes of text; the limit is 4194304"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := shipLogs400(t, p, agentapi.PathRunLogs, tt.body)
			assert.Contains(t, r.Message, tt.want)
		})
	}
	metrics := []struct {
		name string
		body any
		want string
	}{
		{"no samples", map[string]any{}, "samples: is required"},
		{"no time", agentapi.MetricsRequest{Samples: []agentapi.MetricSample{{CPUPct: 1}}}, "samples[0].time: is required"},
		{"negative cpu", agentapi.MetricsRequest{Samples: []agentapi.MetricSample{{Time: logEpoch, CPUPct: -1}}}, "samples[0].cpu_pct: is -1; it cannot be negative"},
		{"negative memory", agentapi.MetricsRequest{Samples: []agentapi.MetricSample{{Time: logEpoch, MemoryBytes: -1}}}, "samples[0].memory_bytes: is -1"},
		{"too many", agentapi.MetricsRequest{Samples: make([]agentapi.MetricSample, agentapi.MaxMetricSamples+1)}, "samples: a batch of 5001 samples; the limit is 5000"},
	}
	for _, tt := range metrics {
		t.Run("metrics "+tt.name, func(t *testing.T) {
			r := shipLogs400(t, p, agentapi.PathRunMetrics, tt.body)
			assert.Contains(t, r.Message, tt.want)
		})
	}
	assert.Zero(t, a.count("run_logs"), "a rejected batch writes nothing")
	assert.Zero(t, a.count("run_metrics"))

	// The bounds themselves are fine; a NUL byte, which Postgres text cannot
	// hold, is kept visible as U+FFFD.
	full := logLines(1, 2)
	full[0].Text = strings.Repeat("é", agentapi.MaxLogLineBytes/2)
	full[1].Text = "nul:\x00."
	assert.Equal(t, int64(2), ackOf(t, p.agent, p.run, full))
	got := readLogs(t, p.c, p.job, "").Lines
	require.Len(t, got, 2)
	assert.Equal(t, full[0].Text, got[0].Text)
	assert.Equal(t, "nul:\uFFFD.", got[1].Text)
}

func shipLogs400(t *testing.T, p placedRun, path string, body any) response {
	t.Helper()
	r := p.agent.do(http.MethodPost, agentapi.RunPath(path, p.run), body)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	return r
}

func TestLogsPageByAfterSeqAndLimitAndPickTheRun(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	ackOf(t, p.agent, p.run, logLines(1, 25))

	page := readLogs(t, p.c, p.job, "?after_seq=10&limit=5")
	assert.Equal(t, wireLines(logLines(11, 15)), page.Lines)
	assert.Equal(t, int64(15), page.NextAfterSeq)
	page = readLogs(t, p.c, p.job, "?after_seq=25")
	assert.Empty(t, page.Lines)
	assert.Equal(t, int64(25), page.NextAfterSeq)
	assert.Len(t, readLogs(t, p.c, p.job, "").Lines, 25, "the default limit covers a short run")
	assert.Len(t, readLogs(t, p.c, p.job, "?limit=5000").Lines, 25)

	for query, want := range map[string]string{
		"?after_seq=-1":  `after_seq: "-1" must be a whole number, 0 or more`,
		"?after_seq=abc": `after_seq: "abc" must be a whole number`,
		"?limit=0":       `limit: "0" must be a whole number from 1 to 5000`,
		"?limit=5001":    `limit: "5001" must be a whole number from 1 to 5000`,
		"?follow=maybe":  `follow: "maybe" must be true or false`,
	} {
		r := p.c.do(http.MethodGet, "/v1/jobs/"+p.job+"/logs"+query, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", query, r.Raw)
		assert.Contains(t, r.Message, want, query)
	}

	// The job's next run becomes the default; the first stays readable by ID.
	first := p.run
	finishRun(t, a, first)
	second := p.rerun(t)
	assert.Equal(t, int64(2), ackOf(t, p.agent, second, logLines(1, 2)))
	page = readLogs(t, p.c, p.job, "")
	assert.Equal(t, second, page.RunID)
	assert.Len(t, page.Lines, 2)
	assert.False(t, page.RunFinished)
	page = readLogs(t, p.c, p.job, "?run="+first+"&after_seq=20")
	assert.Equal(t, first, page.RunID)
	assert.Equal(t, seqRange(21, 25), lineSeqs(page.Lines))
	assert.True(t, page.RunFinished)

	for _, run := range []string{store.NewID(), "nope"} {
		r := p.c.do(http.MethodGet, "/v1/jobs/"+p.job+"/logs?run="+run, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
		assert.Equal(t, fmt.Sprintf("run: job %s has no run %q; leave run out for the job's current run", p.job, run), r.Message)
	}
}

func TestLogsOfAJobWithoutARunAre409(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	job := store.NewID()
	outputSQL(t, a, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state)
		VALUES ($1, $2, $3, $4, 'fresh', 'submitted')`, job, p.c.project.ID, p.queue, p.definition)
	for _, path := range []string{"/logs", "/logs?follow=true", "/metrics"} {
		r := p.c.do(http.MethodGet, "/v1/jobs/"+job+path, nil)
		assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
		assert.Equal(t, "job "+job+" has no run yet (it is submitted): its logs and metrics appear once it is placed on a compute spawn", r.Message)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	Event, ID, Data string
}

// followLogs opens GET …/logs?follow=true (with Last-Event-ID when
// lastEventID is set) and streams its events until the response ends;
// cancel disconnects.
func followLogs(t *testing.T, c client, job, query, lastEventID string) (events <-chan sseEvent, resp *http.Response, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.a.url+"/v1/jobs/"+job+"/logs?follow=true"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.key)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					out <- ev
				}
				ev = sseEvent{}
			default:
				// "field:value", one optional space after the colon (the SSE spec).
				field, value, _ := strings.Cut(line, ":")
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "event":
					ev.Event = value
				case "id":
					ev.ID = value
				case "data":
					ev.Data = value
				}
			}
		}
	}()
	return out, resp, cancel
}

// postLines ships lines without the test's require, for goroutines.
func postLines(agent client, run string, lines []agentapi.LogLine) error {
	body, err := json.Marshal(agentapi.LogsRequest{Lines: lines})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, agent.a.url+agentapi.RunPath(agentapi.PathRunLogs, run), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+agent.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("ship lines %d-%d: %d %s", lines[0].Seq, lines[len(lines)-1].Seq, resp.StatusCode, raw)
	}
	return nil
}

func nextEvent(t *testing.T, events <-chan sseEvent, within time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		require.True(t, ok, "the stream ended early")
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
		return sseEvent{}
	}
}

func TestSSEFollowStreamsLinesAsTheyArriveAndEndsWhenTheRunFinishes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	ackOf(t, p.agent, p.run, logLines(1, 3))

	events, resp, _ := followLogs(t, p.c, p.job, "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	shipped := make(chan error, 1)
	var seen []domain.LogLine
	for len(seen) < 3 { // the client is connected and caught up
		ev := nextEvent(t, events, 5*time.Second)
		require.Equal(t, "line", ev.Event)
		var l domain.LogLine
		require.NoError(t, json.Unmarshal([]byte(ev.Data), &l))
		assert.Equal(t, fmt.Sprint(l.Seq), ev.ID)
		seen = append(seen, l)
	}
	go func() {
		// Shipped after the client connected, a few lines at a time, as a
		// running container writes them; then the run finishes.
		for from := int64(4); from <= 60; from += 4 {
			time.Sleep(20 * time.Millisecond)
			if err := postLines(p.agent, p.run, logLines(from, from+3)); err != nil {
				shipped <- err
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
		_, err := a.st.Pool.Exec(context.Background(), `UPDATE job_runs SET state = 'completed', finished_at = now() WHERE id = $1`, p.run)
		shipped <- err
	}()
	start := time.Now()
	for {
		ev := nextEvent(t, events, 10*time.Second)
		if ev.Event == "end" {
			assert.JSONEq(t, fmt.Sprintf(`{"run_id":%q,"next_after_seq":63,"run_finished":true}`, p.run), ev.Data)
			break
		}
		require.Equal(t, "line", ev.Event, ev.Data)
		var l domain.LogLine
		require.NoError(t, json.Unmarshal([]byte(ev.Data), &l))
		seen = append(seen, l)
	}
	require.NoError(t, <-shipped)
	assert.Equal(t, wireLines(logLines(1, 63)), seen, "every line once, in order")
	assert.Less(t, time.Since(start), 8*time.Second)
	_, open := <-events
	assert.False(t, open, "the stream ends after the end event")

	// A finished run's follow sends what is left and ends at once; an
	// EventSource that reconnects resumes after its Last-Event-ID.
	events, _, _ = followLogs(t, p.c, p.job, "&after_seq=10", "60")
	assert.Equal(t, []string{"61", "62", "63", ""}, []string{nextEvent(t, events, 5*time.Second).ID,
		nextEvent(t, events, 5*time.Second).ID, nextEvent(t, events, 5*time.Second).ID, nextEvent(t, events, 5*time.Second).ID})
}

func TestSSEFollowEndsWhenTheClientDisconnects(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	listeners := func() int {
		var n int
		require.NoError(t, a.st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN `+store.RunLogsChannel+`'`).Scan(&n))
		return n
	}
	events, _, disconnect := followLogs(t, p.c, p.job, "", "")
	_, _, disconnect2 := followLogs(t, p.c, p.job, "", "")
	ackOf(t, p.agent, p.run, logLines(1, 1))
	assert.Equal(t, "line", nextEvent(t, events, 5*time.Second).Event)
	assert.Equal(t, 1, listeners(), "followers share one listening connection")

	disconnect()
	disconnect2()
	assert.Eventually(t, func() bool { return listeners() == 0 }, 5*time.Second, 50*time.Millisecond,
		"the handlers end with their clients, and the last closes the listening connection")
}

func TestMetricsSummaryIsExact(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	at := func(s int) time.Time { return logEpoch.Add(time.Duration(s) * 5 * time.Second) }
	ship := func(samples ...agentapi.MetricSample) int {
		r := p.agent.do(http.MethodPost, agentapi.RunPath(agentapi.PathRunMetrics, p.run), agentapi.MetricsRequest{Samples: samples})
		return dataOf[agentapi.MetricsResponse](t, r, http.StatusOK).Stored
	}
	read := func(query string) domain.RunMetrics {
		return getData[domain.RunMetrics](t, p.c, "/v1/jobs/"+p.job+"/metrics"+query)
	}

	empty := read("")
	assert.Equal(t, domain.RunMetrics{RunID: p.run, Samples: []domain.MetricSample{}}, empty, "no samples yet")

	// Shipped out of order and in two batches; the resent one is not new.
	assert.Equal(t, 2, ship(agentapi.MetricSample{Time: at(2), CPUPct: 90.5, MemoryBytes: 200 << 20},
		agentapi.MetricSample{Time: at(0), CPUPct: 10.25, MemoryBytes: 100 << 20}))
	assert.Equal(t, 2, ship(agentapi.MetricSample{Time: at(2), CPUPct: 1, MemoryBytes: 1},
		agentapi.MetricSample{Time: at(1), CPUPct: 50, MemoryBytes: 300 << 20},
		agentapi.MetricSample{Time: at(3), CPUPct: 33.25, MemoryBytes: 401}))
	got := read("?run=" + p.run)
	assert.Equal(t, p.run, got.RunID)
	assert.Equal(t, []domain.MetricSample{
		{Time: at(0), CPUPct: 10.25, MemoryBytes: 100 << 20},
		{Time: at(1), CPUPct: 50, MemoryBytes: 300 << 20},
		{Time: at(2), CPUPct: 90.5, MemoryBytes: 200 << 20},
		{Time: at(3), CPUPct: 33.25, MemoryBytes: 401},
	}, got.Samples)
	assert.Equal(t, domain.MetricsSummary{
		CPUPctMax: 90.5, CPUPctAvg: 46, // (10.25 + 50 + 90.5 + 33.25) / 4
		MemoryBytesMax: 300 << 20, MemoryBytesAvg: (600<<20 + 401 + 2) / 4, // rounded to a whole byte
		Samples: 4,
	}, got.Summary)
	assert.Nil(t, got.NextAfter, "one page holds them all")

	// Paged: each page is bounded, the summary is always of every sample.
	page := read("?limit=3")
	assert.Equal(t, got.Samples[:3], page.Samples)
	assert.Equal(t, got.Summary, page.Summary)
	require.NotNil(t, page.NextAfter)
	assert.Equal(t, at(2), *page.NextAfter)
	page = read("?limit=3&after=" + page.NextAfter.Format(time.RFC3339Nano))
	assert.Equal(t, got.Samples[3:], page.Samples)
	assert.Nil(t, page.NextAfter, "the last page")
	for _, bad := range []string{"?limit=0", "?limit=10001", "?after=yesterday"} {
		r := p.c.do(http.MethodGet, "/v1/jobs/"+p.job+"/metrics"+bad, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, bad)
	}
}

func TestRunOutputRoutesAreTenantIsolated(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	alpha, beta := a.newProject("alpha"), a.newProject("beta")
	pa := newPlacedRun(t, alpha, "etl")
	pb := newPlacedRun(t, beta, "etl")
	ackOf(t, pa.agent, pa.run, logLines(1, 3))

	for _, path := range []string{
		"/v1/jobs/" + pa.job + "/logs",
		"/v1/jobs/" + pa.job + "/logs?follow=true",
		"/v1/jobs/" + pa.job + "/logs?run=" + pa.run,
		"/v1/jobs/" + pa.job + "/metrics",
	} {
		r := beta.do(http.MethodGet, path, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s with another project's key: %s", path, r.Raw)
		assert.Equal(t, fmt.Sprintf("no job with id %q in this project", pa.job), r.Message)
	}
	// Nor does another project's run show under one's own job.
	for _, path := range []string{"/v1/jobs/" + pb.job + "/logs?run=" + pa.run, "/v1/jobs/" + pb.job + "/metrics?run=" + pa.run} {
		r := beta.do(http.MethodGet, path, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, r.Raw)
		assert.NotContains(t, r.Raw, "line 1")
	}
	assert.Len(t, readLogs(t, alpha, pa.job, "").Lines, 3)
}

func TestLogFollowersAreWokenByTheirRunsLinesOnly(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	q := newPlacedRun(t, a.newProject("other"), "etl")
	ctx := context.Background()
	mine, theirs := a.st.SubscribeRunLogs(ctx, p.run), a.st.SubscribeRunLogs(ctx, q.run)
	defer mine.Close()
	defer theirs.Close()
	// A new listening connection wakes everyone once, for what it may have
	// missed while it connected; that is not what this test is about.
	time.Sleep(300 * time.Millisecond)
	for _, sub := range []*store.RunLogSubscription{mine, theirs} {
		select {
		case <-sub.C:
		default:
		}
	}

	ackOf(t, p.agent, p.run, logLines(1, 2))
	select {
	case <-mine.C:
	case <-time.After(2 * time.Second):
		t.Fatal("a follower of the run was not woken by its new lines")
	}
	select {
	case <-theirs.C:
		t.Fatal("a follower of another run was woken")
	case <-time.After(200 * time.Millisecond):
	}
	ackOf(t, p.agent, p.run, logLines(1, 2))
	select {
	case <-mine.C:
		t.Fatal("a resend that stored nothing woke the follower")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestLogsOfATerminatingSpawnAreStillTaken(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	_, err := a.st.RecordSpawnTransition(context.Background(), store.SpawnTransition{SpawnID: p.spawn, State: domain.SpawnTerminating, Reason: "test", Key: "test/terminating"})
	require.NoError(t, err)
	// The run's last lines are what its user looks for.
	assert.Equal(t, int64(3), ackOf(t, p.agent, p.run, logLines(1, 3)))
	r := p.agent.do(http.MethodPost, agentapi.RunPath(agentapi.PathRunMetrics, p.run), agentapi.MetricsRequest{Samples: []agentapi.MetricSample{{Time: logEpoch, CPUPct: 1}}})
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)

	// Once the spawn is terminated its credential is dead: nothing more is taken.
	_, err = a.st.RecordSpawnTransition(context.Background(), store.SpawnTransition{SpawnID: p.spawn, State: domain.SpawnTerminated, Reason: "test", Key: "test/terminated"})
	require.NoError(t, err)
	r = p.agent.do(http.MethodPost, agentapi.RunPath(agentapi.PathRunLogs, p.run), agentapi.LogsRequest{Lines: logLines(4, 4)})
	assert.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
	r = p.agent.do(http.MethodPost, agentapi.RunPath(agentapi.PathRunMetrics, p.run), agentapi.MetricsRequest{Samples: []agentapi.MetricSample{{Time: logEpoch.Add(time.Second), CPUPct: 1}}})
	assert.Equal(t, http.StatusUnauthorized, r.Status, r.Raw)
	assert.Equal(t, 3, countWhere(a, `SELECT count(*) FROM run_logs WHERE run_id = $1`, p.run))
}

func TestSSEFollowDoesNotHoldUpAGracefulShutdown(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	ackOf(t, p.agent, p.run, logLines(1, 1))

	// The same API, served as `daestro server` serves it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() {
		served <- apiserver.New(apiserver.Options{Store: a.st, Logger: testenv.Logger(t)}).Serve(ctx, ln, 20*time.Second)
	}()
	c := p.c
	c.a = &api{t: t, url: "http://" + ln.Addr().String(), st: a.st}
	events, _, _ := followLogs(t, c, p.job, "", "")
	assert.Equal(t, "line", nextEvent(t, events, 5*time.Second).Event)

	start := time.Now()
	stop()
	select {
	case err := <-served:
		require.NoError(t, err, "a clean shutdown")
		assert.Less(t, time.Since(start), 5*time.Second, "the follower ended with the shutdown, not at the grace period's end")
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not shut down while a client followed logs")
	}
	_, open := <-events
	assert.False(t, open, "the stream ended")
}

// One API key holds a bounded number of log streams open; past it a follow
// is a 429 that says what to do, and closing a stream frees its place.
func TestSSEFollowersPerKeyAreCapped(t *testing.T) {
	t.Parallel()
	st := newTestStore(t)
	a := serveAPI(t, st, apiserver.Options{MaxFollowersPerKey: 2})
	c := a.newProject("acme")
	p := newPlacedRun(t, c, "etl")
	_, first, disconnect := followLogs(t, p.c, p.job, "", "")
	require.Equal(t, http.StatusOK, first.StatusCode)
	_, second, _ := followLogs(t, p.c, p.job, "", "")
	require.Equal(t, http.StatusOK, second.StatusCode)

	r := c.do(http.MethodGet, "/v1/jobs/"+p.job+"/logs?follow=true", nil)
	assert.Equal(t, http.StatusTooManyRequests, r.Status)
	assert.Equal(t, "this API key already follows 2 log streams, the most one key may hold open on a server: close one, or page with after_seq instead of follow=true", r.Message)
	assert.Equal(t, http.StatusOK, c.do(http.MethodGet, "/v1/jobs/"+p.job+"/logs", nil).Status, "paging is not capped")

	other := a.newProject("beta")
	q := newPlacedRun(t, other, "etl")
	_, resp, _ := followLogs(t, q.c, q.job, "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "another key has streams of its own")

	disconnect()
	assert.Eventually(t, func() bool {
		_, resp, stop := followLogs(t, p.c, p.job, "", "")
		defer stop()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 50*time.Millisecond, "a closed stream frees its place")
}

// A run's log is bounded: past the cap one line says so, later lines are
// acknowledged (the agent forgets them and the run goes on) but not stored.
func TestRunLogIsCappedWithOneTruncationLine(t *testing.T) {
	t.Parallel()
	st := newTestStore(t)
	st.RunLogCapBytes = 1 << 20
	a := serveAPI(t, st, apiserver.Options{})
	p := newPlacedRun(t, a.newProject("acme"), "etl")
	big := strings.Repeat("x", 60<<10) // 60 KiB a line: 17 fit in 1 MiB, the 18th crosses it
	var lines []agentapi.LogLine
	for i := int64(1); i <= 20; i++ {
		lines = append(lines, agentapi.LogLine{Seq: i, Stream: agentapi.StreamStdout, Time: logEpoch, Text: big})
	}
	assert.Equal(t, int64(10), ackOf(t, p.agent, p.run, lines[:10]))
	assert.Equal(t, int64(20), ackOf(t, p.agent, p.run, lines[10:]), "every line is acknowledged, stored or not")
	assert.Equal(t, int64(22), ackOf(t, p.agent, p.run, []agentapi.LogLine{
		{Seq: 21, Stream: agentapi.StreamStdout, Time: logEpoch, Text: "late"}, {Seq: 22, Stream: agentapi.StreamStdout, Time: logEpoch, Text: "later"}}))

	page := readLogs(t, p.c, p.job, "")
	require.Len(t, page.Lines, 18, "17 lines under the cap, then the truncation line")
	for _, l := range page.Lines[:17] {
		assert.Equal(t, big, l.Text)
	}
	assert.Equal(t, int64(18), page.Lines[17].Seq)
	assert.Equal(t, "[daestro] log truncated: this run's output passed the 1 MiB log limit; later lines are not stored (the run goes on)", page.Lines[17].Text)
}

// The runs an agent reports in its ping are shown on its spawn only when
// they were placed there: a run of another spawn (or an ID it made up) is
// not listed, whatever the agent says.
func TestAgentReportedRunsAreOnlyItsOwn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	own := newPlacedRun(t, c, "own")
	other := newPlacedRun(t, c, "other")
	foreign := newPlacedRun(t, a.newProject("rival"), "rival")
	r := own.agent.do(http.MethodPost, agentapi.PathPing, agentapi.PingRequest{CapacityCPUPct: 100, CapacityMemoryMB: 100,
		RunningRuns: []string{own.run, other.run, foreign.run, "made-up"}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, []string{own.run}, getSpawn(t, c, own.spawn).AgentRuns)
}
