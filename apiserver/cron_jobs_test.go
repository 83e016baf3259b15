package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	temporalclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"daestro/activities"
	"daestro/apiserver"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/quartz"
	"daestro/internal/secrets"
	"daestro/internal/store"
	"daestro/service"
	"daestro/workflows"
)

// cronSecret is a sensitive env override: no response, no Temporal payload
// and no table may show it.
const cronSecret = "cron-SECRET-value-never-in-a-payload"

// newCronAPI is newAPI wired to the real Temporal dev server with the real
// control worker (cron, job and dispatcher workflows) on a task queue of
// the test's own. At cleanup it deletes the schedules and ends the
// workflows the test left, so the shared dev server does not collect them.
func newCronAPI(t testing.TB) *api {
	t.Helper()
	st, tc, queue := startControlWorker(t)
	a := serveAPI(t, st, apiserver.Options{Temporal: tc, ControlTaskQueue: queue})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ids := func(sql string) []string {
			out, err := pgx.CollectRows(mustQuery(t, st, sql), pgx.RowTo[string])
			if err != nil {
				return nil
			}
			return out
		}
		cs := service.CronSchedules{Temporal: tc, TaskQueue: queue}
		for _, id := range ids(`SELECT id::text FROM cron_jobs`) {
			_ = cs.Delete(ctx, id)
		}
		for _, id := range ids(`SELECT id::text FROM jobs`) {
			_ = tc.TerminateWorkflow(ctx, contract.JobWorkflowID(id), "", "test over")
		}
		for _, id := range ids(`SELECT id::text FROM projects`) {
			_ = tc.TerminateWorkflow(ctx, contract.DispatcherWorkflowID(id), "", "test over")
		}
	})
	return a
}

// etlCron is a valid create body for etlDefinition in queue "etl".
func etlCron(extra map[string]any) map[string]any {
	return bodyWith(map[string]any{"name": "nightly", "expression": "0 30 2 * * ?", "job_definition": "etl", "job_queue": "etl",
		"container_cmd_parameter": map[string]string{"day": "today"}}, extra)
}

// cronWritten is a create or update answer.
type cronWritten struct {
	domain.CronJob
	Warnings []string `json:"warnings"`
}

func createCron(t *testing.T, c client, body map[string]any) cronWritten {
	t.Helper()
	return dataOf[cronWritten](t, c.do(http.MethodPost, "/v1/cron-jobs", body), http.StatusCreated)
}

func patchCron(t *testing.T, c client, id string, body map[string]any) cronWritten {
	t.Helper()
	return dataOf[cronWritten](t, c.do(http.MethodPatch, "/v1/cron-jobs/"+id, body), http.StatusOK)
}

func getCron(t *testing.T, c client, id string) domain.CronJobDetail {
	t.Helper()
	return getData[domain.CronJobDetail](t, c, "/v1/cron-jobs/"+id)
}

// waitForCron polls the cron job until ok says so, as a user would.
func waitForCron(t *testing.T, c client, id string, ok func(domain.CronJobDetail) bool) domain.CronJobDetail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := getCron(t, c, id)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("cron job %s never got there: %+v", id, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scheduleHandle(a *api, cronID string) temporalclient.ScheduleHandle {
	return a.temporal.ScheduleClient().GetHandle(context.Background(), contract.CronScheduleID(cronID))
}

func describeSchedule(t *testing.T, a *api, cronID string) *temporalclient.ScheduleDescription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := scheduleHandle(a, cronID).Describe(ctx)
	require.NoError(t, err)
	return desc
}

func triggerSchedule(t *testing.T, a *api, cronID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, scheduleHandle(a, cronID).Trigger(ctx, temporalclient.ScheduleTriggerOptions{}))
}

// upcomingItem keeps the times as the API wrote them, offsets included.
type upcomingItem struct {
	At    string `json:"at"`
	AtUTC string `json:"at_utc"`
}

type upcoming struct {
	TimeZone string         `json:"time_zone"`
	Enabled  bool           `json:"enabled"`
	Items    []upcomingItem `json:"items"`
}

func getUpcoming(t *testing.T, c client, id, query string) upcoming {
	t.Helper()
	return getData[upcoming](t, c, "/v1/cron-jobs/"+id+"/upcoming"+query)
}

// parseItems reads the times, checking that each pair is one instant shown
// in the zone and in UTC.
func (u upcoming) times(t *testing.T) []time.Time {
	t.Helper()
	loc, err := time.LoadLocation(u.TimeZone)
	require.NoError(t, err)
	out := make([]time.Time, len(u.Items))
	for i, it := range u.Items {
		at, err := time.Parse(time.RFC3339, it.At)
		require.NoError(t, err)
		utc, err := time.Parse(time.RFC3339, it.AtUTC)
		require.NoError(t, err)
		assert.True(t, at.Equal(utc), "item %d: %s and %s are one instant", i, it.At, it.AtUTC)
		assert.Equal(t, at.In(loc).Format(time.RFC3339), it.At, "item %d is shown in %s", i, u.TimeZone)
		assert.True(t, strings.HasSuffix(it.AtUTC, "Z"), it.AtUTC)
		out[i] = at.In(loc)
	}
	return out
}

// ourUpcoming is what internal/quartz says the expression fires at next.
func ourUpcoming(t *testing.T, expr, tz string, from time.Time, n int) []time.Time {
	t.Helper()
	s, err := quartz.Parse(expr)
	require.NoError(t, err)
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	return s.Upcoming(from.In(loc), n)
}

