package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"daestro/client"
)

func parseUUID(s string) (uuid.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return u, fmt.Errorf("%q is not an ID", s)
	}
	return u, nil
}

// runOf is the run --run names: an attempt number or a run ID ("" = the
// current run).
func (s *session) runOf(jobID, run string) (*uuid.UUID, error) {
	if run == "" {
		return nil, nil
	}
	if isID(run) {
		u, err := parseUUID(run)
		return &u, err
	}
	n, err := strconv.Atoi(run)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("--run %q: give an attempt number (1, 2, …) or a run ID", run)
	}
	j, err := as[client.JobDetail](s.data(s.api.GetJob(s.ctx, jobID)))
	if err != nil {
		return nil, err
	}
	for _, r := range deref(j.Runs) {
		if r.Attempt != nil && *r.Attempt == n && r.Id != nil {
			u := *r.Id
			return &u, nil
		}
	}
	return nil, fmt.Errorf("job %s has no attempt %d: it has %d", jobID, n, len(deref(j.Runs)))
}

func jobLogsCmd() *cobra.Command {
	var (
		follow bool
		run    string
	)
	cmd := verb("logs JOB", "print (or follow) a job run's log",
		`Prints a job run's log lines: stdout lines on stdout, stderr lines on stderr
(sensitive values show as ***). --run picks an earlier run (attempt number or
run ID); -f follows the run until it ends. With -o json or yaml every line is
the API's line object (JSON: one per line).`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.jobID(args[0])
			if err != nil {
				return err
			}
			runID, err := s.runOf(id, run)
			if err != nil {
				return err
			}
			if follow {
				return s.streamLogs(id, runID, 0, nil)
			}
			var after int64
			for {
				p, err := as[client.RunLogs](s.data(s.api.GetJobLogs(s.ctx, id, &client.GetJobLogsParams{Run: runID, AfterSeq: &after, Limit: ptr(5000)})))
				if err != nil {
					return err
				}
				for _, l := range deref(p.Lines) {
					if err := s.printLine(l); err != nil {
						return err
					}
				}
				if len(deref(p.Lines)) == 0 || p.NextAfterSeq == nil {
					return nil
				}
				after = *p.NextAfterSeq
			}
		})
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the run's log until the run ends")
	cmd.Flags().StringVar(&run, "run", "", "an earlier run: its attempt number (1, 2, …) or run ID (default: the current run)")
	return cmd
}

// printLine writes one log line where its stream went, or as the API's
// object with -o json/yaml.
func (s *session) printLine(l client.LogLine) error {
	switch s.format {
	case "json":
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	case "yaml":
		b, _ := json.Marshal([]client.LogLine{l})
		return printRaw(s.out, "yaml", b)
	}
	w := s.out
	if str(l.Stream) == "stderr" {
		w = s.errOut
	}
	end := "\n"
	if l.Partial != nil && *l.Partial {
		end = ""
	}
	_, err := fmt.Fprint(w, str(l.Text)+end)
	return err
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	event, id, data string
}

