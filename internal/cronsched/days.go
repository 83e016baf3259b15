package cronsched

import (
	"slices"

	"go.temporal.io/sdk/client"

	"daestro/internal/quartz"
)

// Temporal days of the week used by the weekday rules.
var (
	monToFri = []int{1, 2, 3, 4, 5}
	monday   = []int{1}
	friday   = []int{5}
)

// dayPattern is a day-of-month range AND a set of days of the week.
type dayPattern struct {
	// domLo and domHi bound the days of the month.
	domLo, domHi int
	// dow are Temporal days of the week (0 = Sunday); nil is every day.
	dow []int
}

// monthGroup is the months and years in which every month has the same
// length, and the day patterns that select the schedule's days in them.
type monthGroup struct {
	months   []int
	years    []int // nil: every year
	patterns []dayPattern
}

// dayCalendars returns the calendars whose union is the schedule's days,
// one dayCal each.
func dayCalendars(s *quartz.Schedule) []dayCal {
	years := calendarYears(s)
	if years != nil && len(years) == 0 {
		return nil // no year Temporal knows
	}
	months := s.Months()
	d := s.Days()
	switch d.Kind {
	case quartz.DaysOfMonth:
		return []dayCal{{months: months, years: years, dom: ranges(d.Values, 0)}}
	case quartz.DaysOfWeek:
		dc := dayCal{months: months, years: years}
		if len(d.Values) < 7 {
			dc.dow = ranges(d.Values, -1)
		}
		return []dayCal{dc}
	case quartz.NthDayOfWeek:
		lo := (d.K-1)*7 + 1
		return []dayCal{{
			months: months, years: years,
			dom: []client.ScheduleRange{{Start: lo, End: min(lo+6, 31)}},
			dow: []client.ScheduleRange{{Start: d.N - 1, End: d.N - 1}},
		}}
	}

	// The rest depend on the month's length.
	var groups []monthGroup
	for _, length := range []int{31, 30, 29, 28} {
		g := monthGroup{years: years, patterns: lengthPatterns(d, length)}
		for _, m := range months {
			if monthLength(m, length == 29) == length {
				g.months = append(g.months, m)
			}
		}
		switch length {
		case 29:
			g.years = filterYears(years, true)
		case 28:
			g.years = filterYears(years, false)
		}
		if len(g.months) == 0 || len(g.years) == 0 && g.years != nil || len(g.patterns) == 0 {
			continue
		}
		groups = append(groups, g)
	}
	groups = mergeGroups(groups, years)

	var out []dayCal
	for _, g := range groups {
		for _, p := range g.patterns {
			dc := dayCal{months: g.months, years: g.years, dom: []client.ScheduleRange{{Start: p.domLo, End: p.domHi}}}
			if p.dow != nil {
				dc.dow = ranges(p.dow, 0)
			}
			out = append(out, dc)
		}
	}
	return out
}

// lengthPatterns returns the day patterns of rule d in a month of length
// days; none when the rule selects no day in such a month.
func lengthPatterns(d quartz.Days, length int) []dayPattern {
	// lastCase is the weekday nearest the last day: itself on Monday–Friday,
	// else the Friday before (one day back from Saturday, two from Sunday).
	lastCase := func(n int) []dayPattern {
		return []dayPattern{{n, n, monToFri}, {n - 1, n - 1, friday}, {n - 2, n - 2, friday}}
	}
	switch d.Kind {
	case quartz.LastDayOfMonth:
		if day := length - d.N; day >= 1 {
			return []dayPattern{{day, day, nil}}
		}
		return nil
	case quartz.LastWeekdayOfMonth:
		return lastCase(length)
	case quartz.NearestWeekday:
		n := d.N
		switch {
		case n > length:
			return nil
		case n == length:
			return lastCase(n)
		case n == 1:
			// Saturday the 1st moves to Monday the 3rd, Sunday to Monday the 2nd.
			return []dayPattern{{1, 1, monToFri}, {2, 2, monday}, {3, 3, monday}}
		}
		// Saturday moves back to Friday, Sunday forward to Monday.
		return []dayPattern{{n, n, monToFri}, {n - 1, n - 1, friday}, {n + 1, n + 1, monday}}
	case quartz.LastDayOfWeek:
		return []dayPattern{{length - 6, length, []int{d.N - 1}}}
	}
	return nil
}

// mergeGroups joins groups with the same patterns: February of leap and
// of other years into February of every year, then groups of equal years
// into one group of all their months.
func mergeGroups(groups []monthGroup, years []int) []monthGroup {
	var feb []int
	for i, g := range groups {
		if slices.Equal(g.months, []int{2}) {
			feb = append(feb, i)
		}
	}
	if len(feb) == 2 && samePatterns(groups[feb[0]].patterns, groups[feb[1]].patterns) {
		groups[feb[0]].years = years
		groups = slices.Delete(groups, feb[1], feb[1]+1)
	}
	var out []monthGroup
next:
	for _, g := range groups {
		for i, o := range out {
			if samePatterns(o.patterns, g.patterns) && sameList(o.years, g.years) {
				out[i].months = slices.Sorted(slices.Values(slices.Concat(o.months, g.months)))
				continue next
			}
		}
		out = append(out, g)
	}
	return out
}

// sameList compares lists in which nil (every value) differs from empty.
func sameList(a, b []int) bool { return (a == nil) == (b == nil) && slices.Equal(a, b) }

func samePatterns(a, b []dayPattern) bool {
	return slices.EqualFunc(a, b, func(x, y dayPattern) bool {
		return x.domLo == y.domLo && x.domHi == y.domHi && sameList(x.dow, y.dow)
	})
}

// monthLength is the length of month m, February in a leap year or not.
func monthLength(m int, leap bool) int {
	switch m {
	case 2:
		if leap {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// calendarYears returns the schedule's years within MinYear–MaxYear, or nil
// when that is all of them.
func calendarYears(s *quartz.Schedule) []int {
	var ys []int
	for _, y := range s.Years() {
		if y >= MinYear && y <= MaxYear {
			ys = append(ys, y)
		}
	}
	if len(ys) == MaxYear-MinYear+1 {
		return nil
	}
	if ys == nil {
		ys = []int{} // no year Temporal knows: matches nothing
	}
	return ys
}

// filterYears returns the leap (or other) years of years; nil means every
// year within MinYear–MaxYear.
func filterYears(years []int, leap bool) []int {
	if years == nil {
		for y := MinYear; y <= MaxYear; y++ {
			years = append(years, y)
		}
	}
	out := []int{}
	for _, y := range years {
		if isLeap(y) == leap {
			out = append(out, y)
		}
	}
	return out
}
