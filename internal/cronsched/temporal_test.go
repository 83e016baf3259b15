package cronsched

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"daestro/internal/config"
	"daestro/internal/quartz"
	"daestro/internal/testenv"
)

// equivCase is one expression in one zone from one instant.
type equivCase struct {
	expr, zone string
	from       time.Time
}

func at(zone string, y int, m time.Month, d, h, mi int) time.Time {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		panic(err)
	}
	return time.Date(y, m, d, h, mi, 0, 0, loc)
}

// edgeCases are daylight-saving transitions picked by hand: each kind of
// jump, in zones west and east of UTC, on and off the hour, and midnights
// that do not exist.
var edgeCases = []equivCase{
	{"0 30 1 * * ?", "America/New_York", at("America/New_York", 2026, 10, 31, 12, 0)},
	{"0 0,30 * * * ?", "America/New_York", at("America/New_York", 2026, 10, 31, 23, 10)},
	{"0 30 2 * * ?", "America/New_York", at("America/New_York", 2026, 3, 6, 12, 0)},
	{"0 15,45 2 * * ?", "America/New_York", at("America/New_York", 2026, 3, 7, 12, 0)},
	{"0 30 1 * * ?", "Europe/Berlin", at("Europe/Berlin", 2026, 10, 24, 12, 0)},
	{"0 30 2 * * ?", "Europe/Berlin", at("Europe/Berlin", 2026, 10, 24, 12, 0)},
	{"0 0,30 1,2 * * ?", "Europe/Berlin", at("Europe/Berlin", 2026, 10, 24, 12, 0)},
	{"0 0,30 * * * ?", "Europe/Berlin", at("Europe/Berlin", 2026, 10, 25, 0, 20)},
	{"0 15,45 2 * * ?", "Europe/Berlin", at("Europe/Berlin", 2026, 3, 28, 12, 0)},
	{"0 30 0 * * ?", "Europe/London", at("Europe/London", 2026, 10, 24, 12, 0)},
	{"0 0,15,45 1,2 * * ?", "Australia/Lord_Howe", at("Australia/Lord_Howe", 2026, 4, 4, 12, 0)},
	{"0 15,45 2 * * ?", "Australia/Lord_Howe", at("Australia/Lord_Howe", 2026, 10, 3, 12, 0)},
	{"0 10,50 2,3,4 * * ?", "Pacific/Chatham", at("Pacific/Chatham", 2026, 4, 4, 12, 0)},
	{"0 10,50 2,3 * * ?", "Pacific/Chatham", at("Pacific/Chatham", 2026, 9, 26, 12, 0)},
	// Midnight skipped: Santiago on the first Sunday of September, Havana on
	// the second Sunday of March, Beirut on the last Sunday of March.
	{"0 0 9 ? * SUN", "America/Santiago", at("America/Santiago", 2026, 8, 20, 12, 0)},
	{"0 0 9 ? * SAT", "America/Santiago", at("America/Santiago", 2026, 8, 20, 12, 0)},
	{"0 30 0,1 ? * MON-FRI", "America/Santiago", at("America/Santiago", 2026, 9, 1, 12, 0)},
	{"0 0 12 ? * 1#1", "America/Santiago", at("America/Santiago", 2026, 8, 1, 12, 0)},
	{"0 0 12 6W * ?", "America/Santiago", at("America/Santiago", 2026, 8, 1, 12, 0)},
	{"0 30 23 ? * SAT", "America/Santiago", at("America/Santiago", 2026, 4, 1, 12, 0)},
	{"0 0 8 ? * 1", "America/Havana", at("America/Havana", 2026, 3, 1, 12, 0)},
	{"0 0 12 ? * 1L", "Asia/Beirut", at("Asia/Beirut", 2026, 3, 1, 12, 0)},
	// Leap years and month ends.
	{"0 0 0 L 2 ?", "UTC", at("UTC", 2026, 1, 1, 0, 0)},
	{"0 0 0 LW * ?", "UTC", at("UTC", 2026, 1, 1, 0, 0)},
	{"0 0 0 1W * ?", "UTC", at("UTC", 2026, 1, 1, 0, 0)},
	{"0 0 0 29W 2 ?", "UTC", at("UTC", 2026, 1, 1, 0, 0)},
	{"0 0 0 L-3 * ?", "Asia/Kolkata", at("Asia/Kolkata", 2026, 1, 1, 0, 0)},
	{"0 0 0 ? * 6#5", "UTC", at("UTC", 2026, 1, 1, 0, 0)},
	{"0 0 12 1 1 ? 2095-2199", "UTC", at("UTC", 2026, 1, 1, 0, 0)},
}

