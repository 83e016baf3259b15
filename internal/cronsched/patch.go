package cronsched

import (
	"time"

	"daestro/internal/quartz"
)

// patch is a day on which Temporal checks the day of the week against the
// day before: the translation fires on it or skips it explicitly.
type patch struct {
	y     int
	m     time.Month
	d     int
	fires bool
}

// midnightPatches returns the patches for the days from from's day up to
// horizon whose midnight a spring-forward skips, and the instant before the
// first such day after horizon that the schedule might fire on (zero when
// there is none before end).
//
// Temporal's walk (compiledCalendar.next) enters a day at 00:00:00 and
// checks the day of the week of time.Date(y, m, d, 0, 0, 0, 0, loc). When
// that wall-clock time does not exist, time.Date normalizes it backwards
// into the previous day, whose weekday Temporal then checks. The fire times
// of such a day under any calendar are the same time-of-day walk, so a
// calendar pinned to the day without a day-of-week restores them, and a
// Skip of the whole day removes them.
func midnightPatches(s *quartz.Schedule, loc *time.Location, from, horizon, end time.Time) ([]patch, time.Time) {
	months := make(map[int]bool)
	for _, m := range s.Months() {
		months[m] = true
	}
	years := make(map[int]bool)
	for _, y := range s.Years() {
		years[y] = true
	}
	var out []patch
	for _, day := range skippedMidnights(loc, from, end) {
		y, m, d := day.Date()
		if !years[y] || !months[int(m)] {
			continue // no calendar matches the day, whatever its weekday
		}
		fires := s.MatchesDate(y, m, d)
		if day.After(horizon) {
			return out, day.Add(-time.Second)
		}
		out = append(out, patch{y: y, m: m, d: d, fires: fires})
	}
	return out, time.Time{}
}

// skippedMidnights returns, for each day from from's day until end whose
// 00:00:00 a spring-forward skips, the first instant of that day (the
// transition), in loc.
func skippedMidnights(loc *time.Location, from, end time.Time) []time.Time {
	var out []time.Time
	// Start a day early: from may be later on a day whose midnight was skipped.
	t := from.In(loc).AddDate(0, 0, -1)
	for t.Before(end) {
		_, next := t.ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			break // no more transitions
		}
		if !next.After(t) {
			// Go (1.26) reports a zone ending where it starts at the end of
			// some leap years' rule-based zones; step over it.
			t = t.Add(time.Hour)
			continue
		}
		_, before := next.Add(-time.Second).Zone()
		_, after := next.Zone()
		if after > before {
			// The wall clock jumps from w to w+(after-before); a midnight in
			// between does not exist.
			w := next.Add(time.Duration(before) * time.Second).UTC()
			midnight := w.Truncate(24 * time.Hour)
			if midnight.Before(w) {
				midnight = midnight.Add(24 * time.Hour)
			}
			if midnight.Before(w.Add(time.Duration(after-before) * time.Second)) {
				day := next.In(loc) // the wall clock after the jump is on the midnight's day
				if y, m, d := day.Date(); time.Date(y, m, d, 0, 0, 0, 0, loc).Day() != d {
					out = append(out, day)
				}
			}
		}
		t = next
	}
	return out
}
