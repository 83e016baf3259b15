package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"daestro/client"
)

func jobCmd() *cobra.Command {
	return group("job", "submit, list, follow and cancel jobs",
		`Jobs: one run request of a job definition in a job queue. A job is named by
its ID, or by its name when only one queue has a job of that name.`,
		jobSubmitCmd(), jobLsCmd(), jobGetCmd(), jobLogsCmd(), jobMetricsCmd(),
		jobCancelCmd(), jobResubmitCmd(), jobWaitCmd())
}

// overrideFlags are a submission's overrides, shared by job submit and cron.
type overrideFlags struct {
	params, env, secretEnv []string
}

func (o *overrideFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&o.params, "param", nil, "a Param::name value, `name=value` (repeatable)")
	cmd.Flags().StringArrayVar(&o.env, "env", nil, "an environment variable of the container, `KEY=value` (repeatable)")
	cmd.Flags().StringArrayVar(&o.secretEnv, "secret-env", nil, "a sensitive variable, `KEY=value`: stored encrypted, never shown again (repeatable)")
}

// parameters is --param as a map (nil when none was given).
func (o *overrideFlags) parameters() (*map[string]string, error) {
	if len(o.params) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range o.params {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: write name=value", kv)
		}
		m[k] = v
	}
	return &m, nil
}

// environment is --env and --secret-env as the API's env map.
func (o *overrideFlags) environment() (*map[string]client.EnvVarInput, error) {
	if len(o.env)+len(o.secretEnv) == 0 {
		return nil, nil
	}
	m := map[string]client.EnvVarInput{}
	for _, set := range []struct {
		flag      string
		kvs       []string
		sensitive bool
	}{{"--env", o.env, false}, {"--secret-env", o.secretEnv, true}} {
		for _, kv := range set.kvs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%s %q: write KEY=value", set.flag, kv)
			}
			e := client.EnvVarInput{Value: ptr(v)}
			if set.sensitive {
				e.Sensitive = ptr(true)
			}
			m[k] = e
		}
	}
	return &m, nil
}

// readSpec reads a YAML (or JSON) file into the API's body type T; keys
// it does not know are refused, so a typo does not pass unnoticed.
func readSpec[T any](path string) (T, error) {
	var v T
	b, err := os.ReadFile(path)
	if path == "-" {
		b, err = readAllStdin()
	}
	if err != nil {
		return v, err
	}
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

var readAllStdin = func() ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(os.Stdin)
	return buf.Bytes(), err
}

// parseTime reads --at and the list filters: RFC 3339, unix seconds, or a
// duration from now (+10m, or -2h for the past).
func parseTime(flag, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0), nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(d), nil
	}
	return time.Time{}, fmt.Errorf("%s %q: give an RFC 3339 time (2030-01-02T15:04:05Z), unix seconds, or a duration from now (+10m, -2h)", flag, v)
}