func cronEventKinds(evs []domain.CronJobEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func TestCronJobCreateGetListDelete(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	queueID := readyQueue(t, c, "etl")
	etlDefinition(t, c)

	r := c.do(http.MethodPost, "/v1/cron-jobs", etlCron(map[string]any{
		"description": "the nightly load", "time_zone": "Europe/Berlin", "overlap": "skip",
		"container_env": map[string]any{"TOKEN": map[string]any{"value": cronSecret, "sensitive": true}, "REGION": map[string]any{"value": "us"}},
	}))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.NotContains(t, r.Raw, cronSecret)
	var cj cronWritten
	r.decode(t, &cj)
	assert.Equal(t, "nightly", cj.Name)
	assert.Equal(t, "the nightly load", cj.Description)
	assert.Equal(t, "0 30 2 * * ?", cj.Expression)
	assert.Equal(t, "0 30 2 * * ?", cj.EffectiveExpression)
	assert.Equal(t, "Europe/Berlin", cj.TimeZone)
	assert.Equal(t, domain.CronOverlapSkip, cj.Overlap)
	assert.True(t, cj.Enabled, "enabled by default")
	assert.Equal(t, domain.CronJobDefinition{Ref: "etl", ID: cj.JobDefinition.ID, Name: "etl", Version: 1, Pinned: false}, cj.JobDefinition)
	assert.Equal(t, domain.JobQueueRef{ID: queueID, Name: "etl"}, cj.JobQueue)
	assert.Nil(t, cj.ContainerCmd, "the definition's command")
	assert.Equal(t, map[string]string{"day": "today"}, cj.ContainerCmdParameter)
	assert.Equal(t, domain.Env{"TOKEN": {Sensitive: true}, "REGION": {Value: "us"}}, cj.ContainerEnv, "sensitive values are write-only")
	assert.Nil(t, cj.LastTriggerAt)
	assert.Nil(t, cj.LastJob)
	assert.Equal(t, "", cj.LastError)
	assert.Equal(t, []string{}, cj.Warnings)
	for _, k := range []string{"warnings", "last_job", "last_error", "last_trigger_at", "job_definition", "job_queue", "effective_expression"} {
		assert.Contains(t, r.data(t), k)
	}

	// The schedule: calendars in the zone, the policies asked for, and an
	// action that carries IDs only.
	desc := describeSchedule(t, a, cj.ID)
	assert.Equal(t, "Europe/Berlin", desc.Schedule.Spec.TimeZoneName)
	assert.NotEmpty(t, desc.Schedule.Spec.Calendars, "structured calendars, never a cron string")
	assert.Empty(t, desc.Schedule.Spec.CronExpressions)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, desc.Schedule.Policy.Overlap)
	assert.Equal(t, time.Minute, desc.Schedule.Policy.CatchupWindow, "a missed trigger runs once at most, not a year's worth")
	assert.False(t, desc.Schedule.State.Paused)
	action, ok := desc.Schedule.Action.(*temporalclient.ScheduleWorkflowAction)
	require.True(t, ok, "%T", desc.Schedule.Action)
	assert.Equal(t, contract.CronTriggerWorkflowName, action.Workflow)
	assert.Equal(t, "cron/"+cj.ID, action.ID)
	require.Len(t, action.Args, 1)
	payload, ok := action.Args[0].(*commonpb.Payload)
	require.True(t, ok, "%T", action.Args[0])
	assert.JSONEq(t, fmt.Sprintf(`{"CronJobID":%q,"ProjectID":%q}`, cj.ID, c.project.ID), string(payload.GetData()))
	assert.Len(t, desc.Info.NextActionTimes, 10)
	for _, next := range desc.Info.NextActionTimes {
		berlin := next.In(mustLoad(t, "Europe/Berlin"))
		assert.Equal(t, [2]int{2, 30}, [2]int{berlin.Hour(), berlin.Minute()}, "02:30 Berlin time: %s", berlin)
	}

	// Nothing secret is stored in clear either.
	var sealed []byte
	require.NoError(t, a.st.Pool.QueryRow(context.Background(), `SELECT env FROM cron_jobs WHERE id = $1`, cj.ID).Scan(&sealed))
	assert.NotContains(t, string(sealed), cronSecret)
	assert.NotContains(t, string(sealed), "REGION")

	d := getCron(t, c, cj.ID)
	assert.Equal(t, cj.CronJob.ID, d.ID)
	assert.Equal(t, []string{domain.CronEventCreated}, cronEventKinds(d.Events))
	got := c.do(http.MethodGet, "/v1/cron-jobs/"+cj.ID, nil)
	assert.NotContains(t, got.Raw, cronSecret)

	// The list pages like every list.
	second := createCron(t, c, etlCron(map[string]any{"name": "hourly", "expression": "0 0 * * * ?"}))
	assertPaginates(t, c, paging[domain.CronJob]{path: "/v1/cron-jobs", limit: 1, pages: 2, want: []string{cj.ID, second.ID}, order: "in creation order",
		key: func(j domain.CronJob) string { return j.ID }, refused: map[string]string{"limit=0": "limit:"}})

	// Delete: the row and the schedule go.
	r = c.do(http.MethodDelete, "/v1/cron-jobs/"+cj.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, map[string]any{"id": cj.ID, "deleted": true}, r.data(t))
	_, err := scheduleHandle(a, cj.ID).Describe(context.Background())
	var notFound *serviceerror.NotFound
	assert.ErrorAs(t, err, &notFound, "the schedule is deleted with the cron job")
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodGet, "/v1/cron-jobs/"+cj.ID, nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodDelete, "/v1/cron-jobs/"+cj.ID, nil).Status)
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodGet, "/v1/cron-jobs/not-a-uuid", nil).Status)
	assert.Equal(t, 0, a.count("cron_job_events WHERE cron_job_id = '"+cj.ID+"'"))
}

func mustLoad(t *testing.T, tz string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	require.NoError(t, err)
	return loc
}

// Every rule is a 400 naming the field (and for expressions the Quartz
// field and the reason); a rejected create writes nothing anywhere.
func TestCronJobCreateRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	long := strings.Repeat("a", domain.MaxCronJobNameLen+1)

	for _, tc := range []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"day-of-week out of range", etlCron(map[string]any{"expression": "0 0 0 ? * 8"}), "expression: day-of-week: '8' is out of range 1-7"},
		{"hour out of range", etlCron(map[string]any{"expression": "0 0 25 * * ?"}), "expression: hour: '25' is out of range 0-23"},
		{"both days given", etlCron(map[string]any{"expression": "0 0 0 * * *"}), "expression: day-of-month and day-of-week: one of them must be '?' (Quartz does not support both)"},
		{"too few fields", etlCron(map[string]any{"expression": "* * * *"}), "expression: expression: expected 6 or 7 fields"},
		{"no expression", etlCron(map[string]any{"expression": nil}), "expression: is required"},
		{"never fires again", etlCron(map[string]any{"expression": "0 0 0 1 1 ? 2020"}), `expression: "0 0 0 1 1 ? 2020" never fires again`},
		{"unknown zone", etlCron(map[string]any{"time_zone": "Mars/Olympus"}), `time_zone: "Mars/Olympus" is not an IANA time zone name`},
		{"server's zone", etlCron(map[string]any{"time_zone": "Local"}), `time_zone: "Local" is not an IANA time zone name`},
		{"overlap", etlCron(map[string]any{"overlap": "sometimes"}), `overlap: "sometimes" is not an overlap policy: use one of allow_all, skip, buffer_one`},
		{"unknown definition", etlCron(map[string]any{"job_definition": "nope"}), "job_definition: no job definition named 'nope' in this project"},
		{"unknown version", etlCron(map[string]any{"job_definition": "etl:7"}), "job_definition: no job definition 'etl:7' in this project"},
		{"bad reference", etlCron(map[string]any{"job_definition": "etl:x"}), "job_definition: job definition reference \"etl:x\""},
		{"other project", etlCron(map[string]any{"job_definition": "other::etl"}), "job_definition: project code 'other' is not the project of this API key ('acme')"},
		{"unknown queue", etlCron(map[string]any{"job_queue": "nope"}), "job_queue: no job queue named 'nope' in this project"},
		{"no queue", etlCron(map[string]any{"job_queue": nil}), "job_queue: is required"},
		{"placeholder without value", etlCron(map[string]any{"container_cmd_parameter": nil}), "container_cmd: Param::day has no value"},
		{"env key", etlCron(map[string]any{"container_env": map[string]any{"DAESTRO_X": map[string]any{"value": "v"}}}), "container_env: "},
		{"no name", etlCron(map[string]any{"name": nil}), "name: cron job name is required"},
		{"long name", etlCron(map[string]any{"name": long}), fmt.Sprintf("name: %q is not a valid cron job name: use 1-111 characters", long)},
		{"bad name", etlCron(map[string]any{"name": "night ly"}), `name: "night ly" is not a valid cron job name`},
		{"unknown field", etlCron(map[string]any{"schedule_at": "2026-01-01T00:00:00Z"}), `unknown field "schedule_at"`},
		{"wrong type", etlCron(map[string]any{"enabled": "yes"}), "enabled: must be true or false"},
	} {
		r := c.do(http.MethodPost, "/v1/cron-jobs", tc.body)
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.name, r.Raw)
		assert.Contains(t, r.Message, tc.msg, tc.name)
	}
	assert.Equal(t, 0, a.count("cron_jobs"))
	assert.Equal(t, 0, a.count("cron_job_events"))

	createCron(t, c, etlCron(nil))
	r := c.do(http.MethodPost, "/v1/cron-jobs", etlCron(map[string]any{"expression": "0 0 * * * ?"}))
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "a cron job named 'nightly' already exists in this project: choose another name", r.Message)
	assert.Equal(t, 1, a.count("cron_jobs"))

	// The name rule leaves room for the jobs' names.
	ok := createCron(t, c, etlCron(map[string]any{"name": long[1:]}))
	assert.Len(t, domain.CronJobName(ok.Name, time.Now()), domain.MaxJobNameLen)
	require.NoError(t, domain.ValidateJobName(domain.CronJobName(ok.Name, time.Now())))
}

