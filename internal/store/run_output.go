package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"daestro/internal/agentapi"
	"daestro/internal/domain"
)

// RunLogsChannel is the Postgres NOTIFY channel that carries the ID of a run
// whenever lines of it were stored. Anything else that changes what a
// follower of a run's logs sees (the run finishing) may notify it too, so
// followers react at once instead of at their next re-check.
const RunLogsChannel = "run_logs"

// stretchAckPage is how many stored lines above the acknowledged prefix one
// query reads while extending the prefix.
const stretchAckPage = 1000

func noRunOnSpawn(runID string) error {
	return domain.Errorf(domain.ENOTFOUND, "no run %s on this compute spawn", runID)
}

func outputJobNotFound(jobID string) error {
	return domain.Errorf(domain.ENOTFOUND, "no job with id %q in this project", jobID)
}

// runOnSpawn checks that the run was placed on the spawn, in the spawn's
// own project, and has not finished: an agent may write the output of its
// own live runs only.
func runOnSpawn(ctx context.Context, q querier, spawnID, runID string) error {
	if !validUUID(runID) {
		return noRunOnSpawn(runID)
	}
	var state domain.JobState
	err := q.QueryRow(ctx, `SELECT r.state FROM job_runs r JOIN compute_spawns s ON s.id = r.compute_spawn_id
		WHERE r.id = $1 AND r.compute_spawn_id = $2 AND r.project_id = s.project_id`, runID, spawnID).Scan(&state)
	if isNoRows(err) {
		return noRunOnSpawn(runID)
	}
	if err == nil && state.IsFinal() {
		return domain.Errorf(domain.ECONFLICT, "run %s is %s: its output is closed", runID, state)
	}
	return err
}

