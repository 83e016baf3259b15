package cronsched

// A copy of how the Temporal server computes a schedule's fire times, to
// check translations without a server. It follows
// service/worker/scheduler/calendar.go (compiledCalendar.next, matches,
// makeBitMatcher, makeYearMatcher, iterateRanges) and spec.go
// (GetNextTime, rawNextTime, excluded) of temporalio/temporal (MIT
// license), unchanged since 2022, and the Go SDK's defaults for unset
// calendar fields. TestEquivalenceOnTemporal checks it against a real
// server.

import (
	"time"

	"go.temporal.io/sdk/client"
)

const refMaxCalendarYear = 2100

type refCalendar struct {
	tz                                                       *time.Location
	year, month, dayOfMonth, dayOfWeek, hour, minute, second func(int) bool
}

type refSpec struct {
	calendars, skip []*refCalendar
}

func newRefSpec(spec client.ScheduleSpec) (*refSpec, error) {
	tz, err := time.LoadLocation(spec.TimeZoneName)
	if err != nil {
		return nil, err
	}
	rs := &refSpec{}
	for _, c := range spec.Calendars {
		rs.calendars = append(rs.calendars, newRefCalendar(c, tz))
	}
	for _, c := range spec.Skip {
		rs.skip = append(rs.skip, newRefCalendar(c, tz))
	}
	return rs, nil
}

// sdkDefaults is the SDK's applyScheduleCalendarSpecDefault.
func sdkDefaults(c client.ScheduleCalendarSpec) client.ScheduleCalendarSpec {
	if c.Second == nil {
		c.Second = []client.ScheduleRange{{Start: 0}}
	}
	if c.Minute == nil {
		c.Minute = []client.ScheduleRange{{Start: 0}}
	}
	if c.Hour == nil {
		c.Hour = []client.ScheduleRange{{Start: 0}}
	}
	if c.DayOfMonth == nil {
		c.DayOfMonth = []client.ScheduleRange{{Start: 1, End: 31}}
	}
	if c.Month == nil {
		c.Month = []client.ScheduleRange{{Start: 1, End: 12}}
	}
	if c.DayOfWeek == nil {
		c.DayOfWeek = []client.ScheduleRange{{Start: 0, End: 6}}
	}
	return c
}

func newRefCalendar(c client.ScheduleCalendarSpec, tz *time.Location) *refCalendar {
	c = sdkDefaults(c)
	return &refCalendar{
		tz:         tz,
		year:       refYearMatcher(c.Year),
		month:      refBitMatcher(c.Month),
		dayOfMonth: refBitMatcher(c.DayOfMonth),
		dayOfWeek:  refBitMatcher(c.DayOfWeek),
		hour:       refBitMatcher(c.Hour),
		minute:     refBitMatcher(c.Minute),
		second:     refBitMatcher(c.Second),
	}
}

func refIterate(ranges []client.ScheduleRange, f func(int)) {
	for _, r := range ranges {
		start, end, step := r.Start, r.End, r.Step
		if step == 0 {
			step = 1
		}
		if end < start {
			end = start
		}
		for ; start <= end; start += step {
			f(start)
		}
	}
}

func refBitMatcher(ranges []client.ScheduleRange) func(int) bool {
	var bits uint64
	refIterate(ranges, func(i int) { bits |= 1 << i })
	return func(v int) bool { return (1<<v)&bits != 0 }
}

func refYearMatcher(ranges []client.ScheduleRange) func(int) bool {
	if len(ranges) == 0 {
		return func(int) bool { return true }
	}
	set := map[int]bool{}
	refIterate(ranges, func(i int) { set[i] = true })
	return func(v int) bool { return set[v] }
}

func (cc *refCalendar) matches(ts time.Time) bool {
	ts = ts.In(cc.tz)
	y, mo, d := ts.Date()
	h, m, s := ts.Clock()
	return cc.year(y) && cc.month(int(mo)) && cc.dayOfMonth(d) && cc.dayOfWeek(int(ts.Weekday())) &&
		cc.hour(h) && cc.minute(m) && cc.second(s)
}