// The one-minute floor and a disabled queue are accepted with a warning.
func TestCronJobWarnings(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	cj := createCron(t, c, etlCron(map[string]any{"expression": "*/30 * * * * ?"}))
	assert.Equal(t, "*/30 * * * * ?", cj.Expression, "kept as written")
	assert.Equal(t, "0 * * * * ?", cj.EffectiveExpression)
	require.Len(t, cj.Warnings, 1)
	assert.Equal(t, `expression: fires more than once a minute; daestro fires at most once a minute, so only the first second of the seconds field is kept: effective expression is "0 * * * * ?"`, cj.Warnings[0])
	for _, next := range describeSchedule(t, a, cj.ID).Info.NextActionTimes {
		assert.Zero(t, next.Second(), "once a minute, at second 0: %s", next)
	}

	up := patchCron(t, c, cj.ID, map[string]any{"expression": "15/20 * * * * ?"})
	assert.Equal(t, "15 * * * * ?", up.EffectiveExpression)
	require.Len(t, up.Warnings, 1)
	assert.Contains(t, up.Warnings[0], `effective expression is "15 * * * * ?"`)
	up = patchCron(t, c, cj.ID, map[string]any{"expression": "0 0 * * * ?"})
	assert.Equal(t, []string{}, up.Warnings)

	mustCreateQueue(t, c, "idle")
	idle := createCron(t, c, etlCron(map[string]any{"name": "on-idle", "job_queue": "acme::idle"}))
	assert.Equal(t, []string{"job_queue: job queue 'idle' is disabled: until it is enabled, every trigger submits no job and records why as last_error"}, idle.Warnings)
}

func TestCronJobUpdate(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	readyQueue(t, c, "other")
	etlDefinition(t, c)
	cj := createCron(t, c, etlCron(map[string]any{"container_env": map[string]any{"TOKEN": map[string]any{"value": cronSecret, "sensitive": true}}}))
	createCron(t, c, etlCron(map[string]any{"name": "taken"}))

	up := patchCron(t, c, cj.ID, map[string]any{"name": "nightly-2", "description": "moved", "time_zone": "Asia/Tokyo",
		"overlap": "buffer_one", "job_queue": "other", "job_definition": "etl:1"})
	assert.Equal(t, "nightly-2", up.Name)
	assert.Equal(t, "moved", up.Description)
	assert.Equal(t, "Asia/Tokyo", up.TimeZone)
	assert.Equal(t, domain.CronOverlapBufferOne, up.Overlap)
	assert.Equal(t, "other", up.JobQueue.Name)
	assert.Equal(t, domain.CronJobDefinition{Ref: "etl:1", ID: cj.JobDefinition.ID, Name: "etl", Version: 1, Pinned: true}, up.JobDefinition)
	assert.Equal(t, cj.ContainerEnv, up.ContainerEnv, "overrides left out are kept")
	assert.Equal(t, cj.ContainerCmdParameter, up.ContainerCmdParameter)
	desc := describeSchedule(t, a, cj.ID)
	assert.Equal(t, "Asia/Tokyo", desc.Schedule.Spec.TimeZoneName)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, desc.Schedule.Policy.Overlap)
	assert.Equal(t, time.Minute, desc.Schedule.Policy.CatchupWindow)
	ev := getCron(t, c, cj.ID).Events
	require.Len(t, ev, 2)
	assert.Equal(t, domain.CronEventUpdated, ev[0].Kind, "newest first")
	assert.Equal(t, "updated via API: name 'nightly' → 'nightly-2', description, time_zone UTC → Asia/Tokyo, overlap allow_all → buffer_one, job_definition 'etl' → 'etl:1', job_queue 'etl' → 'other'", ev[0].Message)

	// The overrides are replaced whole.
	up = patchCron(t, c, cj.ID, map[string]any{"container_cmd": []string{"etl", "--day", "Param::day"}, "container_env": map[string]any{}})
	assert.Equal(t, []string{"etl", "--day", "Param::day"}, up.ContainerCmd)
	assert.Equal(t, domain.Env{}, up.ContainerEnv)
	up = patchCron(t, c, cj.ID, map[string]any{"container_cmd": nil})
	assert.Nil(t, up.ContainerCmd, "null goes back to the definition's command")

	before := getCron(t, c, cj.ID)
	for _, tc := range []struct {
		body   map[string]any
		status int
		msg    string
	}{
		{map[string]any{"expression": "0 0 0 ? * 8"}, http.StatusBadRequest, "expression: day-of-week: '8' is out of range 1-7"},
		{map[string]any{"time_zone": "Nowhere/Land"}, http.StatusBadRequest, `time_zone: "Nowhere/Land" is not an IANA time zone name`},
		{map[string]any{"job_queue": "nope"}, http.StatusBadRequest, "job_queue: no job queue named 'nope' in this project"},
		{map[string]any{"container_cmd_parameter": map[string]string{}}, http.StatusBadRequest, "container_cmd: Param::day has no value"},
		{map[string]any{"container_cmd": "etl"}, http.StatusBadRequest, "container_cmd: must be an array of strings"},
		{map[string]any{"name": "taken"}, http.StatusConflict, "a cron job named 'taken' already exists in this project"},
		{map[string]any{}, http.StatusBadRequest, "request body changes nothing"},
		{map[string]any{"priority": 3}, http.StatusBadRequest, `unknown field "priority"`},
	} {
		r := c.do(http.MethodPatch, "/v1/cron-jobs/"+cj.ID, tc.body)
		assert.Equal(t, tc.status, r.Status, "%v: %s", tc.body, r.Raw)
		assert.Contains(t, r.Message, tc.msg, "%v", tc.body)
	}
	after := getCron(t, c, cj.ID)
	assert.Equal(t, before, after, "a refused update changes nothing")
	assert.Equal(t, "Asia/Tokyo", describeSchedule(t, a, cj.ID).Schedule.Spec.TimeZoneName)
	assert.Equal(t, http.StatusNotFound, c.do(http.MethodPatch, "/v1/cron-jobs/"+unknownCronJobID, map[string]any{"enabled": false}).Status)
}