// AppendRunLogs stores lines of a run the spawn runs, keeping the lines
// already stored (a resend changes nothing), wakes the run's followers, and
// returns the acknowledgement: the highest N such that lines 1..N are all
// stored.
func (s *Store) AppendRunLogs(ctx context.Context, spawnID, runID string, lines []agentapi.LogLine) (int64, error) {
	var acked int64
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := runOnSpawn(ctx, tx, spawnID, runID); err != nil {
			return err
		}
		// Sensitive env values never reach stored logs (nor so any reader):
		// a container that echoes one has it replaced with ***. Only after
		// the check above: another spawn's run is not even opened.
		secrets, err := s.runSensitiveValues(ctx, tx, runID)
		if err != nil {
			return err
		}
		mask := domain.NewSecretMasker(secrets)
		lines = slices.Clone(lines)
		for i := range lines {
			lines[i].Text = mask.Mask(lines[i].Text)
		}
		// One batch of a run at a time: a batch computes the acknowledged
		// prefix from the rows it sees, and must see the previous batch's.
		// (A retried request may overlap the one it retries.)
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('run_logs:' || $1::text, 0))`, runID); err != nil {
			return err
		}
		prev, err := ackedSeq(ctx, tx, runID)
		if err != nil {
			return err
		}
		var dropped int64 // the highest seq dropped past the run's log cap
		if lines, dropped, err = s.capRunLogs(ctx, tx, runID, prev, lines); err != nil {
			return err
		}
		defer func() { acked = max(acked, dropped) }()
		sorted := make([]int64, len(lines))
		for i, l := range lines {
			sorted[i] = l.Seq
		}
		slices.Sort(sorted)
		if acked, err = stretchAck(ctx, tx, runID, prev, sorted); err != nil {
			return err
		}
		if len(lines) == 0 {
			return nil
		}
		var (
			seqs     = make([]int64, len(lines))
			streams  = make([]string, len(lines))
			ats      = make([]time.Time, len(lines))
			texts    = make([]string, len(lines))
			partials = make([]bool, len(lines))
		)
		for i, l := range lines {
			seqs[i], streams[i], ats[i], partials[i] = l.Seq, l.Stream, l.Time, l.Partial
			// Postgres text cannot hold NUL, and a container may well print one.
			texts[i] = strings.ReplaceAll(l.Text, "\x00", "\uFFFD")
		}
		tag, err := tx.Exec(ctx, `INSERT INTO run_logs (run_id, seq, stream, at, line, partial, contiguous)
			SELECT $1, u.seq, u.stream, u.at, u.line, u.partial, u.seq <= $7
			FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::boolean[]) AS u(seq, stream, at, line, partial)
			ON CONFLICT (run_id, seq) DO NOTHING`, runID, seqs, streams, ats, texts, partials, acked)
		if err != nil {
			return err
		}
		// Lines stored earlier (above a gap this batch filled, or resent)
		// join the prefix too. When this batch alone inserted the whole new
		// part of the prefix — an agent shipping in order — there are none.
		distinct, inPrefix := int64(0), int64(0)
		for i, seq := range sorted {
			if i == 0 || seq != sorted[i-1] {
				distinct++
				if seq > prev && seq <= acked {
					inPrefix++
				}
			}
		}
		if acked > prev && (tag.RowsAffected() != distinct || inPrefix != acked-prev) {
			if _, err := tx.Exec(ctx, `UPDATE run_logs SET contiguous = true
				WHERE run_id = $1 AND seq > $2 AND seq <= $3 AND NOT contiguous`, runID, prev, acked); err != nil {
				return err
			}
		}
		if tag.RowsAffected() > 0 {
			// Delivered at commit, so a woken follower finds the lines.
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, RunLogsChannel, runID); err != nil {
				return err
			}
		}
		return nil
	})
	return acked, err
}

// DefaultRunLogCapBytes bounds what one run's log may take in Postgres.
const DefaultRunLogCapBytes = 100 << 20

// capRunLogs applies the run's log cap to a batch: lines past the cap are
// dropped, the first of them replaced by one line that says so, and the
// run goes on (the agent's lines are acknowledged all the same, so it
// forgets them). Bytes are counted for lines above the acknowledged prefix
// prev, so a resend is not counted twice (a resend above a gap may be).
// It returns the lines to store and the highest seq it dropped (0: none).
func (s *Store) capRunLogs(ctx context.Context, tx pgx.Tx, runID string, prev int64, lines []agentapi.LogLine) ([]agentapi.LogLine, int64, error) {
	limit := s.RunLogCapBytes
	if limit <= 0 {
		limit = DefaultRunLogCapBytes
	}
	var (
		used      int64
		truncated bool
	)
	if err := tx.QueryRow(ctx, `SELECT log_bytes, log_truncated FROM job_runs WHERE id = $1 FOR UPDATE`, runID).Scan(&used, &truncated); err != nil {
		return nil, 0, err
	}
	ordered := slices.Clone(lines)
	slices.SortStableFunc(ordered, func(a, b agentapi.LogLine) int { return cmp.Compare(a.Seq, b.Seq) })
	var (
		keep    = make([]agentapi.LogLine, 0, len(ordered))
		dropped int64
		added   int64
		nowCut  bool
	)
	for _, l := range ordered {
		switch {
		case truncated:
			dropped = max(dropped, l.Seq)
		case l.Seq > prev && used+added+int64(len(l.Text)) > limit:
			truncated, nowCut = true, true
			keep = append(keep, agentapi.LogLine{Seq: l.Seq, Stream: agentapi.StreamStderr, Time: l.Time,
				Text: fmt.Sprintf("[daestro] log truncated: this run's output passed the %d MiB log limit; later lines are not stored (the run goes on)", limit>>20)})
			dropped = max(dropped, l.Seq)
		default:
			if l.Seq > prev {
				added += int64(len(l.Text))
			}
			keep = append(keep, l)
		}
	}
	if added > 0 || nowCut {
		if _, err := tx.Exec(ctx, `UPDATE job_runs SET log_bytes = log_bytes + $2, log_truncated = log_truncated OR $3 WHERE id = $1`,
			runID, added, nowCut); err != nil {
			return nil, 0, err
		}
	}
	return keep, dropped, nil
}

// RunLogsAcked is the Seq up to which the run's lines 1..N are all stored:
// where a reader of its container resumes.
func (s *Store) RunLogsAcked(ctx context.Context, runID string) (int64, error) {
	return ackedSeq(ctx, s.Pool, runID)
}

// ackedSeq is the top of the run's contiguous prefix (0 when line 1 is missing).
func ackedSeq(ctx context.Context, q querier, runID string) (int64, error) {
	var seq int64
	err := q.QueryRow(ctx, `SELECT seq FROM run_logs WHERE run_id = $1 AND contiguous ORDER BY seq DESC LIMIT 1`, runID).Scan(&seq)
	if isNoRows(err) {
		return 0, nil
	}
	return seq, err
}

// stretchAck extends the contiguous prefix 1..acked over the batch's seqs
// (sorted) and the lines already stored above it, and returns its new top.
// It reads only what lies above the prefix — nothing at all in the usual
// case of an agent shipping in order — so a batch costs the same on the
// millionth line as on the first.
func stretchAck(ctx context.Context, tx pgx.Tx, runID string, acked int64, batch []int64) (int64, error) {
	var (
		stored   []int64
		j        int
		moreRows = true
	)
	for {
		for len(batch) > 0 && batch[0] <= acked {
			batch = batch[1:]
		}
		if len(batch) > 0 && batch[0] == acked+1 {
			acked++
			continue
		}
		for j < len(stored) && stored[j] <= acked {
			j++
		}
		if j == len(stored) && moreRows {
			rows, err := tx.Query(ctx, `SELECT seq FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
				runID, acked, stretchAckPage)
			if err != nil {
				return 0, err
			}
			if stored, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				return 0, err
			}
			j, moreRows = 0, len(stored) == stretchAckPage
		}
		if j < len(stored) && stored[j] == acked+1 {
			acked++
			continue
		}
		return acked, nil
	}
}

