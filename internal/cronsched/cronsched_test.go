package cronsched

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"daestro/internal/domain"
	"daestro/internal/quartz"
)

func mustParse(tb testing.TB, expr string) *quartz.Schedule {
	tb.Helper()
	s, err := quartz.Parse(expr)
	if err != nil {
		tb.Fatalf("parse %q: %v", expr, err)
	}
	return s
}

var jan2026 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// r is the range a-b, rs a-b/s, r1 the single value a, list a field.
func r(a, b int) client.ScheduleRange                        { return client.ScheduleRange{Start: a, End: b} }
func rs(a, b, s int) client.ScheduleRange                    { return client.ScheduleRange{Start: a, End: b, Step: s} }
func r1(a int) client.ScheduleRange                          { return client.ScheduleRange{Start: a, End: a} }
func list(rr ...client.ScheduleRange) []client.ScheduleRange { return rr }

// cal is a calendar at 00:00:00 on the given days.
func cal(month, dom, dow, year []client.ScheduleRange) client.ScheduleCalendarSpec {
	return client.ScheduleCalendarSpec{
		Second: list(r1(0)), Minute: list(r1(0)), Hour: list(r1(0)),
		DayOfMonth: dom, Month: month, DayOfWeek: dow, Year: year,
	}
}

var (
	allMonths = list(r(1, 12))
	allDoms   = list(r(1, 31))
	allDows   = list(r(0, 6))
	months31  = list(rs(1, 7, 2), rs(8, 12, 2))
	months30  = list(r1(4), r1(6), r1(9), r1(11))
	feb       = list(r1(2))
	leap      = list(rs(2000, 2096, 4))
	nonLeap   = func() []client.ScheduleRange {
		var out []client.ScheduleRange
		for y := 2001; y < 2097; y += 4 {
			out = append(out, r(y, y+2))
		}
		return append(out, r(2097, 2100))
	}()
	monFri = list(r(1, 5))
	mon    = list(r1(1))
	fri    = list(r1(5))
)