func jobSubmitCmd() *cobra.Command {
	var (
		file, def, queue, name, at string
		follow                     bool
		o                          overrideFlags
	)
	cmd := verb("submit [flags] [-- command args…]", "submit a job (and with --follow, stream its log and exit with its code)",
		`Submits a job of a job definition to a job queue. Flags, or a file (-f job.yaml,
- for stdin) with the API's body:

  job_definition: hello        # name, or name:version
  job_queue: default
  name: nightly-1              # optional
  container_cmd: [echo, hi]    # optional, replaces the definition's command
  container_cmd_parameter: {who: world}
  container_env: {TOKEN: {value: s3cr3t, sensitive: true}}
  schedule_at: 2030-01-02T15:04:05Z

Flags given with -f override the file. Arguments after -- replace the
definition's command. Prints the job's ID; with --follow it streams the
job's log instead (stdout and stderr lines to stdout and stderr) until the
job ends, and exits with the job's exit code (non-zero, with the job's
note on stderr, when it failed, timed out, errored or was cancelled).`,
		cobra.ArbitraryArgs, func(s *session, args []string) error {
			var in client.SubmitJobInput
			if file != "" {
				var err error
				if in, err = readSpec[client.SubmitJobInput](file); err != nil {
					return err
				}
			}
			in.JobDefinition = firstOf(def, in.JobDefinition)
			in.JobQueue = firstOf(queue, in.JobQueue)
			if in.JobDefinition == "" || in.JobQueue == "" {
				return fmt.Errorf("a job needs a definition and a queue: --def NAME[:VERSION] --queue QUEUE (or job_definition and job_queue in -f)")
			}
			if name != "" {
				in.Name = &name
			}
			if len(args) > 0 {
				in.ContainerCmd = &args
			}
			params, err := o.parameters()
			if err != nil {
				return err
			}
			if params != nil {
				in.ContainerCmdParameter = mergeMap(in.ContainerCmdParameter, *params)
			}
			env, err := o.environment()
			if err != nil {
				return err
			}
			if env != nil {
				in.ContainerEnv = mergeMap(in.ContainerEnv, *env)
			}
			if at != "" {
				t, err := parseTime("--at", at)
				if err != nil {
					return err
				}
				in.ScheduleAt = &client.SubmitJobInput_ScheduleAt{}
				_ = in.ScheduleAt.FromSubmitJobInputScheduleAt0(t.UTC())
			}
			raw, err := s.data(s.api.SubmitJob(s.ctx, in))
			if err != nil {
				return err
			}
			job, err := as[client.Job](raw, nil)
			if err != nil {
				return err
			}
			if !follow {
				if s.format != "table" {
					return printRaw(s.out, s.format, raw)
				}
				fmt.Fprintln(s.out, str(job.Id))
				return nil
			}
			fmt.Fprintf(s.errOut, "job %s (%s) submitted\n", str(job.Name), str(job.Id))
			return s.followJob(str(job.Id), idOf(job.CurrentRunId))
		})
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the submission from a YAML or JSON file (- for stdin)")
	cmd.Flags().StringVarP(&def, "def", "d", "", "the job definition: `name[:version]` (no version: the latest)")
	cmd.Flags().StringVarP(&queue, "queue", "q", "", "the job queue's name")
	cmd.Flags().StringVar(&name, "name", "", "the job's name, unique in the queue (default: a random one)")
	cmd.Flags().StringVar(&at, "at", "", "run no earlier than this: RFC 3339, unix seconds, or from now (+10m)")
	cmd.Flags().BoolVar(&follow, "follow", false, "stream the job's log until it ends and exit with its exit code")
	o.add(cmd)
	return cmd
}

// mergeMap sets over's keys in base (a new map when base is nil).
func mergeMap[V any](base *map[string]V, over map[string]V) *map[string]V {
	if base == nil || *base == nil {
		return &over
	}
	for k, v := range over {
		(*base)[k] = v
	}
	return base
}

func jobLsCmd() *cobra.Command {
	var (
		queue, state, def, after, before, prefix, next string
		limit                                          int
	)
	cmd := verb("ls", "list jobs, newest first", `Lists jobs, newest first, with the API's filters.`,
		cobra.NoArgs, func(s *session, _ []string) error {
			p := client.ListJobsParams{NextToken: nonEmpty(next), JobDefinition: nonEmpty(def), NamePrefix: nonEmpty(prefix), State: nonEmpty(state)}
			if limit > 0 {
				p.Limit = &limit
			}
			if queue != "" {
				id, err := s.queueID(queue)
				if err != nil {
					return err
				}
				u, err := parseUUID(id)
				if err != nil {
					return err
				}
				p.JobQueueId = &u
			}
			for _, f := range []struct {
				flag, v string
				to      **time.Time
			}{{"--created-after", after, &p.CreatedAfter}, {"--created-before", before, &p.CreatedBefore}} {
				if f.v == "" {
					continue
				}
				t, err := parseTime(f.flag, f.v)
				if err != nil {
					return err
				}
				*f.to = &t
			}
			raw, err := s.data(s.api.ListJobs(s.ctx, &p))
			if err != nil {
				return err
			}
			return show(s, raw, func(p client.JobPage) *table {
				s.nextPage(p.NextToken)
				return jobsTable(deref(p.Items))
			})
		})
	cmd.Flags().StringVarP(&queue, "queue", "q", "", "only jobs of this queue (name or ID)")
	cmd.Flags().StringVar(&state, "state", "", "only jobs in these states, comma-separated (e.g. running,runnable)")
	cmd.Flags().StringVarP(&def, "def", "d", "", "only jobs of this definition: `name[:version]`")
	cmd.Flags().StringVar(&after, "created-after", "", "only jobs created after: RFC 3339, unix seconds, or -24h")
	cmd.Flags().StringVar(&before, "created-before", "", "only jobs created before: RFC 3339, unix seconds, or -1h")
	cmd.Flags().StringVar(&prefix, "name-prefix", "", "only jobs whose name starts so")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (API default 50, at most 500)")
	cmd.Flags().StringVar(&next, "next-token", "", "the page after the one that printed this token")
	return cmd
}

