package cronsched

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
	_ "time/tzdata"

	"daestro/internal/quartz"
)

// TestMatchesReference checks many generated expressions against the copy
// of Temporal's walk, without a server.
func TestMatchesReference(t *testing.T) {
	g := newGen(1)
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		expr := g.expr(i%2 == 0)
		zone := testZones[i%len(testZones)]
		loc, _ := time.LoadLocation(zone)
		from := g.from(loc)
		s, err := quartz.Parse(expr)
		if err != nil {
			t.Fatalf("generated %q does not parse: %v", expr, err)
		}
		checkAgainstRef(t, expr, s, zone, from, 20)
	}
}

// checkAgainstRef translates s and compares the first n fire times after
// from under the copy of Temporal's walk with quartz's.
func checkAgainstRef(t *testing.T, expr string, s *quartz.Schedule, zone string, from time.Time, n int) {
	t.Helper()
	loc, _ := time.LoadLocation(zone)
	from = from.In(loc)
	tr, err := Translate(s, zone, from)
	if err != nil {
		next := s.Next(from)
		if next.IsZero() || !next.Before(temporalEnd(loc)) {
			return // refused, rightly
		}
		t.Errorf("%q in %s from %s: Translate: %v", expr, zone, from, err)
		return
	}
	rs, err := newRefSpec(tr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	want := s.Upcoming(from, n)
	end := temporalEnd(loc)
	for len(want) > 0 && !want[len(want)-1].Before(end) {
		want = want[:len(want)-1] // Temporal fires nothing after 2100
	}
	got := rs.upcoming(from, n)
	compareTimes(t, expr, zone, from, got, want, tr)
}

// compareTimes reports the first difference between Temporal's fire times
// and quartz's.
func compareTimes(t *testing.T, expr, zone string, from time.Time, got, want []time.Time, tr Translation) {
	t.Helper()
	loc, _ := time.LoadLocation(zone)
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w time.Time
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !g.Equal(w) {
			t.Errorf("%q in %s from %s: fire time %d: Temporal %s, quartz %s (%d calendars, %d skips)",
				expr, zone, from.Format(time.RFC3339), i, fmtTime(g, loc), fmtTime(w, loc), len(tr.Spec.Calendars), len(tr.Spec.Skip))
			return
		}
	}
}

func fmtTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "none"
	}
	return t.In(loc).Format("2006-01-02 15:04:05 MST (Mon)")
}

// TestRefreshAfter: where Temporal checks the weekday of the wrong day, the
// spec is patched up to the horizon and RefreshAfter falls before the
// first unpatched day, which Temporal would get wrong.
func TestRefreshAfter(t *testing.T) {
	const zone = "America/Santiago" // skips midnight on the first Sunday of September
	loc, _ := time.LoadLocation(zone)
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	// The transitions: 2026-09-06, 2027-09-05, 2028-09-03, 2029-09-02,
	// 2030-09-08, 2031-09-07, 2032-09-05, 2033-09-04, 2034-09-03. Just before
	// one, at 00:00 -04, is 23:59:59 -04 the day before.
	before := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d-1, 23, 59, 59, 0, loc) }
	for _, tt := range []struct {
		expr    string
		refresh time.Time
		patched []string
	}{
		// Temporal would fire on Sunday, seen as Saturday. 100 Saturdays
		// cover two Septembers.
		{"0 0 9 ? * SAT", before(2028, 9, 3), []string{"skip 2026-09-06", "skip 2027-09-05"}},
		// Temporal would miss Sunday.
		{"0 0 9 ? * SUN", before(2028, 9, 3), []string{"2026-09-06", "2027-09-05"}},
		// 100 first Sundays of the month take 8 years; 2030-09-08 is the second Sunday.
		{"0 0 9 ? * 1#1", before(2034, 9, 3), []string{"2026-09-06", "2027-09-05", "2028-09-03", "2029-09-02",
			"skip 2030-09-08", "2031-09-07", "2032-09-05", "2033-09-04"}},
	} {
		s := mustParse(t, tt.expr)
		tr, err := Translate(s, zone, from)
		if err != nil {
			t.Fatal(err)
		}
		if !tr.RefreshAfter.Equal(tt.refresh) {
			t.Errorf("%q: RefreshAfter = %s, want %s", tt.expr, tr.RefreshAfter.In(loc), tt.refresh)
		}
		patched := map[string]bool{}
		for _, c := range tr.Spec.Calendars {
			if c.Year != nil && len(c.Year) == 1 && c.Year[0].Start == c.Year[0].End {
				patched[fmt.Sprintf("%d-%02d-%02d", c.Year[0].Start, c.Month[0].Start, c.DayOfMonth[0].Start)] = true
			}
		}
		for _, c := range tr.Spec.Skip {
			patched[fmt.Sprintf("skip %d-%02d-%02d", c.Year[0].Start, c.Month[0].Start, c.DayOfMonth[0].Start)] = true
		}
		want := map[string]bool{}
		for _, p := range tt.patched {
			want[p] = true
		}
		if !reflect.DeepEqual(patched, want) {
			t.Errorf("%q: patched days %v, want %v", tt.expr, patched, want)
		}
		rs, err := newRefSpec(tr.Spec)
		if err != nil {
			t.Fatal(err)
		}
		// Exact up to RefreshAfter.
		var upToRefresh []time.Time
		for _, f := range s.Upcoming(from, 200) {
			if !f.After(tr.RefreshAfter) {
				upToRefresh = append(upToRefresh, f)
			}
		}
		compareTimes(t, tt.expr, zone, from, rs.upcoming(from, len(upToRefresh)), upToRefresh, tr)
		// Past RefreshAfter the spec is wrong on the next transition day;
		// rebuilt from RefreshAfter, it is right again.
		after := tr.RefreshAfter.AddDate(0, 0, -7)
		if g, w := rs.upcoming(after, 3), s.Upcoming(after, 3); slices.EqualFunc(g, w, time.Time.Equal) {
			t.Errorf("%q: the spec is still exact after RefreshAfter; the patch is not needed", tt.expr)
		}
		tr2, err := Translate(s, zone, tr.RefreshAfter)
		if err != nil {
			t.Fatal(err)
		}
		if !tr2.RefreshAfter.After(tr.RefreshAfter.AddDate(0, 11, 0)) {
			t.Errorf("%q: rebuilt RefreshAfter %s", tt.expr, tr2.RefreshAfter)
		}
		checkAgainstRef(t, tt.expr, s, zone, tr.RefreshAfter, 100)
	}
}