// unknownCronJobID is an ID no cron job has.
const unknownCronJobID = "00000000-0000-7000-8000-000000000000"

// Disabled is a paused schedule; enabling resumes it.
func TestCronJobDisableEnablePausesTheSchedule(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	cj := createCron(t, c, etlCron(map[string]any{"enabled": false}))
	assert.False(t, cj.Enabled)
	assert.True(t, describeSchedule(t, a, cj.ID).Schedule.State.Paused, "created disabled: paused")

	up := patchCron(t, c, cj.ID, map[string]any{"enabled": true})
	assert.True(t, up.Enabled)
	assert.False(t, describeSchedule(t, a, cj.ID).Schedule.State.Paused)

	up = patchCron(t, c, cj.ID, map[string]any{"enabled": false})
	assert.False(t, up.Enabled)
	desc := describeSchedule(t, a, cj.ID)
	assert.True(t, desc.Schedule.State.Paused)
	assert.Contains(t, desc.Schedule.State.Note, "disabled")

	// A disabled cron job still shows when it would fire.
	u := getUpcoming(t, c, cj.ID, "?count=3")
	assert.False(t, u.Enabled)
	assert.Len(t, u.Items, 3)

	ev := getCron(t, c, cj.ID).Events
	assert.Equal(t, []string{domain.CronEventUpdated, domain.CronEventUpdated, domain.CronEventCreated}, cronEventKinds(ev))
	assert.Equal(t, "updated via API: disabled", ev[0].Message)
	assert.Equal(t, "updated via API: enabled", ev[1].Message)
}

// The upcoming list is Temporal's, in the cron job's zone and UTC, and it
// matches our own evaluator; a new expression or zone changes it.
func TestCronJobUpcoming(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	const weekdays = "0 15 10 ? * MON-FRI"
	cj := createCron(t, c, etlCron(map[string]any{"expression": weekdays, "time_zone": "America/New_York"}))
	now := time.Now()
	u := getUpcoming(t, c, cj.ID, "")
	assert.Equal(t, "America/New_York", u.TimeZone)
	assert.True(t, u.Enabled)
	require.Len(t, u.Items, domain.DefaultCronUpcoming)
	got := u.times(t)
	for i, at := range got {
		assert.Equal(t, [2]int{10, 15}, [2]int{at.Hour(), at.Minute()}, "10:15 New York time: %s", u.Items[i].At)
		assert.NotContains(t, []time.Weekday{time.Saturday, time.Sunday}, at.Weekday(), u.Items[i].At)
		if i > 0 {
			assert.True(t, at.After(got[i-1]), "soonest first")
		}
	}
	assertSameTimes(t, ourUpcoming(t, weekdays, "America/New_York", now, 10), got)

	assert.Len(t, getUpcoming(t, c, cj.ID, "?count=1").Items, 1)
	all := getUpcoming(t, c, cj.ID, "?count=100")
	require.Len(t, all.Items, domain.MaxCronUpcoming)
	assertSameTimes(t, ourUpcoming(t, weekdays, "America/New_York", now, 100), all.times(t))
	for _, q := range []string{"0", "101", "-1", "ten", "1.5"} {
		r := c.do(http.MethodGet, "/v1/cron-jobs/"+cj.ID+"/upcoming?count="+q, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, q)
		assert.Equal(t, fmt.Sprintf("count: %q must be a whole number from 1 to 100", q), r.Message)
	}

	// A new expression, then a new zone: the list follows at once.
	const firstOfMonth = "0 0 12 1 * ?"
	patchCron(t, c, cj.ID, map[string]any{"expression": firstOfMonth})
	u = getUpcoming(t, c, cj.ID, "?count=5")
	for _, at := range u.times(t) {
		assert.Equal(t, [3]int{1, 12, 0}, [3]int{at.Day(), at.Hour(), at.Minute()}, "noon on the 1st: %s", at)
	}
	patchCron(t, c, cj.ID, map[string]any{"time_zone": "Asia/Tokyo"})
	u = getUpcoming(t, c, cj.ID, "?count=5")
	assert.Equal(t, "Asia/Tokyo", u.TimeZone)
	for i, at := range u.times(t) {
		assert.True(t, strings.HasSuffix(u.Items[i].At, "+09:00"), u.Items[i].At)
		assert.Equal(t, [3]int{1, 12, 0}, [3]int{at.Day(), at.Hour(), at.Minute()})
	}
	assertSameTimes(t, ourUpcoming(t, firstOfMonth, "Asia/Tokyo", time.Now(), 5), u.times(t))

	// Quartz features Temporal's own cron strings get wrong: the third
	// Friday (5#3 is "every Friday" to Temporal) and the last weekday.
	for _, expr := range []string{"0 0 9 ? * 6#3", "0 0 18 LW * ?", "0 30 1 L-2 * ?", "0 0 0 ? * 7L"} {
		x := createCron(t, c, etlCron(map[string]any{"name": "q" + strings.NewReplacer(" ", "", "#", "h", "?", "", "*", "").Replace(expr), "expression": expr, "time_zone": "Europe/Berlin"}))
		from := time.Now()
		assertSameTimes(t, ourUpcoming(t, expr, "Europe/Berlin", from, 12), getUpcoming(t, c, x.ID, "?count=12").times(t))
	}
}

func assertSameTimes(t *testing.T, want, got []time.Time) {
	t.Helper()
	require.Equal(t, len(want), len(got))
	for i := range want {
		assert.True(t, want[i].Equal(got[i]), "fire %d: want %s, got %s", i, want[i], got[i])
	}
}

