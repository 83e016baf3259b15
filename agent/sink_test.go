package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/agent"
	"daestro/agent/executor"
	"daestro/apiserver"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

// sinkServer is the real API over a fresh database, with one job whose run
// is placed on a self-hosted spawn.
type sinkServer struct {
	url, apiKey, token string
	job, run           string
}

func newSinkServer(t *testing.T) sinkServer {
	t.Helper()
	ctx := context.Background()
	st := testenv.SealingStore(t)
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Store: st, Logger: testenv.Logger(t)}).Handler())
	t.Cleanup(srv.Close)

	p, err := st.CreateProject(ctx, "acme", "")
	require.NoError(t, err)
	_, apiKey, err := st.CreateAPIKey(ctx, p.ID, "test")
	require.NoError(t, err)
	env, queue, def := store.NewID(), store.NewID(), store.NewID()
	s := sinkServer{url: srv.URL, apiKey: apiKey, job: store.NewID(), run: store.NewID()}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO compute_envs (id, project_id, name, kind) VALUES ($1, $2, 'boxes', 'selfhosted')`, []any{env, p.ID}},
		{`INSERT INTO job_queues (id, project_id, name, priority, enabled) VALUES ($1, $2, 'etl', 10, true)`, []any{queue, p.ID}},
		{`INSERT INTO job_queue_compute_envs (job_queue_id, compute_env_id) VALUES ($1, $2)`, []any{queue, env}},
		{`INSERT INTO job_definitions (id, project_id, name, version, type, image) VALUES ($1, $2, 'etl', 1, 'docker', 'busybox:1')`, []any{def, p.ID}},
	} {
		_, err := st.Pool.Exec(ctx, q.sql, q.args...)
		require.NoError(t, err, q.sql)
	}
	sp, token, err := st.CreateSelfHostedSpawn(ctx, p.ID, domain.ComputeSpawnInput{ComputeEnvID: env, JobQueueID: queue},
		func(context.Context, domain.ComputeSpawn) error { return nil })
	require.NoError(t, err)
	// Registration exchanges the one-time bootstrap token for the agent's credential.
	sess, err := st.AuthenticateAgentToken(ctx, token)
	require.NoError(t, err)
	s.token, err = st.ExchangeBootstrapToken(ctx, sess)
	require.NoError(t, err)
	_, err = st.Pool.Exec(ctx, `INSERT INTO jobs (id, project_id, job_queue_id, job_definition_id, name, state, current_run_id)
		VALUES ($1, $2, $3, $4, 'nightly', 'running', $5)`, s.job, p.ID, queue, def, s.run)
	require.NoError(t, err)
	_, err = st.Pool.Exec(ctx, `INSERT INTO job_runs (id, job_id, project_id, attempt, state, compute_spawn_id)
		VALUES ($1, $2, $3, 1, 'running', $4)`, s.run, s.job, p.ID, sp.ID)
	require.NoError(t, err)
	return s
}

// get reads a user API route with the project's key into out.
func (s sinkServer) get(t *testing.T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var env struct {
		OK      bool            `json:"ok"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	require.True(t, env.OK, "GET %s: %d %s", path, resp.StatusCode, env.Message)
	require.NoError(t, json.Unmarshal(env.Data, out))
}

// allLines pages through the run's lines as a user would.
func (s sinkServer) allLines(t *testing.T) []domain.LogLine {
	t.Helper()
	var out []domain.LogLine
	for after := int64(0); ; {
		var page domain.RunLogs
		s.get(t, fmt.Sprintf("/v1/jobs/%s/logs?after_seq=%d&limit=5000", s.job, after), &page)
		if len(page.Lines) == 0 {
			return out
		}
		out = append(out, page.Lines...)
		after = page.NextAfterSeq
	}
}

var sinkEpoch = time.Date(2026, 11, 29, 8, 30, 0, 0, time.UTC)

func executorLines(from, to int64) []executor.LogLine {
	var out []executor.LogLine
	for i := from; i <= to; i++ {
		stream := "stdout"
		if i%5 == 0 {
			stream = "stderr"
		}
		out = append(out, executor.LogLine{Seq: i, Stream: stream, Time: sinkEpoch.Add(time.Duration(i) * time.Millisecond),
			Text: fmt.Sprintf("step %d done", i), Partial: i%11 == 0})
	}
	return out
}