// TestTranslateCalendars pins the construction of each form.
func TestTranslateCalendars(t *testing.T) {
	tests := []struct {
		expr string
		want []client.ScheduleCalendarSpec
	}{
		{"0 0 0 * * ?", []client.ScheduleCalendarSpec{cal(allMonths, allDoms, allDows, nil)}},
		{"0 0 0 1,15,20-25 * ?", []client.ScheduleCalendarSpec{cal(allMonths, list(r1(1), r1(15), r(20, 25)), allDows, nil)}},
		{"0 0 0 */10 NOV-FEB ?", []client.ScheduleCalendarSpec{cal(list(r(1, 2), r(11, 12)), list(rs(1, 31, 10)), allDows, nil)}},
		// Quartz 1 = Sunday is Temporal 0; FRI-MON wraps.
		{"0 0 0 ? * FRI-MON", []client.ScheduleCalendarSpec{cal(allMonths, allDoms, list(r(0, 1), r(5, 6)), nil)}},
		{"0 0 0 ? * L", []client.ScheduleCalendarSpec{cal(allMonths, allDoms, list(r1(6)), nil)}},
		{"0 0 0 ? * 6#3", []client.ScheduleCalendarSpec{cal(allMonths, list(r(15, 21)), list(r1(5)), nil)}},
		{"0 0 0 ? * 2#5", []client.ScheduleCalendarSpec{cal(allMonths, list(r(29, 31)), list(r1(1)), nil)}},
		{"0 0 0 ? 1 2 2030,2040-2045", []client.ScheduleCalendarSpec{cal(list(r1(1)), allDoms, list(r1(1)), list(r1(2030), r(2040, 2045)))}},
		// Years outside Temporal's 2000–2100 are dropped.
		{"0 0 0 1 1 ? 1990-2199", []client.ScheduleCalendarSpec{cal(list(r1(1)), list(r1(1)), allDows, nil)}},
		{"0 0 0 1 1 ? 2090-2150", []client.ScheduleCalendarSpec{cal(list(r1(1)), list(r1(1)), allDows, list(r(2090, 2100)))}},
		{"0 0 0 L * ?", []client.ScheduleCalendarSpec{
			cal(months31, list(r1(31)), allDows, nil),
			cal(months30, list(r1(30)), allDows, nil),
			cal(feb, list(r1(29)), allDows, leap),
			cal(feb, list(r1(28)), allDows, nonLeap),
		}},
		{"0 0 0 L-30 * ?", []client.ScheduleCalendarSpec{cal(months31, list(r1(1)), allDows, nil)}},
		{"0 0 0 15W * ?", []client.ScheduleCalendarSpec{
			cal(allMonths, list(r1(15)), monFri, nil),
			cal(allMonths, list(r1(14)), fri, nil),
			cal(allMonths, list(r1(16)), mon, nil),
		}},
		{"0 0 0 1W * ?", []client.ScheduleCalendarSpec{
			cal(allMonths, list(r1(1)), monFri, nil),
			cal(allMonths, list(r1(2)), mon, nil),
			cal(allMonths, list(r1(3)), mon, nil),
		}},
		{"0 0 0 30W 1-4 ?", []client.ScheduleCalendarSpec{
			cal(list(r1(1), r1(3)), list(r1(30)), monFri, nil),
			cal(list(r1(1), r1(3)), list(r1(29)), fri, nil),
			cal(list(r1(1), r1(3)), list(r1(31)), mon, nil),
			cal(list(r1(4)), list(r1(30)), monFri, nil),
			cal(list(r1(4)), list(r1(29)), fri, nil),
			cal(list(r1(4)), list(r1(28)), fri, nil),
		}},
		{"0 0 0 LW 4,6 ?", []client.ScheduleCalendarSpec{
			cal(list(r1(4), r1(6)), list(r1(30)), monFri, nil),
			cal(list(r1(4), r1(6)), list(r1(29)), fri, nil),
			cal(list(r1(4), r1(6)), list(r1(28)), fri, nil),
		}},
		{"0 0 0 ? 2 6L", []client.ScheduleCalendarSpec{
			cal(feb, list(r(23, 29)), list(r1(5)), leap),
			cal(feb, list(r(22, 28)), list(r1(5)), nonLeap),
		}},
		// Time-of-day fields: the floored second, steps, lists, wrapping ranges.
		{"*/30 5/15 22-2 1 1 ?", []client.ScheduleCalendarSpec{{
			Second: list(r1(0)), Minute: list(rs(5, 50, 15)), Hour: list(r(0, 2), r(22, 23)),
			DayOfMonth: list(r1(1)), Month: list(r1(1)), DayOfWeek: allDows,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			tr, err := Translate(mustParse(t, tt.expr), "", jan2026)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Spec.TimeZoneName != "UTC" || !tr.RefreshAfter.IsZero() || tr.Spec.Skip != nil {
				t.Errorf("zone %q, refresh %v, skip %v; want UTC, zero, none", tr.Spec.TimeZoneName, tr.RefreshAfter, tr.Spec.Skip)
			}
			if !reflect.DeepEqual(tr.Spec.Calendars, tt.want) {
				t.Errorf("calendars:\n got %+v\nwant %+v", tr.Spec.Calendars, tt.want)
			}
		})
	}
}

// calendarDate reports whether a calendar's date fields match a date.
func calendarDate(c client.ScheduleCalendarSpec, d time.Time) bool {
	in := func(rr []client.ScheduleRange, v int) bool {
		hit := false
		refIterate(rr, func(i int) { hit = hit || i == v })
		return hit
	}
	return (c.Year == nil || in(c.Year, d.Year())) && in(c.Month, int(d.Month())) &&
		in(c.DayOfMonth, d.Day()) && in(c.DayOfWeek, int(d.Weekday()))
}

// TestDayConstructions checks every day rule against quartz on every date
// Temporal knows, 2000–2100.
func TestDayConstructions(t *testing.T) {
	var exprs []string
	for n := 0; n <= 30; n++ {
		exprs = append(exprs, fmt.Sprintf("0 0 0 L-%d * ?", n))
	}
	for n := 1; n <= 31; n++ {
		exprs = append(exprs, fmt.Sprintf("0 0 0 %dW * ?", n), fmt.Sprintf("0 0 0 %d * ?", n))
	}
	for n := 1; n <= 7; n++ {
		exprs = append(exprs, fmt.Sprintf("0 0 0 ? * %dL", n), fmt.Sprintf("0 0 0 ? * %d", n))
		for k := 1; k <= 5; k++ {
			exprs = append(exprs, fmt.Sprintf("0 0 0 ? * %d#%d", n, k))
		}
	}
	exprs = append(exprs, "0 0 0 LW * ?", "0 0 0 L 2 ?", "0 0 0 LW 2 ? 2000-2004,2100", "0 0 0 29W 2 ?",
		"0 0 0 L * ? */3", "0 0 0 ? * 6L 2024/4", "0 0 0 ? 2,4,5 1L")
	for _, expr := range exprs {
		s := mustParse(t, expr)
		tr, err := Translate(s, "UTC", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		for d := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() <= MaxYear; d = d.AddDate(0, 0, 1) {
			got := false
			for _, c := range tr.Spec.Calendars {
				got = got || calendarDate(c, d)
			}
			if want := s.MatchesDate(d.Year(), d.Month(), d.Day()); got != want {
				t.Errorf("%q on %s: calendars match %v, quartz %v", expr, d.Format("2006-01-02 Mon"), got, want)
				break
			}
		}
	}
}

func TestRanges(t *testing.T) {
	tests := []struct {
		in   []int
		want []client.ScheduleRange
	}{
		{[]int{5}, list(r1(5))},
		{[]int{1, 2}, list(r(1, 2))},
		{[]int{1, 3}, list(r1(1), r1(3))},
		{[]int{1, 2, 3}, list(r(1, 3))},
		{[]int{0, 15, 30, 45}, list(rs(0, 45, 15))},
		{[]int{1, 2, 3, 7, 9, 11, 20}, list(r(1, 3), rs(7, 11, 2), r1(20))},
		{[]int{1, 3, 4, 5}, list(r1(1), r(3, 5))},
		{[]int{1, 3, 5, 7, 8, 10, 12}, list(rs(1, 7, 2), rs(8, 12, 2))},
	}
	for _, tt := range tests {
		if got := ranges(tt.in, 0); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ranges(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := ranges([]int{1, 2, 3, 7}, -1); !reflect.DeepEqual(got, list(r(0, 2), r1(6))) {
		t.Errorf("shifted = %v", got)
	}
}

func TestTranslateErrors(t *testing.T) {
	tests := []struct {
		expr, tz string
		from     time.Time
		want     string
	}{
		{"0 0 0 1 1 ? 2020", "UTC", jan2026, `expression: "0 0 0 1 1 ? 2020" never fires after 2026-01-01T00:00:00Z`},
		{"0 0 0 30 2 ?", "UTC", jan2026, `expression: "0 0 0 30 2 ?" never fires after 2026-01-01T00:00:00Z`},
		{"0 0 0 1 1 ? 2150", "UTC", jan2026, `expression: "0 0 0 1 1 ? 2150" next fires at 2150-01-01T00:00:00Z, after 2100: Temporal schedules cannot fire after the end of 2100`},
		// 2101-01-01 00:00 in New York is 05:00 UTC, past Temporal's end of 2100 in UTC.
		{"0 0 0 1 1 ? 2101", "America/New_York", jan2026, `expression: "0 0 0 1 1 ? 2101" next fires at 2101-01-01T00:00:00-05:00, after 2100: Temporal schedules cannot fire after the end of 2100`},
		{"0 0 0 * * ?", "Mars/Olympus", jan2026, `time_zone: "Mars/Olympus" is not an IANA time zone name: use e.g. UTC, Europe/Berlin or America/New_York`},
		{"0 0 0 * * ?", "Local", jan2026, `time_zone: "Local" is not an IANA time zone name: use e.g. UTC, Europe/Berlin or America/New_York`},
		{"0 0 0 * * ?", "UTC", time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), "expression: cannot be scheduled from 1999-12-31T00:00:00Z: Temporal schedules start with the year 2000"},
	}
	for _, tt := range tests {
		_, err := Translate(mustParse(t, tt.expr), tt.tz, tt.from)
		if err == nil {
			t.Errorf("%q in %s: no error, want %q", tt.expr, tt.tz, tt.want)
			continue
		}
		if err.Error() != tt.want || domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("%q in %s: error %q (%s), want %q (invalid)", tt.expr, tt.tz, err, domain.ErrorCode(err), tt.want)
		}
	}
	// The last fire time Temporal can represent is still accepted.
	if _, err := Translate(mustParse(t, "0 59 23 31 12 ? 2100"), "Asia/Kolkata", jan2026); err != nil {
		t.Errorf("2100-12-31 23:59 in Kolkata is 18:29 UTC: %v", err)
	}
	if _, err := Translate(mustParse(t, "0 59 23 31 12 ? 2100"), "UTC", jan2026); err != nil {
		t.Errorf("2100-12-31 23:59 UTC: %v", err)
	}
}