func refDaysInMonth(m time.Month, y int) int {
	if m == time.February {
		if isLeap(y) {
			return 29
		}
		return 28
	}
	const bits = 0b1010110101010
	return 30 + (bits>>m)&1
}

func (cc *refCalendar) next(ts time.Time) time.Time {
	ts = ts.In(cc.tz)
	y, mo, d := ts.Date()
	h, m, s := ts.Clock()
	dstoffset := 0 * time.Hour
	if ts.Add(-time.Hour).Hour() == h {
		dstoffset = 1 * time.Hour
	}
	s++
Outer:
	for {
		if s >= 60 {
			m, s = m+1, 0
		}
		if m >= 60 {
			prev := time.Date(y, mo, d, h, 0, 0, 0, cc.tz)
			h, m = h+1, 0
			next := time.Date(y, mo, d, h, 0, 0, 0, cc.tz)
			if dstoffset == 0 && next.Sub(prev) > time.Hour {
				h = h - 1
				dstoffset = 1 * time.Hour
			} else {
				dstoffset = 0
			}
		}
		if h >= 24 {
			d, h = d+1, 0
		}
		if d > refDaysInMonth(mo, y) {
			mo, d = mo+1, 1
		}
		if mo > time.December {
			y, mo = y+1, time.January
		}
		if y > refMaxCalendarYear {
			break Outer
		}
		if !cc.year(y) {
			y, mo, d, h, m, s = y+1, time.January, 1, 0, 0, 0
			dstoffset = 0
			continue Outer
		}
		for !cc.month(int(mo)) {
			mo, d, h, m, s = mo+1, 1, 0, 0, 0
			dstoffset = 0
			if mo > time.December {
				continue Outer
			}
		}
		for !cc.dayOfMonth(d) || !cc.dayOfWeek(int(time.Date(y, mo, d, h, m, s, 0, cc.tz).Weekday())) {
			d, h, m, s = d+1, 0, 0, 0
			dstoffset = 0
			if d > refDaysInMonth(mo, y) {
				continue Outer
			}
		}
		for !cc.hour(h) {
			h, m, s = h+1, 0, 0
			dstoffset = 0
			if h >= 24 {
				continue Outer
			}
		}
		for !cc.minute(m) {
			m, s = m+1, 0
			if m >= 60 {
				continue Outer
			}
		}
		for !cc.second(s) {
			s = s + 1
			if s >= 60 {
				continue Outer
			}
		}
		nextTs := time.Date(y, mo, d, h, m, s, 0, cc.tz)
		if nextTs.Hour() != h {
			h, m, s = h+1, 0, 0
			continue Outer
		}
		return nextTs.Add(dstoffset)
	}
	return time.Time{}
}

func (rs *refSpec) rawNext(after time.Time) time.Time {
	var best time.Time
	for _, c := range rs.calendars {
		if n := c.next(after); !n.IsZero() && (best.IsZero() || n.Unix() < best.Unix()) {
			best = n
		}
	}
	if best.IsZero() {
		return best
	}
	return time.Unix(best.Unix(), 0).UTC()
}

// nextTime is GetNextTime without start, end and jitter.
func (rs *refSpec) nextTime(after time.Time) time.Time {
	var nominal time.Time
	for nominal.IsZero() || rs.excluded(nominal) {
		nominal = rs.rawNext(after)
		after = nominal
		if nominal.IsZero() || nominal.Year() > refMaxCalendarYear {
			return time.Time{}
		}
	}
	return nominal
}

func (rs *refSpec) excluded(t time.Time) bool {
	for _, c := range rs.skip {
		if c.matches(t) {
			return true
		}
	}
	return false
}

// upcoming is ListScheduleMatchingTimes from after, at most n times.
func (rs *refSpec) upcoming(after time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t := rs.nextTime(after)
		if t.IsZero() {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}