// generatedCases returns n expressions from a fixed seed, spread over the
// test zones.
func generatedCases(seed uint64, n int) []equivCase {
	g := newGen(seed)
	var out []equivCase
	for i := 0; len(out) < n; i++ {
		zone := testZones[i%len(testZones)]
		loc, _ := time.LoadLocation(zone)
		c := equivCase{expr: g.expr(i%2 == 0), zone: zone, from: g.from(loc)}
		s, err := quartz.Parse(c.expr)
		if err != nil {
			panic(fmt.Sprintf("generated %q does not parse: %v", c.expr, err))
		}
		if next := s.Next(c.from); next.IsZero() || !next.Before(temporalEnd(loc)) {
			continue // Translate refuses it; TestTranslateErrors covers that
		}
		out = append(out, c)
	}
	return out
}

// TestEdgeCasesMatchReference runs the hand-picked cases through the copy
// of Temporal's walk; TestEquivalenceOnTemporal runs them on a server.
func TestEdgeCasesMatchReference(t *testing.T) {
	for _, c := range edgeCases {
		checkAgainstRef(t, c.expr, mustParse(t, c.expr), c.zone, c.from, 20)
	}
}

// TestEquivalenceOnTemporal is the acceptance test: for hundreds of
// expressions in zones with every kind of daylight-saving rule, a paused
// Temporal schedule with the translated spec lists the same first 20 fire
// times as quartz.
func TestEquivalenceOnTemporal(t *testing.T) {
	c := testenv.Temporal(t)
	const fires = 20
	cases := append(append([]equivCase{}, edgeCases...), generatedCases(42, 300)...)
	prefix := testenv.RandomName("cronsched-test")

	var (
		created   sync.Map // schedule ID → struct{}
		failed    atomic.Int32
		wg        sync.WaitGroup
		sem       = make(chan struct{}, 8)
		ctx, stop = context.WithTimeout(context.Background(), 3*time.Minute)
	)
	defer stop()
	t.Cleanup(func() { deleteSchedules(t, c, &created) })

	start := time.Now()
	for i, ec := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := fmt.Sprintf("%s-%d", prefix, i)
			if err := checkOnServer(ctx, c, id, ec, fires, &created); err != nil {
				if failed.Add(1) <= 20 {
					t.Errorf("%q in %s from %s: %v", ec.expr, ec.zone, ec.from.Format(time.RFC3339), err)
				}
			}
			// Delete it now, to spread the server's work; the cleanup
			// deletes what is left.
			if _, ok := created.Load(id); ok && c.ScheduleClient().GetHandle(ctx, id).Delete(ctx) == nil {
				created.Delete(id)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d schedules created, checked and deleted in %v", len(cases), time.Since(start).Round(time.Millisecond))
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d expressions differ", n, len(cases))
	}
}

// checkOnServer creates the paused schedule and compares its matching
// times with quartz's. A mismatch is an error naming the first differing
// fire time.
func checkOnServer(ctx context.Context, c client.Client, id string, ec equivCase, n int, created *sync.Map) error {
	s, err := quartz.Parse(ec.expr)
	if err != nil {
		return err
	}
	loc, _ := time.LoadLocation(ec.zone)
	from := ec.from.In(loc)
	tr, err := Translate(s, ec.zone, from)
	if err != nil {
		return fmt.Errorf("translate: %w", err)
	}
	tr.Spec.Jitter = 0
	_, err = c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:     id,
		Spec:   tr.Spec,
		Paused: true,
		Action: &client.ScheduleWorkflowAction{ID: id + "-wf", Workflow: "CronschedTestNothing", TaskQueue: "cronsched-test-nothing"},
	})
	if err != nil {
		return fmt.Errorf("create schedule: %w", err)
	}
	created.Store(id, struct{}{})

	end := temporalEnd(loc)
	want := s.Upcoming(from, n)
	for len(want) > 0 && !want[len(want)-1].Before(end) {
		want = want[:len(want)-1]
	}
	windowEnd := end
	if len(want) == n {
		windowEnd = want[n-1]
	}
	var resp *workflowservice.ListScheduleMatchingTimesResponse
	for attempt := 0; ; attempt++ {
		resp, err = c.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
			Namespace:  config.DefaultTemporalNamespace,
			ScheduleId: id,
			StartTime:  timestamppb.New(from),
			EndTime:    timestamppb.New(windowEnd),
		})
		if err == nil || attempt == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // the scheduler may not answer queries yet
	}
	if err != nil {
		return fmt.Errorf("list matching times: %w", err)
	}
	got := make([]time.Time, len(resp.StartTime))
	for i, ts := range resp.StartTime {
		got[i] = ts.AsTime()
	}
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w time.Time
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !g.Equal(w) {
			return fmt.Errorf("fire time %d: Temporal %s, quartz %s (%d calendars, %d skips)",
				i, fmtTime(g, loc), fmtTime(w, loc), len(tr.Spec.Calendars), len(tr.Spec.Skip))
		}
	}
	return nil
}

// deleteSchedules deletes the test's schedules, a few at a time.
func deleteSchedules(t *testing.T, c client.Client, created *sync.Map) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	created.Range(func(k, _ any) bool {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.ScheduleClient().GetHandle(ctx, k.(string)).Delete(ctx); err != nil {
				t.Logf("delete schedule %s: %v", k, err)
			}
		}()
		return true
	})
	wg.Wait()
}