// jobsTable is a list of jobs at a glance.
func jobsTable(jobs []client.Job) *table {
	// No queue column: 80 columns hold little next to a 36-character ID
	// (job ls --queue filters by queue; job get shows it).
	t := newTable("ID", "NAME~", "STATE", "DEF~", "AGE")
	for _, j := range jobs {
		def := ""
		if j.JobDefinition != nil {
			def = fmt.Sprintf("%s:%s", str(j.JobDefinition.Name), num(j.JobDefinition.Version))
		}
		t.row(str(j.Id), str(j.Name), str(j.State), def, ago(j.CreatedAt))
	}
	return t
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func jobGetCmd() *cobra.Command {
	return verb("get JOB", "show a job: state, why it waits, its runs and state changes",
		`Shows a job (by ID or name): its state, why a runnable job waits, its effective
command, its runs and every state change.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.jobID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.GetJob(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, jobDetailTable)
		})
}

func jobDetailTable(j client.JobDetail) *table {
	t := newTable("ATTEMPT", "RUN", "STATE", "EXIT", "STARTED", "NOTE~")
	t.field("ID", str(j.Id))
	t.field("Name", str(j.Name))
	t.field("State", str(j.State))
	if j.Pending != nil {
		t.field("Waiting", strings.TrimSpace(str(j.Pending.Reason)+": "+str(j.Pending.Detail)))
	}
	if note := str(j.SystemNote); note != "" {
		t.field("Note", note)
	}
	if j.JobQueue != nil {
		t.field("Queue", str(j.JobQueue.Name))
	}
	if j.JobDefinition != nil {
		t.field("Definition", fmt.Sprintf("%s:%s", str(j.JobDefinition.Name), num(j.JobDefinition.Version)))
	}
	t.field("Command", list(j.Command))
	if j.ScheduleAt != nil {
		t.field("Scheduled", stamp(j.ScheduleAt))
	}
	t.field("Created", stamp(j.CreatedAt))
	t.field("Updated", stamp(j.UpdatedAt))
	for _, r := range deref(j.Runs) {
		note := str(r.SystemNote)
		if r.LogsPurgedAt != nil {
			note = strings.TrimSpace(note + " (logs purged " + stamp(r.LogsPurgedAt) + ")")
		}
		t.row(num(r.Attempt), idOf(r.Id), str(r.State), num(r.ExitCode), stamp(r.StartedAt), note)
	}
	ev := newTable("AT", "STATE", "REASON~")
	for _, e := range deref(j.Events) {
		ev.row(stamp(e.At), str(e.State), str(e.Reason))
	}
	t.more = append(t.more, ev)
	return t
}

func jobCancelCmd() *cobra.Command {
	return verb("cancel JOB", "cancel a queued or running job",
		`Cancels a job while it is queued or running (a running container gets SIGTERM,
then SIGKILL); the job records cancelling, then cancelled.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.jobID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.CancelJob(s.ctx, id))
			if err != nil {
				return err
			}
			return show(s, raw, func(j client.Job) *table {
				t := newTable()
				t.field("ID", str(j.Id))
				t.field("State", str(j.State))
				return t
			})
		})
}