// shown is what a user reads for lines the executor shipped.
func shown(in []executor.LogLine) []domain.LogLine {
	out := make([]domain.LogLine, len(in))
	for i, l := range in {
		out[i] = domain.LogLine{Seq: l.Seq, Stream: l.Stream, Time: l.Time, Text: l.Text, Partial: l.Partial}
	}
	return out
}

func TestHTTPSinkRoundTripsLinesAndSamplesThroughTheServer(t *testing.T) {
	t.Parallel()
	s := newSinkServer(t)
	sink := agent.NewHTTPSink(s.url, s.token)
	ctx := context.Background()

	lines := executorLines(1, 7000)
	// A full-length piece of binary output: valid UTF-8 after the trip,
	// and still within the server's bound on a line.
	lines[41].Text = strings.Repeat("a\xff", executor.MaxLineBytes/2)
	lines[42].Text = "\xfe\xff binary"
	require.NoError(t, sink.ShipLogs(ctx, s.run, lines[:500]))
	require.NoError(t, sink.ShipLogs(ctx, s.run, lines[500:1000]))
	require.NoError(t, sink.ShipLogs(ctx, s.run, lines[400:600]), "a resend after a retry is harmless")
	require.NoError(t, sink.ShipLogs(ctx, s.run, lines[1000:]), "more than one request's worth is split")

	want := shown(lines)
	want[41].Text = strings.Repeat("a?", executor.MaxLineBytes/2)
	want[42].Text = "\uFFFD binary"
	assert.Equal(t, want, s.allLines(t))

	samples := []executor.Metric{
		{Time: sinkEpoch, CPUPct: 12.5, MemoryBytes: 64 << 20},
		{Time: sinkEpoch.Add(5 * time.Second), CPUPct: 87.5, MemoryBytes: 128 << 20},
	}
	require.NoError(t, sink.ShipMetrics(ctx, s.run, samples))
	require.NoError(t, sink.ShipMetrics(ctx, s.run, samples), "a resend is harmless")
	var m domain.RunMetrics
	s.get(t, "/v1/jobs/"+s.job+"/metrics", &m)
	assert.Equal(t, []domain.MetricSample{
		{Time: sinkEpoch, CPUPct: 12.5, MemoryBytes: 64 << 20},
		{Time: sinkEpoch.Add(5 * time.Second), CPUPct: 87.5, MemoryBytes: 128 << 20},
	}, m.Samples)
	assert.Equal(t, domain.MetricsSummary{CPUPctMax: 87.5, CPUPctAvg: 50, MemoryBytesMax: 128 << 20, MemoryBytesAvg: 96 << 20, Samples: 2}, m.Summary)
}

func TestHTTPSinkTellsRejectionFromTrouble(t *testing.T) {
	t.Parallel()
	s := newSinkServer(t)
	ctx := context.Background()
	sink := agent.NewHTTPSink(s.url, s.token)

	other := store.NewID()
	err := sink.ShipLogs(ctx, other, executorLines(1, 3))
	require.ErrorIs(t, err, agent.ErrRejected, "no retry makes another spawn's run this spawn's")
	assert.Contains(t, err.Error(), "no run "+other+" on this compute spawn")
	assert.ErrorIs(t, sink.ShipMetrics(ctx, other, []executor.Metric{{Time: sinkEpoch}}), agent.ErrRejected)

	// Lines above a gap are stored, but the executor must not move its
	// cursor past lines the server does not have.
	err = sink.ShipLogs(ctx, s.run, executorLines(4, 6))
	require.Error(t, err)
	assert.NotErrorIs(t, err, agent.ErrRejected, "a retried run resends from its last acknowledged line")
	assert.Contains(t, err.Error(), "the server holds lines 1-0 only")
	require.NoError(t, sink.ShipLogs(ctx, s.run, executorLines(1, 3)))
	assert.Len(t, s.allLines(t), 6)

	// A server that does not answer is trouble, to be retried.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	err = agent.NewHTTPSink(down.URL, s.token).ShipLogs(ctx, s.run, executorLines(7, 7))
	require.Error(t, err)
	assert.NotErrorIs(t, err, agent.ErrRejected)
}
