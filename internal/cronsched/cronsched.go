// Package cronsched translates a parsed Quartz schedule into a Temporal
// schedule spec made of structured calendars that fires at exactly the
// times quartz.Schedule.Next computes.
//
// Temporal's cron strings are not Quartz, so nothing is passed through as a
// string: every field becomes ScheduleCalendarSpec ranges. A calendar ANDs
// its fields and a spec ORs its calendars. Every calendar of a translation
// carries the same second, minute and hour ranges, so on any day Temporal
// walks the same times of day — daylight-saving handling included, which
// internal/quartz copies from Temporal — and only the set of days needs
// building:
//
//   - lists, ranges and steps of days of the month or of the week: one
//     calendar (Quartz day of week n is Temporal's n−1);
//   - 'n#k': the weekday AND days (k−1)·7+1 … k·7;
//   - 'L', 'L-n', 'LW', 'nW' and 'nL' depend on the month's length, so the
//     months are split into groups of 31, 30, 29 (February of leap years)
//     and 28 days (February of the other years), each with its own
//     calendars: 'L-n' is day length−n; 'nL' is the weekday AND the last
//     seven days; 'nW' is {n, Mon–Fri} ∪ {n−1, Fri} ∪ {n+1, Mon}, with
//     {1, Mon–Fri} ∪ {2, Mon} ∪ {3, Mon} for '1W' and {n, Mon–Fri} ∪
//     {n−1, Fri} ∪ {n−2, Fri} when n is the last day, which is also 'LW'.
//
// These are exact for all time but for one quirk of Temporal's walk: it
// checks the day of the week of time.Date(y, m, d, 0, 0, 0, 0, zone), which
// on a day whose midnight a spring-forward skips is, behind UTC, a time of
// the day before (America/Santiago, America/Havana). Temporal then fires a
// Saturday schedule on that Sunday and a Sunday one not at all. For
// translations that use the day of the week, such days within the horizon
// (at least HorizonDays days and HorizonFires fire times) get a calendar
// pinned to the date without a day of week when the schedule fires on them
// and a Skip of the whole date otherwise, and Translation.RefreshAfter is
// set before the first such day after the horizon.
//
// Temporal knows only the years 2000–2100: calendars refuse other years and
// schedules never fire after 2100, in their zone or in UTC. A schedule that
// still fires then stops at the end of 2100, and one whose next fire time
// is later is refused.
package cronsched

import (
	"time"

	"go.temporal.io/sdk/client"

	"daestro/internal/domain"
	"daestro/internal/quartz"
)

// Translation is a Quartz schedule as a Temporal schedule spec.
type Translation struct {
	// Spec has Calendars (and Skip where needed) and TimeZoneName set; the
	// caller adds nothing to it but may set Jitter 0.
	Spec client.ScheduleSpec
	// RefreshAfter is zero when Spec is exact forever; otherwise Spec is
	// exact only for fire times up to RefreshAfter and must be rebuilt
	// (Translate again with from >= an earlier time) before it.
	RefreshAfter time.Time
}

// Temporal's calendar years (minCalendarYear and maxCalendarYear in the
// Temporal server's service/worker/scheduler/calendar.go).
const (
	MinYear = 2000
	MaxYear = 2100
)

// Horizon is the least span Translate makes exact when it cannot make a
// spec exact forever: at least HorizonDays days and HorizonFires fire
// times after from.
const (
	HorizonDays  = 366
	HorizonFires = 100
)

// Translate builds the spec for s in time zone tz (IANA name, "" = UTC),
// exact for every fire time after from.
//
// Errors are domain EINVALID errors: a zone that does not exist, a from
// before 2000, and a schedule that never fires after from or whose next
// fire time is after 2100, which Temporal cannot represent.
func Translate(s *quartz.Schedule, tz string, from time.Time) (Translation, error) {
	if s == nil {
		return Translation{}, domain.Errorf(domain.EINVALID, "expression: is required")
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return Translation{}, domain.Errorf(domain.EINVALID, "time_zone: %q is not an IANA time zone name: use e.g. UTC, Europe/Berlin or America/New_York", tz)
	}
	from = from.In(loc)
	if from.Before(time.Date(MinYear, 1, 1, 0, 0, 0, 0, loc)) {
		return Translation{}, domain.Errorf(domain.EINVALID, "expression: cannot be scheduled from %s: Temporal schedules start with the year %d", from.Format(time.RFC3339), MinYear)
	}
	end := temporalEnd(loc)
	first := s.Next(from)
	switch {
	case first.IsZero():
		return Translation{}, domain.Errorf(domain.EINVALID, "expression: %q never fires after %s", s.String(), from.Format(time.RFC3339))
	case !first.Before(end):
		return Translation{}, domain.Errorf(domain.EINVALID, "expression: %q next fires at %s, after %d: Temporal schedules cannot fire after the end of %d",
			s.String(), first.Format(time.RFC3339), MaxYear, MaxYear)
	}

	tr := Translation{Spec: client.ScheduleSpec{TimeZoneName: tz}}
	tod := timeOfDay{
		second: []client.ScheduleRange{{Start: s.Second(), End: s.Second()}},
		minute: ranges(s.Minutes(), 0),
		hour:   ranges(s.Hours(), 0),
	}
	days := dayCalendars(s)
	if len(days) == 0 {
		// Unreachable: the first fire time is on a day of some calendar.
		return Translation{}, domain.Errorf(domain.EINTERNAL, "cronsched: no calendar for %q", s.String())
	}
	for _, dc := range days {
		tr.Spec.Calendars = append(tr.Spec.Calendars, tod.calendar(dc))
	}
	if usesDayOfWeek(days) {
		patches, refresh := midnightPatches(s, loc, from, horizonEnd(s, from), end)
		for _, p := range patches {
			dc := dayCal{years: []int{p.y}, months: []int{int(p.m)}, dom: []client.ScheduleRange{{Start: p.d, End: p.d}}}
			if p.fires {
				tr.Spec.Calendars = append(tr.Spec.Calendars, tod.calendar(dc))
			} else {
				tr.Spec.Skip = append(tr.Spec.Skip, wholeDay.calendar(dc))
			}
		}
		tr.RefreshAfter = refresh
	}
	return tr, nil
}