// readSSE calls on for every event of r until r ends or on says stop.
// Fields are "name:value" with one optional space after the colon;
// comment lines (":…", the server's keep-alives) are skipped.
func readSSE(r io.Reader, on func(sseEvent) (stop bool, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if ev.data != "" || ev.event != "" {
				if ev.event == "" {
					ev.event = "message"
				}
				stop, err := on(ev)
				if stop || err != nil {
					return err
				}
			}
			ev = sseEvent{}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.event = value
		case "id":
			ev.id = value
		case "data":
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += value
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// errStreamCut is a stream that ended without its end event.
var errStreamCut = errors.New("the log stream ended early")

// streamLogs follows the run's log (the current run when runID is nil)
// after seq `after`, printing every line, until the server says the run
// ended; a cut stream is resumed after the last line printed. first, when
// set, runs before the first line is printed.
func (s *session) streamLogs(jobID string, runID *uuid.UUID, after int64, first func()) error {
	failures := 0
	for {
		err := s.streamOnce(jobID, runID, &after, &first)
		if err == nil {
			return nil
		}
		if s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.status != http.StatusServiceUnavailable && ae.status != http.StatusBadGateway {
			return err
		}
		if failures++; failures > 30 {
			return fmt.Errorf("following the log of job %s: %w", jobID, err)
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// streamOnce is one connection of streamLogs.
func (s *session) streamOnce(jobID string, runID *uuid.UUID, after *int64, first *func()) error {
	resp, err := s.stream.GetJobLogs(s.ctx, jobID, &client.GetJobLogsParams{Run: runID, AfterSeq: after, Follow: ptr(true)})
	if err != nil {
		return fmt.Errorf("cannot reach the daestro API at %s: %w", s.url, unwrapURLError(err))
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		_, err := s.data(resp, nil) // the envelope of a refusal
		if err == nil {
			err = fmt.Errorf("%s answered the log stream with %s, not events", s.url, resp.Header.Get("Content-Type"))
		}
		return err
	}
	defer resp.Body.Close()
	err = readSSE(resp.Body, func(ev sseEvent) (bool, error) {
		switch ev.event {
		case "line":
			var l client.LogLine
			if err := json.Unmarshal([]byte(ev.data), &l); err != nil {
				return true, fmt.Errorf("a log event does not read as a line: %w", err)
			}
			if *first != nil {
				(*first)()
				*first = nil
			}
			if l.Seq != nil {
				*after = *l.Seq
			}
			return false, s.printLine(l)
		case "end":
			return true, nil
		case "error":
			var m struct{ Message string }
			_ = json.Unmarshal([]byte(ev.data), &m)
			return true, &apiError{status: http.StatusServiceUnavailable, message: m.Message}
		}
		return false, nil
	})
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &apiError{status: http.StatusServiceUnavailable, message: errStreamCut.Error()}
	}
	return err
}

// followJob streams the run's log until the job ends, showing the job's
// state on a terminal until the first line, and ends with the job's outcome.
func (s *session) followJob(jobID, runID string) error {
	var run *uuid.UUID
	if runID != "" {
		u, err := parseUUID(runID)
		if err != nil {
			return err
		}
		run = &u
	}
	sp := s.startSpinner()
	// Until the first line, the job's state and why it waits are news.
	done := make(chan struct{})
	var once sync.Once
	stopWatching := func() { once.Do(func() { close(done); sp.stop() }) }
	defer stopWatching()
	if sp != nil {
		go func() {
			for {
				if j, err := as[client.JobDetail](s.data(s.api.GetJob(s.ctx, jobID))); err == nil {
					sp.set(progressText(j))
				}
				select {
				case <-done:
					return
				case <-time.After(pollEvery):
				}
			}
		}()
	}
	if run != nil {
		// --run follows that run alone.
		if err := s.streamLogs(jobID, run, 0, stopWatching); err != nil {
			return err
		}
		stopWatching()
		j, _, err := s.waitFinal(jobID, nil)
		if err != nil {
			return err
		}
		return outcome(j)
	}
	// The job's current run, and each retry after it, until the job ends.
	j, err := as[client.JobDetail](s.data(s.api.GetJob(s.ctx, jobID)))
	if err != nil {
		return err
	}
	for {
		current := j.CurrentRunId
		if err := s.streamLogs(jobID, current, 0, stopWatching); err != nil {
			return err
		}
		stopWatching()
		if j, err = s.nextAttempt(jobID, current); err != nil {
			return err
		}
		if finalStates[str(j.State)] {
			return outcome(j)
		}
		fmt.Fprintf(s.errOut, "daestro: the run ended; the job retries as attempt %s (%s)\n", num(j.Attempt), progressText(j))
	}
}

// nextAttempt polls the job until it ends or a retry makes another run
// than streamed its current one.
func (s *session) nextAttempt(jobID string, streamed *uuid.UUID) (client.JobDetail, error) {
	for {
		j, err := as[client.JobDetail](s.data(s.api.GetJob(s.ctx, jobID)))
		if err != nil {
			return j, err
		}
		if finalStates[str(j.State)] || (j.CurrentRunId != nil && (streamed == nil || *j.CurrentRunId != *streamed)) {
			return j, nil
		}
		select {
		case <-s.ctx.Done():
			return j, s.ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func jobMetricsCmd() *cobra.Command {
	var run string
	cmd := verb("metrics JOB", "CPU and memory of a job run: sparklines, max and average",
		`Shows a job run's CPU and memory use as sparklines over every sample, with the
maximum and average (100 % CPU = one core; memory without page cache): what
sizing the definition's quotas needs. With -o json or yaml, the API's first
page of samples with the summary of all of them.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.jobID(args[0])
			if err != nil {
				return err
			}
			runID, err := s.runOf(id, run)
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetJobMetrics(s.ctx, id, &client.GetJobMetricsParams{Run: runID}))
			if err != nil {
				return err
			}
			if s.format != "table" {
				return printRaw(s.out, s.format, raw)
			}
			m, err := as[client.RunMetrics](raw, nil)
			if err != nil {
				return err
			}
			samples := deref(m.Samples)
			for next := m.NextAfter; next != nil && len(deref(m.Samples)) > 0; next = m.NextAfter {
				if m, err = as[client.RunMetrics](s.data(s.api.GetJobMetrics(s.ctx, id, &client.GetJobMetricsParams{Run: runID, After: next, Limit: ptr(10000)}))); err != nil {
					return err
				}
				samples = append(samples, deref(m.Samples)...)
			}
			_, err = io.WriteString(s.out, metricsText(samples, m.Summary, width(s.out)))
			return err
		})
	cmd.Flags().StringVar(&run, "run", "", "an earlier run: its attempt number (1, 2, …) or run ID (default: the current run)")
	return cmd
}