// A cron firing every minute, triggered now through its schedule, submits
// a job like any other: named after the trigger, marked as the cron job's,
// with its overrides, and on its way through the queue. Deleting the cron
// job leaves the job.
func TestCronJobTriggerSubmitsAJob(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	cj := createCron(t, c, etlCron(map[string]any{"name": "every-minute", "expression": "0 * * * * ?",
		"container_env": map[string]any{"TOKEN": map[string]any{"value": cronSecret, "sensitive": true}}}))

	triggered := time.Now().UTC().Truncate(time.Second)
	triggerSchedule(t, a, cj.ID)
	d := waitForCron(t, c, cj.ID, func(d domain.CronJobDetail) bool { return d.LastJob != nil })
	assert.Equal(t, "", d.LastError)
	require.NotNil(t, d.LastTriggerAt)
	assert.WithinDuration(t, triggered, *d.LastTriggerAt, 5*time.Second)
	assert.Regexp(t, regexp.MustCompile(`^every-minute-\d{8}T\d{6}Z$`), d.LastJob.Name)
	assert.Contains(t, cronEventKinds(d.Events), domain.CronEventTriggered)

	j := waitForJobState(t, c, d.LastJob.ID, domain.JobRunnable)
	assert.Equal(t, domain.CronJobName("every-minute", *d.LastTriggerAt), j.Name, "named after the trigger's time in UTC")
	require.NotNil(t, j.CronJobID)
	assert.Equal(t, cj.ID, *j.CronJobID)
	assert.Equal(t, "etl", j.JobQueue.Name)
	assert.Equal(t, domain.JobDefinitionRef{ID: cj.JobDefinition.ID, Name: "etl", Version: 1}, j.JobDefinition)
	assert.Equal(t, []string{"etl", "--day", "today", "--mode", "full"}, j.Command, "the cron job's parameters over the definition's defaults")
	assert.Equal(t, domain.Env{"TOKEN": {Sensitive: true}}, j.Env)
	assert.Equal(t, "submitted via cron job 'every-minute'", j.Events[0].Reason)
	d = getCron(t, c, cj.ID)
	assert.Equal(t, domain.JobRunnable, d.LastJob.State, "the detail shows the job's state now")
	spec, err := a.st.JobRunSpec(context.Background(), j.CurrentRunID)
	require.NoError(t, err)
	assert.Contains(t, spec.Env, "TOKEN="+cronSecret, "the agent gets the cron job's env overrides")

	// No secret in any Temporal payload: not in the schedule, the trigger's
	// history or the job's.
	desc := describeSchedule(t, a, cj.ID)
	require.NotEmpty(t, desc.Info.RecentActions)
	recent := desc.Info.RecentActions[len(desc.Info.RecentActions)-1]
	triggerID := recent.StartWorkflowResult.WorkflowID
	assert.True(t, strings.HasPrefix(triggerID, "cron/"+cj.ID+"-"), triggerID)
	assert.True(t, recent.ScheduleTime.Truncate(time.Second).Equal(*d.LastTriggerAt),
		"the trigger's time is the schedule's nominal time: %s vs %s", recent.ScheduleTime, d.LastTriggerAt)
	for _, id := range []string{triggerID, contract.JobWorkflowID(j.ID)} {
		assert.NotContains(t, workflowHistoryText(t, a, id), cronSecret, id)
	}

	// The job outlives its cron job.
	r := c.do(http.MethodDelete, "/v1/cron-jobs/"+cj.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	kept := getJob(t, c, j.ID)
	assert.Nil(t, kept.CronJobID, "the job stays, no longer naming the deleted cron job")
	assert.Equal(t, j.Name, kept.Name)
}

// workflowHistoryText is every event of a workflow's history as text.
func workflowHistoryText(t *testing.T, a *api, workflowID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	it := a.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var sb strings.Builder
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		sb.WriteString(ev.String())
		b, _ := json.Marshal(ev)
		sb.Write(b)
	}
	require.NotZero(t, sb.Len(), "workflow %s has a history", workflowID)
	return sb.String()
}

// A trigger whose job cannot be submitted (here: the queue is disabled) is
// not a silent skip: the cron job shows why, with an event, and the
// trigger's workflow completes.
func TestCronJobTriggerOnDisabledQueueRecordsLastError(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	queueID := readyQueue(t, c, "etl")
	etlDefinition(t, c)
	cj := createCron(t, c, etlCron(map[string]any{"name": "every-minute", "expression": "0 * * * * ?"}))
	r := c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)

	triggerSchedule(t, a, cj.ID)
	d := waitForCron(t, c, cj.ID, func(d domain.CronJobDetail) bool { return d.LastError != "" })
	assert.Regexp(t, `^the trigger at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ submitted no job: job queue 'etl' is disabled: add a compute environment and enable it$`, d.LastError)
	require.NotNil(t, d.LastTriggerAt)
	require.NotNil(t, d.LastErrorAt)
	assert.Nil(t, d.LastJob)
	require.NotEmpty(t, d.Events)
	assert.Equal(t, domain.CronEventTriggerFailed, d.Events[0].Kind)
	assert.Equal(t, d.LastError, d.Events[0].Message)
	assert.Equal(t, 0, a.count("jobs"), "no job half-submitted")

	desc := describeSchedule(t, a, cj.ID)
	require.NotEmpty(t, desc.Info.RecentActions)
	triggerID := desc.Info.RecentActions[len(desc.Info.RecentActions)-1].StartWorkflowResult.WorkflowID
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var res workflows.CronTriggerWorkflowResult
	require.NoError(t, a.temporal.GetWorkflow(ctx, triggerID, "").Get(ctx, &res), "the trigger completes, it is not retried")
	assert.Equal(t, d.LastError, res.Error)

	// Once the queue is enabled again, the next trigger submits and clears the error.
	r = c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	time.Sleep(1100 * time.Millisecond) // a trigger in another second: a job name of its own
	triggerSchedule(t, a, cj.ID)
	d = waitForCron(t, c, cj.ID, func(d domain.CronJobDetail) bool { return d.LastJob != nil })
	assert.Equal(t, "", d.LastError)
	assert.Nil(t, d.LastErrorAt)
}

// The trigger's submission, run directly: it is idempotent, and every way a
// submission can be refused is recorded on the cron job.
func TestCronJobSubmitFailuresAreRecorded(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	cj := createCron(t, c, etlCron(nil))
	pinned := createCron(t, c, etlCron(map[string]any{"name": "pinned", "job_definition": "etl:1"}))
	acts := &activities.Activities{Store: a.st}
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 18, 45, 0, 0, time.UTC)
	submit := func(id string, at time.Time) activities.SubmitCronJobResult {
		t.Helper()
		res, err := acts.SubmitCronJob(ctx, activities.SubmitCronJobInput{CronJobID: id, ProjectID: c.project.ID, ScheduledAt: at})
		require.NoError(t, err)
		return res
	}

	first := submit(cj.ID, at)
	require.Empty(t, first.Error)
	assert.Equal(t, "nightly-20261129T184500Z", first.JobName)
	assert.Equal(t, domain.CronOverlapAllowAll, first.Overlap)
	assert.False(t, first.Existing)
	again := submit(cj.ID, at)
	assert.Equal(t, first.JobID, again.JobID, "a retried trigger finds its job")
	assert.True(t, again.Existing)
	assert.Equal(t, 1, a.count("jobs"))

	// A new version whose command needs a parameter the cron job does not
	// give: the cron job follows it, and its trigger says why it submitted nothing.
	r := c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"command": []string{"etl", "--day", "Param::day", "--region", "Param::region"}})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, 2, getCron(t, c, cj.ID).JobDefinition.Version, "the cron job follows the latest version")
	assert.Equal(t, 1, getCron(t, c, pinned.ID).JobDefinition.Version, "a pinned one does not")
	res := submit(cj.ID, at.Add(time.Minute))
	assert.Equal(t, "the trigger at 2026-11-29T18:46:00Z submitted no job: container_cmd: Param::region has no value: pass it in container_cmd_parameter or give the definition a default", res.Error)
	d := getCron(t, c, cj.ID)
	assert.Equal(t, res.Error, d.LastError)
	require.NotNil(t, d.LastJob, "the last job is still the one of the last good trigger")
	assert.Equal(t, first.JobID, d.LastJob.ID)
	assert.Equal(t, at.Add(time.Minute), d.LastTriggerAt.UTC())

	// A pinned version deleted behind the API's back (the API refuses it).
	_, err := a.st.Pool.Exec(ctx, `UPDATE job_definitions SET deleted_at = now() WHERE name = 'etl' AND version = 1`)
	require.NoError(t, err)
	res = submit(pinned.ID, at)
	assert.Equal(t, "the trigger at 2026-11-29T18:45:00Z submitted no job: job_definition: no job definition 'etl:1' in this project", res.Error)
	assert.Equal(t, res.Error, getCron(t, c, pinned.ID).LastError)

	// A deleted cron job: nothing to do.
	r = c.do(http.MethodDelete, "/v1/cron-jobs/"+pinned.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.True(t, submit(pinned.ID, at.Add(time.Hour)).Gone)
	assert.Equal(t, 1, a.count("jobs"))
}