// temporalEnd is the first instant Temporal cannot fire at: the start of
// MaxYear+1 in loc or in UTC, whichever comes first.
func temporalEnd(loc *time.Location) time.Time {
	local := time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, loc)
	utc := time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, time.UTC)
	if utc.Before(local) {
		return utc
	}
	return local
}

// horizonEnd is the end of the span that must be exact: HorizonDays days
// and HorizonFires fire times after from, whichever is later.
func horizonEnd(s *quartz.Schedule, from time.Time) time.Time {
	end := from.AddDate(0, 0, HorizonDays)
	if fires := s.Upcoming(from, HorizonFires); len(fires) > 0 && fires[len(fires)-1].After(end) {
		end = fires[len(fires)-1]
	}
	return end
}

// timeOfDay holds the second, minute and hour ranges every calendar of a
// translation shares.
type timeOfDay struct {
	second, minute, hour []client.ScheduleRange
}

// wholeDay matches every second of a day, for Skip calendars.
var wholeDay = timeOfDay{
	second: []client.ScheduleRange{{Start: 0, End: 59}},
	minute: []client.ScheduleRange{{Start: 0, End: 59}},
	hour:   []client.ScheduleRange{{Start: 0, End: 23}},
}

// dayCal is a set of days as one calendar: months AND years AND
// day-of-month AND day-of-week.
type dayCal struct {
	// months are the months, 1–12.
	months []int
	// years are the years within MinYear–MaxYear; nil is every year.
	years []int
	// dom and dow are the Temporal ranges; nil is every day.
	dom, dow []client.ScheduleRange
}

// calendar builds the Temporal calendar of dc at the times of t. Every
// field is set: the SDK reads a nil second, minute or hour as 0.
func (t timeOfDay) calendar(dc dayCal) client.ScheduleCalendarSpec {
	c := client.ScheduleCalendarSpec{
		Second:     t.second,
		Minute:     t.minute,
		Hour:       t.hour,
		DayOfMonth: dc.dom,
		Month:      ranges(dc.months, 0),
		DayOfWeek:  dc.dow,
	}
	if c.DayOfMonth == nil {
		c.DayOfMonth = []client.ScheduleRange{{Start: 1, End: 31}}
	}
	if c.DayOfWeek == nil {
		c.DayOfWeek = []client.ScheduleRange{{Start: 0, End: 6}}
	}
	if dc.years != nil {
		c.Year = ranges(dc.years, 0)
	}
	return c
}

// usesDayOfWeek reports whether any calendar restricts the day of week.
func usesDayOfWeek(days []dayCal) bool {
	for _, dc := range days {
		if dc.dow != nil {
			return true
		}
	}
	return false
}

// ranges compresses ascending values into Temporal ranges: runs of
// consecutive values, then runs of three or more with a common step, then
// single values. shift is added to every value (−1 turns Quartz days of
// week into Temporal's).
func ranges(vals []int, shift int) []client.ScheduleRange {
	var out []client.ScheduleRange
	for i := 0; i < len(vals); {
		j, step := i, 1
		if i+1 < len(vals) {
			step = vals[i+1] - vals[i]
		}
		for j+1 < len(vals) && vals[j+1]-vals[j] == step {
			j++
		}
		if step > 1 && j-i < 2 {
			j, step = i, 1 // two values a step apart are two values
		}
		r := client.ScheduleRange{Start: vals[i] + shift, End: vals[j] + shift}
		if step > 1 {
			r.Step = step
		}
		out = append(out, r)
		i = j + 1
	}
	return out
}

// isLeap reports whether y is a leap year.
func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