// AppendRunMetrics stores samples of a run the spawn runs, keeping samples
// already stored, and returns how many were new.
func (s *Store) AppendRunMetrics(ctx context.Context, spawnID, runID string, samples []agentapi.MetricSample) (int, error) {
	if err := runOnSpawn(ctx, s.Pool, spawnID, runID); err != nil {
		return 0, err
	}
	if len(samples) == 0 {
		return 0, nil
	}
	ats := make([]time.Time, len(samples))
	cpus := make([]float64, len(samples))
	mems := make([]int64, len(samples))
	for i, m := range samples {
		ats[i], cpus[i], mems[i] = m.Time, m.CPUPct, m.MemoryBytes
	}
	tag, err := s.Pool.Exec(ctx, `INSERT INTO run_metrics (run_id, at, cpu_pct, memory_bytes)
		SELECT $1, u.at, u.cpu_pct, u.memory_bytes
		FROM unnest($2::timestamptz[], $3::double precision[], $4::bigint[]) AS u(at, cpu_pct, memory_bytes)
		ON CONFLICT (run_id, at) DO NOTHING`, runID, ats, cpus, mems)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// JobRunForOutput resolves the run whose output a request about job jobID
// of the project reads: runID when given (it must be one of the job's
// runs), else the job's current run, else its latest.
func (s *Store) JobRunForOutput(ctx context.Context, projectID, ref, runID string) (string, error) {
	jobID, ok := domain.ResolveJobID(ref)
	if !ok {
		return "", outputJobNotFound(ref)
	}
	var (
		state  string
		latest *string
	)
	err := s.Pool.QueryRow(ctx, `SELECT j.state, coalesce(j.current_run_id,
			(SELECT r.id FROM job_runs r WHERE r.job_id = j.id ORDER BY r.attempt DESC LIMIT 1))::text
		FROM jobs j WHERE j.project_id = $1 AND j.id = $2`, projectID, jobID).Scan(&state, &latest)
	if isNoRows(err) {
		return "", outputJobNotFound(ref)
	}
	if err != nil {
		return "", err
	}
	if runID == "" {
		if latest == nil {
			return "", domain.Errorf(domain.ECONFLICT, "job %s has no run yet (it is %s): its logs and metrics appear once it is placed on a compute spawn", ref, state)
		}
		return *latest, nil
	}
	var one int
	if validUUID(runID) {
		err = s.Pool.QueryRow(ctx, `SELECT 1 FROM job_runs WHERE id = $1 AND job_id = $2`, runID, jobID).Scan(&one)
	}
	if !validUUID(runID) || isNoRows(err) {
		return "", domain.Errorf(domain.ENOTFOUND, "run: job %s has no run %q; leave run out for the job's current run", ref, runID)
	}
	return runID, err
}

// logLineRow is one row of run_logs as readers see it.
type logLineRow struct {
	Seq     int64     `db:"seq"`
	Stream  string    `db:"stream"`
	At      time.Time `db:"at"`
	Line    string    `db:"line"`
	Partial bool      `db:"partial"`
}

func (r logLineRow) logLine() domain.LogLine {
	return domain.LogLine{Seq: r.Seq, Stream: r.Stream, Time: r.At.UTC(), Text: r.Line, Partial: r.Partial}
}

// metricSampleRow is one row of run_metrics.
type metricSampleRow struct {
	At          time.Time `db:"at"`
	CPUPct      float64   `db:"cpu_pct"`
	MemoryBytes int64     `db:"memory_bytes"`
}

func (r metricSampleRow) metricSample() domain.MetricSample {
	return domain.MetricSample{Time: r.At.UTC(), CPUPct: r.CPUPct, MemoryBytes: r.MemoryBytes}
}

// ReadRunLogs returns a page of the run's lines after q.AfterSeq. While the
// run lasts only its contiguous prefix is shown: a reader that pages on
// with NextAfterSeq never skips a line that arrives late. Once it has
// finished every stored line is shown. Once the project's retention
// deleted them it is EGONE, with when.
func (s *Store) ReadRunLogs(ctx context.Context, runID string, q domain.LogQuery) (domain.RunLogs, error) {
	out := domain.RunLogs{RunID: runID, NextAfterSeq: q.AfterSeq}
	// Finished is read first: every line stored before the run finished is
	// then visible to the read below, so "finished and a short page" means
	// the end.
	// A purged run's logs are EGONE, not an empty page.
	var err error
	if out.RunFinished, err = runOutputKept(ctx, s.Pool, runID); err != nil {
		return out, err
	}
	rows, err := s.Pool.Query(ctx, `SELECT seq, stream, at, line, partial FROM run_logs
		WHERE run_id = $1 AND seq > $2 AND (contiguous OR $3) ORDER BY seq LIMIT $4`, runID, q.AfterSeq, out.RunFinished, q.Limit)
	if err != nil {
		return out, err
	}
	out.Lines, err = pgx.CollectRows(rows, byName(logLineRow.logLine))
	if err != nil {
		return out, err
	}
	if out.Lines == nil {
		out.Lines = []domain.LogLine{}
	}
	if n := len(out.Lines); n > 0 {
		out.NextAfterSeq = out.Lines[n-1].Seq
	}
	return out, nil
}

// RunMetrics returns every sample of the run, in time order, with their
// summary; EGONE once the project's retention deleted them.
func (s *Store) RunMetrics(ctx context.Context, runID string, q domain.MetricsQuery) (domain.RunMetrics, error) {
	if _, err := runOutputKept(ctx, s.Pool, runID); err != nil {
		return domain.RunMetrics{}, err
	}
	// Every sample is read for the summary (three narrow columns); only the
	// page is answered.
	rows, err := s.Pool.Query(ctx, `SELECT at, cpu_pct, memory_bytes FROM run_metrics WHERE run_id = $1 ORDER BY at`, runID)
	if err != nil {
		return domain.RunMetrics{}, err
	}
	samples, err := pgx.CollectRows(rows, byName(metricSampleRow.metricSample))
	if err != nil {
		return domain.RunMetrics{}, err
	}
	out := domain.RunMetrics{RunID: runID, Summary: domain.SummarizeMetrics(samples)}
	first := 0
	if q.After != nil {
		first, _ = slices.BinarySearchFunc(samples, *q.After, func(m domain.MetricSample, t time.Time) int {
			if m.Time.After(t) {
				return 1
			}
			return -1
		})
	}
	end := min(first+q.Limit, len(samples))
	out.Samples = slices.Clone(samples[first:end])
	if out.Samples == nil {
		out.Samples = []domain.MetricSample{}
	}
	if end < len(samples) {
		next := samples[end-1].Time
		out.NextAfter = &next
	}
	return out, nil
}

// Waiting for log lines. Every follower of a run's logs would otherwise
// hold a Postgres connection of its own for as long as it follows; instead
// one listening connection per Store, opened beside the pool (LISTEN must
// keep its connection, and followers must not starve the pool), fans the
// notifications out. It runs while someone follows and closes with the
// last follower, so an idle server holds no extra connection.

// feedReadyWait bounds how long a new subscription waits for the listening
// connection; a follower that proceeds without it still sees every line
// through its periodic re-check.
const feedReadyWait = 5 * time.Second

// logFeed is the listening connection of one Store (Store.feed) and its
// subscriptions.
type logFeed struct {
	store *Store
	// subs are the subscriptions by run ID; guarded by store.feedMu.
	subs   map[string]map[*RunLogSubscription]struct{}
	cancel context.CancelFunc
	// ready is closed once the first LISTEN was tried; done once run returned.
	ready, done chan struct{}
}

// RunLogSubscription wakes a follower of a run's logs when lines of the run
// are stored.
type RunLogSubscription struct {
	// C receives when lines were stored since the last receive (several
	// batches wake it once), and when the feed reconnected after losing its
	// connection, as notifications may have been missed meanwhile.
	C <-chan struct{}

	c     chan struct{}
	feed  *logFeed
	runID string
	once  sync.Once
}

// SubscribeRunLogs starts waking the caller on new lines of runID. Subscribe
// before reading the lines: a batch stored after the read then wakes C.
// Close ends the subscription.
func (s *Store) SubscribeRunLogs(ctx context.Context, runID string) *RunLogSubscription {
	c := make(chan struct{}, 1)
	s.feedMu.Lock()
	f := s.feed
	if f == nil {
		f = &logFeed{store: s, subs: map[string]map[*RunLogSubscription]struct{}{}, ready: make(chan struct{}), done: make(chan struct{})}
		var runCtx context.Context
		runCtx, f.cancel = context.WithCancel(context.Background())
		go f.run(runCtx)
		s.feed = f
	}
	sub := &RunLogSubscription{C: c, c: c, feed: f, runID: runID}
	if f.subs[runID] == nil {
		f.subs[runID] = map[*RunLogSubscription]struct{}{}
	}
	f.subs[runID][sub] = struct{}{}
	s.feedMu.Unlock()

	t := time.NewTimer(feedReadyWait)
	defer t.Stop()
	select {
	case <-f.ready:
	case <-ctx.Done():
	case <-t.C:
	}
	return sub
}

// Close ends the subscription; the last one closes the listening connection.
func (sub *RunLogSubscription) Close() {
	sub.once.Do(func() {
		f, s := sub.feed, sub.feed.store
		s.feedMu.Lock()
		delete(f.subs[sub.runID], sub)
		if len(f.subs[sub.runID]) == 0 {
			delete(f.subs, sub.runID)
		}
		last := len(f.subs) == 0 && s.feed == f
		if last {
			s.feed = nil
		}
		s.feedMu.Unlock()
		if last {
			f.cancel()
			<-f.done
		}
	})
}

// run keeps a LISTEN connection until ctx ends, reconnecting with backoff.
func (f *logFeed) run(ctx context.Context) {
	defer close(f.done)
	var readyOnce sync.Once
	ready := func() { readyOnce.Do(func() { close(f.ready) }) }
	backoff := 100 * time.Millisecond
	for {
		listened := f.listen(ctx, ready)
		ready()
		if ctx.Err() != nil {
			return
		}
		if listened {
			backoff = 100 * time.Millisecond
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen connects, listens and fans notifications out until an error or
// ctx ends; it reports whether LISTEN took effect.
func (f *logFeed) listen(ctx context.Context, ready func()) bool {
	conn, err := pgx.ConnectConfig(ctx, f.store.Pool.Config().ConnConfig)
	if err != nil {
		return false
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+RunLogsChannel); err != nil {
		return false
	}
	ready()
	// Lines stored while there was no listening connection woke no one.
	f.wake("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true
		}
		f.wake(n.Payload)
	}
}

// wake signals the subscriptions of runID, or all of them when runID is "".
func (f *logFeed) wake(runID string) {
	f.store.feedMu.Lock()
	defer f.store.feedMu.Unlock()
	signal := func(subs map[*RunLogSubscription]struct{}) {
		for sub := range subs {
			select {
			case sub.c <- struct{}{}:
			default: // already pending: one wake-up covers both
			}
		}
	}
	if runID != "" {
		signal(f.subs[runID])
		return
	}
	for _, subs := range f.subs {
		signal(subs)
	}
}