// A cron job holds its queue and the definition version it runs: neither
// can be deleted under it. One that follows the latest version moves to
// each new version, which frees the older ones.
func TestCronJobHoldsItsQueueAndDefinition(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	queueID := readyQueue(t, c, "etl")
	etlDefinition(t, c)
	cj := createCron(t, c, etlCron(nil))

	r := c.do(http.MethodDelete, "/v1/job-queues/"+queueID, nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job queue 'etl' is used by cron job 'nightly': delete it or move it to another queue first", r.Message)
	r = c.do(http.MethodDelete, "/v1/job-definitions/etl:1", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
	assert.Equal(t, "job definition 'etl:1' is used by cron jobs 'nightly': point them at another version or delete them first", r.Message)

	r = c.do(http.MethodPost, "/v1/job-definitions/etl/revisions", map[string]any{"image": "ghcr.io/acme/etl:2"})
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	assert.Equal(t, domain.CronJobDefinition{Ref: "etl", ID: r.id(t), Name: "etl", Version: 2}, getCron(t, c, cj.ID).JobDefinition)
	r = c.do(http.MethodDelete, "/v1/job-definitions/etl:1", nil)
	assert.Equal(t, http.StatusOK, r.Status, "the cron job no longer runs version 1: %s", r.Raw)
	r = c.do(http.MethodDelete, "/v1/job-definitions/etl:2", nil)
	assert.Equal(t, http.StatusConflict, r.Status, r.Raw)

	// Moving the cron job frees the queue; deleting it frees the definition.
	readyQueue(t, c, "other")
	patchCron(t, c, cj.ID, map[string]any{"job_queue": "other"})
	r = c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = c.do(http.MethodDelete, "/v1/job-queues/"+queueID, nil)
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/cron-jobs/"+cj.ID, nil).Status)
	r = c.do(http.MethodDelete, "/v1/job-definitions/etl:2", nil)
	assert.Equal(t, http.StatusOK, r.Status, r.Raw)
}

// Temporal not answering: a create answers 503 and writes nothing; a server
// without Temporal says so after the request's own checks.
func TestCronJobWritesNothingWhenTemporalIsDown(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	sc, handle := &mocks.ScheduleClient{}, &mocks.ScheduleHandle{}
	tc.On("ScheduleClient").Return(sc)
	sc.On("Create", mock.Anything, mock.Anything).Return(nil, serviceerror.NewUnavailable("connection refused"))
	sc.On("GetHandle", mock.Anything, mock.Anything).Return(handle).Maybe()
	handle.On("Delete", mock.Anything).Return(serviceerror.NewNotFound("no schedule")).Maybe()
	tc.On("TerminateWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(serviceerror.NewNotFound("no workflow")).Maybe()
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	r := c.do(http.MethodPost, "/v1/cron-jobs", etlCron(nil))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "cannot create the cron job's schedule: Temporal did not answer; nothing was changed, try again (GET /readyz shows what is down)", r.Message)
	assert.Equal(t, 0, a.count("cron_jobs"))
	assert.Equal(t, 0, a.count("cron_job_events"))
	opts := sc.Calls[0].Arguments.Get(1).(temporalclient.ScheduleOptions)
	assert.NotContains(t, fmt.Sprintf("%+v", opts), "today", "the schedule carries IDs, not the overrides")

	noTemporal := newAPI(t)
	nc := noTemporal.newProject("acme")
	readyQueue(t, nc, "etl")
	etlDefinition(t, nc)
	r = nc.do(http.MethodPost, "/v1/cron-jobs", etlCron(map[string]any{"job_queue": "nope"}))
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	r = nc.do(http.MethodPost, "/v1/cron-jobs", etlCron(nil))
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, r.Raw)
	assert.Equal(t, "cannot create the cron job's schedule: Temporal is not configured on this server", r.Message)
	assert.Equal(t, 0, noTemporal.count("cron_jobs"))
}

// A cron job's env overrides are sealed like a job's and survive a master
// key rotation.
func TestCronJobEnvIsSealedAndRotates(t *testing.T) {
	t.Parallel()
	a, oldKey := newAPIWithKey(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	spec, err := domain.CronJobInput{Name: "nightly", Expression: "0 0 3 * * ?", JobDefinition: "etl", JobQueue: "etl",
		ContainerCmdParameter: map[string]string{"day": "today"},
		ContainerEnv:          map[string]domain.EnvVarInput{"TOKEN": {Value: ptr(cronSecret), Sensitive: true}}}.Normalize("acme")
	require.NoError(t, err)
	cj, err := a.st.CreateCronJob(context.Background(), c.project.ID, spec,
		func(domain.CronJob) (domain.CronScheduleState, error) { return domain.CronScheduleState{}, nil })
	require.NoError(t, err)

	newKey := randomKey(t)
	rotating, err := secrets.NewKeyring(newKey, oldKey)
	require.NoError(t, err)
	n, err := a.withKeyring(rotating).st.RotateSecrets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the definition's env and the cron job's")
	newOnly, err := secrets.NewKeyring(newKey)
	require.NoError(t, err)
	got, err := a.withKeyring(newOnly).st.CronJob(context.Background(), c.project.ID, cj.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.Env{"TOKEN": {Value: cronSecret, Sensitive: true}}, got.ContainerEnv)
}

func ptr[T any](v T) *T { return &v }

// FuzzCronJobCreateBodies sends arbitrary bodies to POST /v1/cron-jobs on a
// server with Temporal (FuzzCreateBodies' servers have none): never a 5xx,
// a rejection writes nothing, an acceptance writes the cron job and its
// first event and creates its schedule. `go test` runs the seeds.
func FuzzCronJobCreateBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"n1","expression":"0 30 2 * * ?","job_definition":"etl","job_queue":"etl","container_cmd_parameter":{"day":"d"}}`,
		`{"name":"n2","expression":"*/5 * * * * ?","job_definition":"acme::etl:1","job_queue":"acme::etl","container_cmd_parameter":{"day":"d"},"time_zone":"Asia/Kolkata","overlap":"skip","enabled":false}`,
		`{"name":"n3","expression":"0 0 9 ? * 6#3 2030","job_definition":"etl","job_queue":"etl","container_cmd_parameter":{"day":"d"},"container_env":{"K":{"value":"v","sensitive":true}}}`,
		`{"name":"n4","expression":"0 0 0 LW * ?","job_definition":"etl","job_queue":"etl","container_cmd":[],"time_zone":"America/Santiago"}`,
		`{"name":"n5","expression":"0 0 0 ? * 8","job_definition":"etl","job_queue":"etl"}`,
		`{"name":"n6","expression":"0 0 0 1 1 ? 2199","job_definition":"etl","job_queue":"etl","container_cmd_parameter":{"day":"d"}}`,
		`{"name":"n7","expression":"0 0 0 * * ?","job_definition":"etl","job_queue":"etl"}`,
		`{"name":"","expression":"","job_definition":"","job_queue":""}`, `{"time_zone":"Local"}`, ``, `null`, `[]`, `{`,
		"{\"name\":\"\u00e9\u0000\",\"expression\":\"0 0 0 ? * \u0000\"}",
	} {
		f.Add([]byte(s))
	}
	a := newCronAPI(f)
	c := a.newProject("acme")
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "etl", "type": "docker", "image": "busybox:1",
		"command": []string{"echo", "Param::day"}}).id(f)
	envID := c.do(http.MethodPost, "/v1/compute-envs", map[string]any{"name": "boxes", "kind": "selfhosted"}).id(f)
	queueID := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 10}).id(f)
	require.Less(f, c.do(http.MethodPost, "/v1/job-queues/"+queueID+"/compute-envs", map[string]any{"compute_env_id": envID}).Status, 300)
	require.Less(f, c.do(http.MethodPatch, "/v1/job-queues/"+queueID, map[string]any{"enabled": true}).Status, 300)

	f.Fuzz(func(t *testing.T, body []byte) {
		tc := client{a: &api{t: t, url: a.url, st: a.st, temporal: a.temporal}, key: c.key, project: c.project}
		crons, events := tc.a.count("cron_jobs"), tc.a.count("cron_job_events")
		r := tc.do(http.MethodPost, "/v1/cron-jobs", string(body))
		require.Less(t, r.Status, 500, "%q → %s", body, r.Raw)
		if !r.OK {
			assert.NotEmpty(t, r.Message)
			assert.Equal(t, crons, tc.a.count("cron_jobs"), "a rejected request writes nothing: %q → %s", body, r.Raw)
			assert.Equal(t, events, tc.a.count("cron_job_events"))
			return
		}
		assert.Equal(t, crons+1, tc.a.count("cron_jobs"))
		assert.Equal(t, events+1, tc.a.count("cron_job_events"))
		id := r.id(t)
		_, err := scheduleHandle(tc.a, id).Describe(context.Background())
		assert.NoError(t, err, "an accepted cron job has its schedule")
		require.Equal(t, http.StatusOK, tc.do(http.MethodDelete, "/v1/cron-jobs/"+id, nil).Status)
	})
}

// Calendars that hold only for a while (a day-of-week schedule in a zone
// whose spring-forward skips midnight) get a refresh workflow, are rebuilt
// when due, and the refresh workflow ends with the cron job.
func TestCronJobCalendarsAreRefreshed(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	const expr, tz = "0 0 12 ? * MON", "America/Santiago"
	cj := createCron(t, c, etlCron(map[string]any{"expression": expr, "time_zone": tz}))
	ctx := context.Background()
	refreshAfter := func() *time.Time {
		var ra *time.Time
		require.NoError(t, a.st.Pool.QueryRow(ctx, `SELECT schedule_refresh_after FROM cron_jobs WHERE id = $1`, cj.ID).Scan(&ra))
		return ra
	}
	first := refreshAfter()
	require.NotNil(t, first, "these calendars are exact only until the next midnight that a spring-forward skips")
	assert.True(t, first.After(time.Now().Add(300*24*time.Hour)), "exact for at least a year: %s", first)
	desc, err := a.temporal.DescribeWorkflowExecution(ctx, contract.CronRefreshWorkflowID(cj.ID), "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "a refresh workflow keeps them exact")

	// Make the calendars due: the upcoming list rebuilds them first.
	_, err = a.st.Pool.Exec(ctx, `UPDATE cron_jobs SET schedule_translated_at = now() - interval '400 days',
		schedule_refresh_after = now() + interval '1 day' WHERE id = $1`, cj.ID)
	require.NoError(t, err)
	u := getUpcoming(t, c, cj.ID, "?count=20")
	assertSameTimes(t, ourUpcoming(t, expr, tz, time.Now(), 20), u.times(t))
	second := refreshAfter()
	require.NotNil(t, second)
	assert.True(t, second.After(time.Now().Add(300*24*time.Hour)), "rebuilt from now: %s", second)
	ev := getCron(t, c, cj.ID).Events
	assert.Equal(t, domain.CronEventScheduleRefreshed, ev[0].Kind)
	assert.True(t, strings.HasPrefix(ev[0].Message, "schedule calendars rebuilt; exact until "), ev[0].Message)

	// A cron job in UTC is exact forever: no refresh workflow.
	utc := createCron(t, c, etlCron(map[string]any{"name": "utc", "expression": expr}))
	_, err = a.temporal.DescribeWorkflowExecution(ctx, contract.CronRefreshWorkflowID(utc.ID), "")
	var notFound *serviceerror.NotFound
	assert.ErrorAs(t, err, &notFound)

	require.Equal(t, http.StatusOK, c.do(http.MethodDelete, "/v1/cron-jobs/"+cj.ID, nil).Status)
	desc, err = a.temporal.DescribeWorkflowExecution(ctx, contract.CronRefreshWorkflowID(cj.ID), "")
	require.NoError(t, err)
	assert.NotEqual(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.WorkflowExecutionInfo.Status, "it ends with its cron job")
}

// A trigger's job and the cron job's record of it commit together, and a
// trigger that gives up after its job committed (the answer lost, then
// Postgres gone until the deadline) marks that job error: no job is ever
// left submitted with no workflow to move it.
func TestCronTriggerJobIsNeverLeftSubmittedWithoutAWorkflow(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ctx := context.Background()
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	spec, err := domain.CronJobInput{Name: "nightly", Expression: "0 0 3 * * ?", JobDefinition: "etl", JobQueue: "etl",
		ContainerCmdParameter: map[string]string{"day": "today"}}.Normalize("acme")
	require.NoError(t, err)
	cj, err := a.st.CreateCronJob(ctx, c.project.ID, spec,
		func(domain.CronJob) (domain.CronScheduleState, error) { return domain.CronScheduleState{}, nil })
	require.NoError(t, err)
	at := time.Date(2026, 11, 29, 18, 45, 0, 0, time.UTC)
	sub := func(at time.Time) domain.SubmitJob {
		return domain.SubmitJob{DefinitionName: "etl", QueueName: "etl", Name: domain.CronJobName("nightly", at),
			Parameters: map[string]string{"day": "today"}, Via: "cron job 'nightly'"}
	}

	// A record that cannot be written (the cron job is not the project's)
	// takes its job with it.
	other := a.newProject("other")
	readyQueue(t, other, "etl")
	etlDefinition(t, other)
	_, err = a.st.SubmitCronTriggerJob(ctx, other.project.ID, cj.ID, at, sub(at))
	assert.Equal(t, domain.ENOTFOUND, domain.ErrorCode(err), "%v", err)
	assert.Equal(t, 0, a.count("jobs"), "no job without the cron job's record of it")

	j, err := a.st.SubmitCronTriggerJob(ctx, c.project.ID, cj.ID, at, sub(at))
	require.NoError(t, err)
	d := getCron(t, c, cj.ID)
	require.NotNil(t, d.LastJob)
	assert.Equal(t, j.ID, d.LastJob.ID, "recorded in the submission's transaction")
	assert.Equal(t, domain.CronEventTriggered, d.Events[0].Kind)
	assert.Nil(t, d.ScheduleStatus, "no Temporal on this server")
	assert.Equal(t, []string{}, d.Warnings)

	// The trigger never heard back and gave up; the cron job was renamed meanwhile.
	_, err = a.st.Pool.Exec(ctx, `UPDATE cron_jobs SET name = 'renamed' WHERE id = $1`, cj.ID)
	require.NoError(t, err)
	acts := &activities.Activities{Store: a.st}
	note := activities.CronTriggerNote(at, "daestro could not submit the job within 10m0s (conn closed)")
	res, err := acts.AbandonCronTrigger(ctx, activities.AbandonCronTriggerInput{CronJobID: cj.ID, ProjectID: c.project.ID, ScheduledAt: at, Note: note})
	require.NoError(t, err)
	assert.Equal(t, j.ID, res.JobID)
	got := getJob(t, c, j.ID)
	assert.Equal(t, domain.JobError, got.State, "not submitted forever")
	assert.Equal(t, "its cron trigger gave up before starting it: "+note, got.SystemNote)
	d = getCron(t, c, cj.ID)
	assert.Equal(t, note+"; job nightly-20261129T184500Z, submitted without its workflow, was marked error", d.LastError)
	assert.Equal(t, domain.CronEventTriggerFailed, d.Events[0].Kind)
	require.NotNil(t, d.Events[0].JobID)
	assert.Equal(t, j.ID, *d.Events[0].JobID)
	require.NotNil(t, d.LastJob)
	assert.Equal(t, domain.JobError, d.LastJob.State)

	// A trigger that gave up before its job committed finds none; a job its
	// workflow already moved on is left alone.
	later := at.Add(time.Minute)
	moved, err := a.st.SubmitCronTriggerJob(ctx, c.project.ID, cj.ID, later, sub(later))
	require.NoError(t, err)
	require.NoError(t, a.st.SetJobRunState(ctx, moved.CurrentRunID, domain.JobRunnable, "placed in queue", store.RunFields{}))
	for _, when := range []time.Time{later, later.Add(time.Minute)} {
		res, err = acts.AbandonCronTrigger(ctx, activities.AbandonCronTriggerInput{CronJobID: cj.ID, ProjectID: c.project.ID, ScheduledAt: when,
			Note: activities.CronTriggerNote(when, "daestro could not submit the job within 10m0s (conn closed)")})
		require.NoError(t, err)
		assert.Equal(t, "", res.JobID)
	}
	assert.Equal(t, domain.JobRunnable, getJob(t, c, moved.ID).State)
}

// The refresh workflow a schedule needs starts only once the cron job is
// committed (it reads the row, and would end finding none); when it cannot
// start, the change stays saved and the answer says so.
func TestCronRefresherStartsAfterTheCommit(t *testing.T) {
	t.Parallel()
	a, tc := mockedTemporalAPI(t)
	sc, handle := &mocks.ScheduleClient{}, &mocks.ScheduleHandle{}
	tc.On("ScheduleClient").Return(sc)
	sc.On("Create", mock.Anything, mock.Anything).Return(handle, nil)
	sc.On("GetHandle", mock.Anything, mock.Anything).Return(handle)
	handle.On("Update", mock.Anything, mock.Anything).Return(nil)
	var (
		mu      sync.Mutex
		seen    []string // the description committed when the refresher was started
		refused bool
	)
	tc.On("SignalWithStartWorkflow", mock.Anything, mock.Anything, contract.SignalCronRescheduled, mock.Anything, mock.Anything,
		contract.CronRefreshWorkflowName, mock.Anything).
		Return(func(ctx context.Context, id, _ string, _ any, _ temporalclient.StartWorkflowOptions, _ any, _ ...any) (temporalclient.WorkflowRun, error) {
			var desc string
			err := a.st.Pool.QueryRow(ctx, `SELECT description FROM cron_jobs WHERE id = $1`, strings.TrimPrefix(id, "cron-refresh/")).Scan(&desc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				desc = "no row: " + err.Error()
			}
			seen = append(seen, desc)
			if refused {
				return nil, serviceerror.NewUnavailable("connection refused")
			}
			return &mocks.WorkflowRun{}, nil
		}, nil)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)

	// Calendars that hold only for a while: a day of the week in a zone
	// whose spring-forward skips midnight.
	cj := createCron(t, c, etlCron(map[string]any{"expression": "0 0 12 ? * MON", "time_zone": "America/Santiago", "description": "v1"}))
	assert.Equal(t, []string{}, cj.Warnings)
	patchCron(t, c, cj.ID, map[string]any{"description": "v2"})
	mu.Lock()
	assert.Equal(t, []string{"v1", "v2"}, seen, "started, then signalled, each time with the change committed")
	refused = true
	mu.Unlock()

	w := patchCron(t, c, cj.ID, map[string]any{"description": "v3"})
	require.Len(t, w.Warnings, 1)
	assert.Regexp(t, `^schedule: saved, but the workflow that keeps its calendars exact past \S+ could not be started \(Temporal did not answer\); `, w.Warnings[0])
	assert.Equal(t, "v3", w.Description)
	var desc string
	require.NoError(t, a.st.Pool.QueryRow(context.Background(), `SELECT description FROM cron_jobs WHERE id = $1`, cj.ID).Scan(&desc))
	assert.Equal(t, "v3", desc, "the change stays: the calendars hold for a year and triggers start the refresher again")
}

// A cron job whose trigger waits for a job that never finishes (overlap
// skip, no compute) goes quiet: its detail says why, with what Temporal
// skipped.
func TestCronJobDetailExplainsSkippedTriggers(t *testing.T) {
	t.Parallel()
	a := newCronAPI(t)
	c := a.newProject("acme")
	readyQueue(t, c, "etl")
	etlDefinition(t, c)
	cj := createCron(t, c, etlCron(map[string]any{"overlap": "skip"}))
	d := getCron(t, c, cj.ID)
	require.NotNil(t, d.ScheduleStatus)
	assert.Equal(t, domain.CronScheduleStatus{}, *d.ScheduleStatus)
	assert.Equal(t, []string{}, d.Warnings)

	triggerSchedule(t, a, cj.ID)
	d = waitForCron(t, c, cj.ID, func(d domain.CronJobDetail) bool {
		return d.LastJob != nil && d.ScheduleStatus != nil && d.ScheduleStatus.WaitingTriggers == 1
	})
	job := d.LastJob.Name
	time.Sleep(1100 * time.Millisecond) // a trigger in another second
	triggerSchedule(t, a, cj.ID)
	d = waitForCron(t, c, cj.ID, func(d domain.CronJobDetail) bool { return d.ScheduleStatus.OverlapSkipped == 1 })
	assert.Equal(t, job, d.LastJob.Name, "the skipped trigger submitted nothing")
	assert.Equal(t, 1, d.ScheduleStatus.WaitingTriggers)
	require.Len(t, d.Warnings, 1)
	assert.Regexp(t, `^overlap: skip: a trigger is waiting for job `+job+` \(now (submitted|runnable)\) to finish, so triggers meanwhile are skipped \(1 so far\); `, d.Warnings[0])
}