func jobResubmitCmd() *cobra.Command {
	var follow bool
	cmd := verb("resubmit JOB", "run a finished job again (a new attempt)",
		`Runs a finished job again: a new run, attempt n+1, of the same job. With
--follow, streams its log and exits with its exit code like job submit --follow.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.jobID(args[0])
			if err != nil {
				return err
			}
			raw, err := s.data(s.api.ResubmitJob(s.ctx, id))
			if err != nil {
				return err
			}
			r, err := as[client.Resubmitted](raw, nil)
			if err != nil {
				return err
			}
			if follow {
				fmt.Fprintf(s.errOut, "job %s attempt %s submitted\n", id, num(r.Attempt))
				return s.followJob(id, idOf(r.RunId))
			}
			return show(s, raw, func(r client.Resubmitted) *table {
				t := newTable()
				t.field("ID", idOf(r.Id))
				t.field("Run", idOf(r.RunId))
				t.field("Attempt", num(r.Attempt))
				return t
			})
		})
	cmd.Flags().BoolVar(&follow, "follow", false, "stream the new run's log until it ends and exit with its exit code")
	return cmd
}

func jobWaitCmd() *cobra.Command {
	return verb("wait JOB", "wait until a job ends; exit with its exit code",
		`Waits until the job ends, showing its state and why it waits (on a terminal),
then prints the job and exits with the job's exit code: 0 when it completed,
its container's code when it failed, non-zero with the job's note on stderr
when it timed out, errored or was cancelled.`,
		cobra.ExactArgs(1), func(s *session, args []string) error {
			id, err := s.jobID(args[0])
			if err != nil {
				return err
			}
			sp := s.startSpinner()
			j, raw, err := s.waitFinal(id, sp)
			sp.stop()
			if err != nil {
				return err
			}
			if err := show(s, raw, jobDetailTable); err != nil {
				return err
			}
			return outcome(j)
		})
}

// finalStates are the states a job ends in.
var finalStates = map[string]bool{"completed": true, "failed": true, "timeout": true, "cancelled": true, "error": true}

// waitFinal polls the job until it is in a final state, telling sp (when
// not nil) its state and why it waits.
func (s *session) waitFinal(id string, sp *spinner) (client.JobDetail, []byte, error) {
	for {
		raw, err := s.data(s.api.GetJob(s.ctx, id))
		if err != nil {
			return client.JobDetail{}, nil, err
		}
		j, err := as[client.JobDetail](raw, nil)
		if err != nil {
			return j, nil, err
		}
		if finalStates[str(j.State)] {
			return j, raw, nil
		}
		sp.set(progressText(j))
		select {
		case <-s.ctx.Done():
			return j, nil, s.ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// pollEvery is how often waiting commands look at a job.
var pollEvery = time.Second

// progressText is a waiting job's line: its state and why it waits.
func progressText(j client.JobDetail) string {
	text := fmt.Sprintf("job %s: %s", str(j.Name), str(j.State))
	if j.Pending != nil {
		why := str(j.Pending.Reason)
		if d := str(j.Pending.Detail); d != "" {
			why += " (" + d + ")"
		}
		text += " — " + why
	}
	return text
}

// outcome is nil for a completed job, else an ExitError with the job's
// exit code (1 without one) and its note.
func outcome(j client.JobDetail) error {
	state := str(j.State)
	if state == "completed" {
		return nil
	}
	code := 1
	for _, r := range deref(j.Runs) {
		if j.CurrentRunId != nil && r.Id != nil && *r.Id == *j.CurrentRunId && r.ExitCode != nil && *r.ExitCode != 0 {
			code = *r.ExitCode
		}
	}
	msg := fmt.Sprintf("job %s %s", str(j.Name), state)
	if note := str(j.SystemNote); note != "" {
		msg += ": " + note
	}
	return &ExitError{Code: code, Message: msg}
}
