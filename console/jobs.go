package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"daestro/internal/domain"
	"daestro/internal/logstream"
)

// ViaConsole names the console as the route of a job's first event.
const ViaConsole = "console"

// dashboardData is what the dashboard shows.
type dashboardData struct {
	JobStates   []stateCount
	SpawnStates []stateCount
	Running     []domain.Job
	Queues      []queueWaiting
}

type stateCount struct {
	State string
	Count int
}

type queueWaiting struct {
	Queue   domain.JobQueue
	Waiting domain.QueueWaiting
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	p := s.Project.ID
	jobs, err := c.o.Store.JobCountsByState(ctx(r), p)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	spawns, err := c.o.Store.SpawnCountsByState(ctx(r), p)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var d dashboardData
	for _, st := range domain.JobStates {
		d.JobStates = append(d.JobStates, stateCount{string(st), jobs[st]})
	}
	for _, st := range domain.SpawnStates {
		d.SpawnStates = append(d.SpawnStates, stateCount{st, spawns[st]})
	}
	running, err := c.o.Store.ListJobs(ctx(r), p, domain.JobFilter{States: []domain.JobState{domain.JobStarting, domain.JobRunning, domain.JobCancelling}}, domain.PageRequest{Limit: 20})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Running = running.Items
	queues, err := c.o.Store.ListJobQueues(ctx(r), p, domain.PageRequest{Limit: 50})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	for _, q := range queues.Items {
		wq, err := c.o.Store.QueueWaiting(ctx(r), p, q.ID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		d.Queues = append(d.Queues, queueWaiting{q, wq})
	}
	c.render(w, r, http.StatusOK, "dashboard", view{Title: "Dashboard", Nav: "dashboard", Session: s, Data: d})
}

// jobListData is the job list with its filter form's choices.
type jobListData struct {
	Jobs   domain.Page[domain.Job]
	Queues []domain.JobQueue
	States []domain.JobState
	// Next is the query string of the next page; empty on the last.
	Next string
}

func (c *Console) jobList(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	q := r.URL.Query()
	// The form sends one state per checkbox; the API's filter takes a comma list.
	if st := q["state"]; len(st) > 1 {
		q.Set("state", strings.Join(st, ","))
	}
	f := newForm(r.URL.Query())
	d := jobListData{States: domain.JobStates}
	queues, err := c.o.Store.ListJobQueues(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d.Queues = queues.Items
	fields := []string{"job_queue_id", "state", "job_definition", "created_after", "created_before", "name_prefix", "array_job_id", "limit", "next_token"}
	filter, err := domain.ParseJobFilter(q)
	if err != nil {
		f.fail(err, fields...)
		c.render(w, r, statusOf(err), "jobs", view{Title: "Jobs", Nav: "jobs", Session: s, Form: f, Data: d})
		return
	}
	page, err := domain.ParsePageRequest(q.Get("limit"), q.Get("next_token"))
	if err != nil {
		f.fail(err, fields...)
		c.render(w, r, statusOf(err), "jobs", view{Title: "Jobs", Nav: "jobs", Session: s, Form: f, Data: d})
		return
	}
	if page.Limit == domain.DefaultPageLimit && q.Get("limit") == "" {
		page.Limit = 25
	}
	if d.Jobs, err = c.o.Store.ListJobs(ctx(r), s.Project.ID, filter, page); err != nil {
		c.fail(w, r, s, err)
		return
	}
	if d.Jobs.NextToken != "" {
		next := r.URL.Query()
		next.Set("next_token", d.Jobs.NextToken)
		d.Next = next.Encode()
	}
	c.render(w, r, http.StatusOK, "jobs", view{Title: "Jobs", Nav: "jobs", Session: s, Form: f, Data: d})
}

// jobFormData are the choices of the new-job form.
type jobFormData struct {
	Definitions []domain.JobDefinition
	Queues      []domain.JobQueue
}

func (c *Console) jobFormData(r *http.Request, s *domain.ConsoleSession) (jobFormData, error) {
	var d jobFormData
	defs, err := c.o.Store.ListJobDefinitions(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		return d, err
	}
	queues, err := c.o.Store.ListJobQueues(ctx(r), s.Project.ID, domain.PageRequest{Limit: domain.MaxPageLimit})
	if err != nil {
		return d, err
	}
	return jobFormData{Definitions: defs.Items, Queues: queues.Items}, nil
}

func (c *Console) jobNew(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	d, err := c.jobFormData(r, s)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, r, http.StatusOK, "job_new", view{Title: "Submit a job", Nav: "jobs", Session: s, Form: newForm(r.URL.Query()), Data: d})
}

// jobFields are the new-job form's fields: the submission's own names.
var jobFields = []string{"job_definition", "job_queue", "name", "container_cmd", "container_cmd_parameter", "container_env", "sensitive_env", "schedule_at",
	fieldRetryAttempts, fieldRetryRules, "array_size", "depends_on"}

// jobSubmit submits through the API's path: domain's Normalize, then
// service.SubmitJob (one transaction that commits once the workflow started).
func (c *Console) jobSubmit(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	f := newForm(r.PostForm)
	in, err := jobInput(r.PostForm)
	var j domain.Job
	if err == nil {
		var sub domain.SubmitJob
		if sub, err = in.Normalize(s.Project.Code, false); err == nil {
			sub.Via = ViaConsole
			j, err = c.o.Service.SubmitJob(ctx(r), s.Project.ID, sub)
		}
	}
	if err != nil {
		err = c.userError(err)
		f.fail(err, jobFields...)
		d, derr := c.jobFormData(r, s)
		if derr != nil {
			c.fail(w, r, s, derr)
			return
		}
		c.render(w, r, statusOf(err), "job_new", view{Title: "Submit a job", Nav: "jobs", Session: s, Form: f, Data: d})
		return
	}
	seeOther(w, r, "/jobs/"+j.ID)
}

// jobInput builds the submission body from the form: the command one
// argument per line, parameters and env as name=value lines, the retry
// strategy and depends_on as retryInput and dependsInput read them.
func jobInput(v url.Values) (domain.SubmitJobInput, error) {
	in := domain.SubmitJobInput{JobDefinition: strings.TrimSpace(v.Get("job_definition")),
		JobQueue: strings.TrimSpace(v.Get("job_queue")), Name: strings.TrimSpace(v.Get("name")),
		ContainerCmd: argLines(v.Get("container_cmd"))}
	var err error
	if in.ContainerCmdParameter, err = stringMap("container_cmd_parameter", v.Get("container_cmd_parameter")); err != nil {
		return in, err
	}
	env, _, err := pairs("container_env", v.Get("container_env"), false)
	if err != nil {
		return in, err
	}
	secret, _, err := pairs("sensitive_env", v.Get("sensitive_env"), false)
	if err != nil {
		return in, err
	}
	if len(env)+len(secret) > 0 {
		in.ContainerEnv = map[string]domain.EnvVarInput{}
		for k, val := range env {
			in.ContainerEnv[k] = domain.EnvVarInput{Value: val}
		}
		for k, val := range secret {
			if _, dup := in.ContainerEnv[k]; dup {
				return in, invalid("sensitive_env", "%q is also a plain environment override", k)
			}
			in.ContainerEnv[k] = domain.EnvVarInput{Value: val, Sensitive: true}
		}
	}
	if in.RetryStrategy, err = retryInput(v); err != nil {
		return in, err
	}
	if in.ArraySize, err = optInt(v, "array_size"); err != nil {
		return in, err
	}
	in.DependsOn = dependsInput(v.Get("depends_on"))
	if at := strings.TrimSpace(v.Get("schedule_at")); at != "" {
		in.ScheduleAt, _ = json.Marshal(at)
		if _, err := strconv.ParseFloat(at, 64); err == nil {
			in.ScheduleAt = json.RawMessage(at) // unix seconds, as the API takes them
		}
	}
	return in, nil
}

// jobDetailData is a job with its queue's waiting list and the run shown.
type jobDetailData struct {
	Job domain.JobDetail
	// Run is the run whose logs and metrics show (?run=, else the current one).
	Run *domain.JobRun
	// Position is the job's place among its queue's waiting jobs (1 = next); 0 when not waiting.
	Position int
	// Logs is a page of a finished run's lines; nil while the run lasts (the page follows it live).
	Logs *domain.RunLogs
	// LogsAfter and PrevAfter page the finished run's lines; More says a later page exists.
	LogsAfter, PrevAfter int64
	More                 bool
	// Metrics are the run's samples with their summary.
	Metrics domain.RunMetrics
	// Dependencies are the jobs it waits for with their states now, in the
	// submission's order (a SEQUENTIAL entry names no job).
	Dependencies []domain.DependencyState
}

// logPageLines is how many lines a page of a finished run's log shows.
const logPageLines = 500

func (c *Console) jobDetail(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	p := s.Project.ID
	j, err := c.o.Store.JobDetail(ctx(r), p, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	d := jobDetailData{Job: j}
	for _, dep := range j.DependsOn {
		ds := domain.DependencyState{JobDependency: dep}
		if dep.JobID != "" {
			other, err := c.o.Store.Job(ctx(r), p, dep.JobID)
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			ds.Name, ds.State = other.Name, other.State
		}
		d.Dependencies = append(d.Dependencies, ds)
	}
	runID := r.URL.Query().Get("run")
	if runID == "" {
		runID = j.CurrentRunID
	}
	for i := range j.Runs {
		if j.Runs[i].ID == runID {
			d.Run = &j.Runs[i]
		}
	}
	if d.Run == nil && len(j.Runs) > 0 {
		d.Run = &j.Runs[len(j.Runs)-1]
	}
	if j.State == domain.JobRunnable {
		wq, err := c.o.Store.QueueWaiting(ctx(r), p, j.JobQueue.ID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for i, wj := range wq.Jobs {
			if wj.ID == j.ID {
				d.Position = i + 1
			}
		}
	}
	// A purged run's page says so (the template) instead of reading output that is gone.
	if d.Run != nil && d.Run.LogsPurgedAt == nil {
		runID, err := c.o.Store.JobRunForOutput(ctx(r), p, j.ID, d.Run.ID)
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		if d.Run.State.IsFinal() {
			q, err := domain.ParseLogQuery(r.URL.Query().Get("after_seq"), strconv.Itoa(logPageLines))
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			logs, err := c.o.Store.ReadRunLogs(ctx(r), runID, q)
			if err != nil {
				c.fail(w, r, s, err)
				return
			}
			d.Logs, d.LogsAfter, d.PrevAfter = &logs, q.AfterSeq, max(0, q.AfterSeq-logPageLines)
			d.More = len(logs.Lines) == logPageLines
		}
		mq, _ := domain.ParseMetricsQuery("", strconv.Itoa(domain.MaxMetricsPageLimit))
		if d.Metrics, err = c.o.Store.RunMetrics(ctx(r), runID, mq); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	title := "Job " + j.Name
	if j.ArrayProperties != nil {
		title = "Array job " + j.Name
	}
	c.render(w, r, http.StatusOK, "job", view{Title: title, Nav: "jobs", Session: s, Data: d})
}

// jobLogStream is the live log view's EventSource: the API's follow stream
// (logstream.Follow) under the console's session.
func (c *Console) jobLogStream(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	runID, err := c.o.Store.JobRunForOutput(ctx(r), s.Project.ID, r.PathValue("id"), r.URL.Query().Get("run"))
	if err != nil {
		http.Error(w, domain.ErrorMessage(c.userError(err)), statusOf(err))
		return
	}
	q, err := domain.ParseLogQuery(r.URL.Query().Get("after_seq"), "")
	if err != nil {
		http.Error(w, domain.ErrorMessage(err), statusOf(err))
		return
	}
	q = logstream.LastEventID(q, r.Header.Get("Last-Event-ID"))
	release, err := c.followers.acquire(s.APIKeyID + "/" + s.CSRFToken)
	if err != nil {
		http.Error(w, domain.ErrorMessage(err), statusOf(err))
		return
	}
	defer release()
	if err := logstream.Follow(ctx(r), w, c.o.Store, runID, q, nil, c.o.Logger); err != nil {
		err = c.userError(err)
		http.Error(w, domain.ErrorMessage(err), statusOf(err))
	}
}

func (c *Console) jobCancel(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	j, err := c.o.Service.CancelJob(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/jobs/"+j.ID)
}

func (c *Console) jobResubmit(w http.ResponseWriter, r *http.Request, s *domain.ConsoleSession) {
	j, err := c.o.Service.ResubmitJob(ctx(r), s.Project.ID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	seeOther(w, r, "/jobs/"+j.ID)
}
