// Package quartz parses Quartz cron expressions and computes their fire
// times. It is pure: no I/O and no clock, so callers pass the instant to
// search from.
//
// Temporal's own cron strings look like Quartz but mean something else ('?'
// is rejected, '5#3' silently becomes "every Friday", day-of-week 7 is
// Sunday), so daestro parses Quartz here and translates the result itself.
//
// # Syntax
//
// An expression has six or seven space-separated fields:
//
//	second minute hour day-of-month month day-of-week [year]
//
// Every field takes '*', a value, a list "a,b", a range "a-b" (a range whose
// start is after its end wraps around, e.g. "FRI-MON" or hour "22-2"), and
// steps "*/n", "a/n" and "a-b/n". Months may be named JAN–DEC and days SUN–SAT
// (case-insensitive). Day-of-week uses Quartz numbering: 1 = Sunday …
// 7 = Saturday. Years run from 1970 to 2199.
//
// Day-of-month also takes 'L' (last day), 'L-n' (n days before the last day),
// 'nW' (the weekday nearest day n, never crossing into another month, so "1W"
// on a Saturday is Monday the 3rd) and 'LW' (last weekday of the month).
// Day-of-week also takes 'L' (Saturday), 'nL' (last weekday n of the month)
// and 'n#k' (k-th weekday n of the month). These special forms stand alone:
// they cannot be combined with other list elements.
//
// Exactly one of day-of-month and day-of-week must be '?', as in Quartz.
//
// # One-minute floor
//
// daestro runs a job at most once a minute. A seconds field with several
// values keeps only its first (lowest) value, so "*/30 * * * * ?" becomes
// "0 * * * * ?" and "15/20 * * * * ?" becomes "15 * * * * ?". Floored reports
// whether this happened, so the API can warn the user that the expression
// was changed.
//
// # Daylight saving time
//
// Fire times are wall-clock times in the location of the instant given to
// Next. daestro's schedules run on Temporal, and a Temporal schedule cannot
// be told to handle daylight-saving transitions any other way than its own,
// so Next computes exactly the instants Temporal fires at: it is a copy of
// the walk of compiledCalendar.next in the Temporal server
// (service/worker/scheduler/calendar.go), and internal/cronsched's tests
// check it against a real server. The walk
//
//   - turns each matching wall-clock time into an instant with time.Date,
//     which resolves a time that happens twice to one of its occurrences
//     and moves a time that does not exist by the size of the jump; if that
//     moves it to another hour, neither it nor the rest of that hour fires
//     that day, otherwise it fires at the moved instant;
//   - resumes after each fire time from that instant's own wall clock;
//   - when it carries over from hour h to hour h+1 and more than an hour
//     passes between h:00 and h+1:00 (a fall-back in between), walks hour h
//     a second time with every instant one hour later.
//
// Around the usual transitions of one hour on the hour this gives:
//
//   - Spring-forward: the skipped wall-clock times do not fire and are not
//     moved to the next hour (America/New_York, 2026-03-08, 02:00 EST →
//     03:00 EDT: "0 30 2 * * ?" does not fire that day).
//   - Fall-back behind UTC (the Americas), where time.Date picks the first
//     occurrence: the repeated hour fires twice (America/New_York,
//     2026-11-01, 02:00 EDT → 01:00 EST: "0 30 1 * * ?" fires at 01:30 EDT
//     and at 01:30 EST).
//   - Fall-back ahead of UTC (all of Europe, London included, and Africa,
//     Asia, Australia), where time.Date picks the second occurrence: the
//     repeated hour's times fire once, after the clock went back. When the
//     hour before it fires too, its second walk adds one fire time, its
//     first one an hour later, in the repeated hour's first run; the walk
//     resumes from that wall-clock time, so the repeated hour's times up to
//     it do not fire (Europe/Berlin, 2026-10-25, 03:00 CEST → 02:00 CET:
//     "0 30 2 * * ?" fires at 02:30 CET only; "0 30 1 * * ?" at 01:30 CEST
//     and 02:30 CEST; "0 0,30 * * * ?" at 01:00, 01:30 and 02:00 CEST, then
//     at 02:30 and 03:00 CET, not at 02:00 CET).
//
// Transitions that are not one hour on the hour follow the same walk and
// give stranger results: Australia/Lord_Howe moves 30 minutes, so on
// 2026-10-04, 02:00 → 02:30, "0 15,45 2 * * ?" fires once, at 02:45 (02:15
// moved by the jump); its fall-backs, and those of Pacific/Chatham (03:45 →
// 02:45), can fire at wall-clock times the expression does not name.
package quartz

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// MinYear and MaxYear bound the year field and the search done by Next.
const (
	MinYear = 1970
	MaxYear = 2199
)

// Field names, as they appear in errors.
const (
	fieldSecond     = "second"
	fieldMinute     = "minute"
	fieldHour       = "hour"
	fieldDayOfMonth = "day-of-month"
	fieldMonth      = "month"
	fieldDayOfWeek  = "day-of-week"
	fieldYear       = "year"
)

// ParseError reports why an expression is not valid Quartz cron.
type ParseError struct {
	// Field is the field at fault ("minute", "day-of-week", …), "expression"
	// for the whole string, or "day-of-month and day-of-week" for the '?' rule.
	Field string
	// Reason is a sentence a user can act on.
	Reason string
}

// Error returns "field: reason".
func (e *ParseError) Error() string { return e.Field + ": " + e.Reason }

func errf(field, format string, args ...any) error {
	return &ParseError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// bitset holds small non-negative integers (values 0–255).
type bitset [4]uint64

func (b *bitset) set(v int)     { b[v>>6] |= 1 << (v & 63) }
func (b bitset) has(v int) bool { return v >= 0 && v < 256 && b[v>>6]&(1<<(v&63)) != 0 }
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// next returns the smallest member >= from and <= limit, or -1.
func (b bitset) next(from, limit int) int {
	for v := max(from, 0); v <= limit; v++ {
		if b.has(v) {
			return v
		}
	}
	return -1
}

func (b bitset) lowest() int { return b.next(0, 255) }

// nextOr returns the smallest member >= from and <= limit, or overflow.
func nextOr(b bitset, from, limit, overflow int) int {
	if v := b.next(from, limit); v >= 0 {
		return v
	}
	return overflow
}

// domKind says how the day-of-month field selects days.
type domKind int

const (
	domAny     domKind = iota // '?': day-of-week decides
	domSet                    // values in dom
	domLast                   // 'L' or 'L-n': last day minus domN
	domLastWkd                // 'LW'
	domNearest                // 'nW': weekday nearest day domN
)

// dowKind says how the day-of-week field selects days.
type dowKind int

const (
	dowAny  dowKind = iota // '?': day-of-month decides
	dowSet                 // values in dow (1 = Sunday)
	dowLast                // 'nL': last weekday dowN of the month
	dowNth                 // 'n#k': dowK-th weekday dowN of the month
)

// Schedule is a parsed Quartz cron expression, already floored to at most
// one fire a minute. It is immutable and safe for concurrent use.
type Schedule struct {
	seconds, minutes, hours, months bitset
	years                           bitset // year - MinYear
	domKind                         domKind
	dom                             bitset // days 1–31, for domSet
	domN                            int
	dowKind                         dowKind
	dow                             bitset // 1 = Sunday … 7 = Saturday, for dowSet
	dowN, dowK                      int
	floored                         bool
}

type spec struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

	specSecond = spec{name: fieldSecond, min: 0, max: 59}
	specMinute = spec{name: fieldMinute, min: 0, max: 59}
	specHour   = spec{name: fieldHour, min: 0, max: 23}
	specDOM    = spec{name: fieldDayOfMonth, min: 1, max: 31}
	specMonth  = spec{name: fieldMonth, min: 1, max: 12, names: monthNames}
	specDOW    = spec{name: fieldDayOfWeek, min: 1, max: 7, names: dayNames}
	specYear   = spec{name: fieldYear, min: MinYear, max: MaxYear}
)

// Parse parses a Quartz cron expression ("second minute hour day-of-month
// month day-of-week [year]"). Errors are *ParseError values naming the field
// and the reason. The seconds field is floored as described in the package
// documentation.
func Parse(expr string) (*Schedule, error) {
	f := strings.Fields(expr)
	if len(f) != 6 && len(f) != 7 {
		return nil, errf("expression", "expected 6 or 7 fields (second minute hour day-of-month month day-of-week [year]), got %d", len(f))
	}
	s := &Schedule{}
	var err error
	if s.seconds, err = parseSet(f[0], specSecond); err != nil {
		return nil, err
	}
	if s.minutes, err = parseSet(f[1], specMinute); err != nil {
		return nil, err
	}
	if s.hours, err = parseSet(f[2], specHour); err != nil {
		return nil, err
	}
	if err = s.parseDOM(f[3]); err != nil {
		return nil, err
	}
	if s.months, err = parseSet(f[4], specMonth); err != nil {
		return nil, err
	}
	if err = s.parseDOW(f[5]); err != nil {
		return nil, err
	}
	years := "*"
	if len(f) == 7 {
		years = f[6]
	}
	ys, err := parseSet(years, specYear)
	if err != nil {
		return nil, err
	}
	s.years = ys
	switch {
	case s.domKind == domAny && s.dowKind == dowAny:
		return nil, errf("day-of-month and day-of-week", "only one of them may be '?', but both are; use '*' in the other to mean every day")
	case s.domKind != domAny && s.dowKind != dowAny:
		return nil, errf("day-of-month and day-of-week", "one of them must be '?' (Quartz does not support both)")
	}
	if s.seconds.count() > 1 {
		first := s.seconds.lowest()
		s.seconds = bitset{}
		s.seconds.set(first)
		s.floored = true
	}
	return s, nil
}

// offset is subtracted from values before they go into a bitset, so that
// years (1970–2199) fit in 256 bits.
func (sp spec) offset() int {
	if sp.name == fieldYear {
		return MinYear
	}
	return 0
}

// parseSet parses a list of '*', values, ranges and steps.
func parseSet(field string, sp spec) (bitset, error) {
	var b bitset
	for _, part := range strings.Split(field, ",") {
		if part == "" {
			return b, errf(sp.name, "'%s' has an empty list element", field)
		}
		if part == "?" {
			if sp.name == fieldDayOfMonth || sp.name == fieldDayOfWeek {
				return b, errf(sp.name, "'?' cannot be combined with other values")
			}
			return b, errf(sp.name, "'?' is only allowed in day-of-month and day-of-week")
		}
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil {
				return b, errf(sp.name, "'%s' step '%s' is not a number", part, stepStr)
			}
			if n < 1 {
				return b, errf(sp.name, "'%s' step must be at least 1", part)
			}
			if n > sp.max-sp.min+1 {
				return b, errf(sp.name, "'%s' step must be at most %d", part, sp.max-sp.min+1)
			}
			step = n
		}
		lo, hi := sp.min, sp.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, z, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = sp.value(a, part); err != nil {
				return b, err
			}
			if hi, err = sp.value(z, part); err != nil {
				return b, err
			}
			if hi < lo && sp.name == fieldYear {
				return b, errf(sp.name, "'%s' range runs backwards", part)
			}
		default:
			v, err := sp.value(rng, part)
			if err != nil {
				return b, err
			}
			lo = v
			if !hasStep {
				hi = v // "a" alone; "a/n" runs to the field's end
			}
		}
		// A range whose end is before its start wraps around the field.
		n := hi - lo + 1
		if hi < lo {
			n += sp.max - sp.min + 1
		}
		for i := 0; i < n; i += step {
			v := lo + i
			if v > sp.max {
				v -= sp.max - sp.min + 1
			}
			b.set(v - sp.offset())
		}
	}
	return b, nil
}

// value parses one number or name and checks its range.
func (sp spec) value(s, part string) (int, error) {
	if v, ok := sp.names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		if sp.names != nil {
			return 0, errf(sp.name, "'%s' is not a number or a name", part)
		}
		return 0, errf(sp.name, "'%s' is not a number", part)
	}
	if v < sp.min || v > sp.max {
		return 0, errf(sp.name, "'%s' is out of range %d-%d", part, sp.min, sp.max)
	}
	return v, nil
}

func (s *Schedule) parseDOM(f string) error {
	u := strings.ToUpper(f)
	special := strings.Contains(u, "L") || strings.Contains(u, "W")
	switch {
	case u == "?":
		s.domKind = domAny
		return nil
	case special && strings.Contains(u, ","):
		return errf(fieldDayOfMonth, "'%s': 'L' and 'W' cannot be combined with other values", f)
	case u == "L":
		s.domKind = domLast
		return nil
	case u == "LW":
		s.domKind = domLastWkd
		return nil
	case strings.HasPrefix(u, "L-"):
		n, err := strconv.Atoi(u[2:])
		if err != nil || u[2:] == "" || u[2] == '+' || u[2] == '-' {
			return errf(fieldDayOfMonth, "'%s': the offset after 'L-' must be a number", f)
		}
		if n > 30 {
			return errf(fieldDayOfMonth, "'%s': the offset after 'L-' must be at most 30", f)
		}
		s.domKind, s.domN = domLast, n
		return nil
	case strings.HasSuffix(u, "W") && !strings.Contains(u, "L"):
		n, err := specDOM.value(u[:len(u)-1], f)
		if err != nil {
			return err
		}
		s.domKind, s.domN = domNearest, n
		return nil
	case special:
		return errf(fieldDayOfMonth, "'%s' is not valid: use 'L', 'L-n', 'LW' or 'nW'", f)
	}
	b, err := parseSet(f, specDOM)
	if err != nil {
		return err
	}
	s.domKind, s.dom = domSet, b
	return nil
}

func (s *Schedule) parseDOW(f string) error {
	u := strings.ToUpper(f)
	special := strings.Contains(u, "#") || strings.Contains(u, "L") // no day name contains L
	switch {
	case u == "?":
		s.dowKind = dowAny
		return nil
	case special && strings.Contains(u, ","):
		return errf(fieldDayOfWeek, "'%s': 'L' and '#' cannot be combined with other values", f)
	case u == "L":
		s.dowKind = dowSet
		s.dow.set(7)
		return nil
	case strings.HasSuffix(u, "L"):
		n, err := specDOW.value(u[:len(u)-1], f)
		if err != nil {
			return err
		}
		s.dowKind, s.dowN = dowLast, n
		return nil
	case strings.Contains(u, "#"):
		d, k, _ := strings.Cut(u, "#")
		n, err := specDOW.value(d, f)
		if err != nil {
			return err
		}
		kv, err := strconv.Atoi(k)
		if err != nil || kv < 1 || kv > 5 || k[0] == '+' {
			return errf(fieldDayOfWeek, "'%s': the number after '#' must be 1-5", f)
		}
		s.dowKind, s.dowN, s.dowK = dowNth, n, kv
		return nil
	}
	b, err := parseSet(f, specDOW)
	if err != nil {
		return err
	}
	s.dowKind, s.dow = dowSet, b
	return nil
}

// Floored reports whether the one-minute floor changed the seconds field.
func (s *Schedule) Floored() bool { return s.floored }

// Second returns the second of the minute the schedule fires at; after the
// one-minute floor there is exactly one.
func (s *Schedule) Second() int { return s.seconds.lowest() }

// Minutes returns the minutes (0–59) the schedule fires in, ascending.
func (s *Schedule) Minutes() []int { return s.minutes.values(0, 59, 0) }

// Hours returns the hours (0–23) the schedule fires in, ascending.
func (s *Schedule) Hours() []int { return s.hours.values(0, 23, 0) }

// Months returns the months (1–12) the schedule fires in, ascending.
func (s *Schedule) Months() []int { return s.months.values(1, 12, 0) }

// Years returns the years (MinYear–MaxYear) the schedule fires in,
// ascending; all of them when the year field is '*' or left out.
func (s *Schedule) Years() []int { return s.years.values(MinYear, MaxYear, MinYear) }

// values lists the members from lo to hi, stored with offset subtracted.
func (b bitset) values(lo, hi, offset int) []int {
	var out []int
	for v := lo; v <= hi; v++ {
		if b.has(v - offset) {
			out = append(out, v)
		}
	}
	return out
}

// DayKind says how a schedule selects its days; the field of Days that
// applies depends on it.
type DayKind int

// The day kinds. The day-of-week values use Quartz numbering: 1 = Sunday …
// 7 = Saturday.
const (
	// DaysOfMonth: the days of the month in Days.Values ('*' is 1–31).
	DaysOfMonth DayKind = iota + 1
	// LastDayOfMonth: Days.N days before the last day of the month ('L' is
	// N = 0, 'L-n' is N = n).
	LastDayOfMonth
	// LastWeekdayOfMonth: the last Monday–Friday of the month ('LW').
	LastWeekdayOfMonth
	// NearestWeekday: the Monday–Friday nearest day Days.N of the month,
	// without leaving the month ('nW'); no day in months shorter than N.
	NearestWeekday
	// DaysOfWeek: the days of the week in Days.Values ('*' is 1–7, 'L' is 7).
	DaysOfWeek
	// LastDayOfWeek: the last day of the week Days.N of the month ('nL').
	LastDayOfWeek
	// NthDayOfWeek: the Days.K-th day of the week Days.N of the month ('n#k').
	NthDayOfWeek
)

// Days is the day-of-month or day-of-week rule of a schedule (whichever is
// not '?').
type Days struct {
	// Kind says which rule it is and which fields below apply.
	Kind DayKind
	// Values holds the days for DaysOfMonth (1–31) and DaysOfWeek (1–7), ascending.
	Values []int
	// N is the offset from the last day (LastDayOfMonth), the day of the month
	// (NearestWeekday) or the day of the week (LastDayOfWeek, NthDayOfWeek).
	N int
	// K is the occurrence (1–5) for NthDayOfWeek.
	K int
}

// Days returns the schedule's day rule.
func (s *Schedule) Days() Days {
	switch s.domKind {
	case domSet:
		return Days{Kind: DaysOfMonth, Values: s.dom.values(1, 31, 0)}
	case domLast:
		return Days{Kind: LastDayOfMonth, N: s.domN}
	case domLastWkd:
		return Days{Kind: LastWeekdayOfMonth}
	case domNearest:
		return Days{Kind: NearestWeekday, N: s.domN}
	}
	switch s.dowKind {
	case dowLast:
		return Days{Kind: LastDayOfWeek, N: s.dowN}
	case dowNth:
		return Days{Kind: NthDayOfWeek, N: s.dowN, K: s.dowK}
	}
	return Days{Kind: DaysOfWeek, Values: s.dow.values(1, 7, 0)}
}

// MatchesDate reports whether the schedule fires on the date y-m-d (at the
// wall-clock times of its hour, minute and second fields). d must be a day
// of that month.
func (s *Schedule) MatchesDate(y int, m time.Month, d int) bool {
	return y >= MinYear && y <= MaxYear && s.years.has(y-MinYear) && s.months.has(int(m)) &&
		d >= 1 && d <= daysIn(y, int(m)) && s.dayMatches(y, int(m), d, daysIn(y, int(m)))
}

// String returns the normalized expression, after the one-minute floor:
// lists are sorted, steps and names expanded to numbers, and the year field
// is left out when it is '*'.
func (s *Schedule) String() string {
	f := []string{
		render(s.seconds, specSecond),
		render(s.minutes, specMinute),
		render(s.hours, specHour),
	}
	switch s.domKind {
	case domAny:
		f = append(f, "?")
	case domSet:
		f = append(f, render(s.dom, specDOM))
	case domLast:
		if s.domN == 0 {
			f = append(f, "L")
		} else {
			f = append(f, "L-"+strconv.Itoa(s.domN))
		}
	case domLastWkd:
		f = append(f, "LW")
	case domNearest:
		f = append(f, strconv.Itoa(s.domN)+"W")
	}
	f = append(f, render(s.months, specMonth))
	switch s.dowKind {
	case dowAny:
		f = append(f, "?")
	case dowSet:
		f = append(f, render(s.dow, specDOW))
	case dowLast:
		f = append(f, strconv.Itoa(s.dowN)+"L")
	case dowNth:
		f = append(f, strconv.Itoa(s.dowN)+"#"+strconv.Itoa(s.dowK))
	}
	if y := render(s.years, specYear); y != "*" {
		f = append(f, y)
	}
	return strings.Join(f, " ")
}

// render writes a set as '*' or a sorted list of values and runs "a-b".
func render(b bitset, sp spec) string {
	off := sp.offset()
	if b.count() == sp.max-sp.min+1 {
		return "*"
	}
	var out []string
	for v := sp.min; v <= sp.max; v++ {
		if !b.has(v - off) {
			continue
		}
		end := v
		for end+1 <= sp.max && b.has(end+1-off) {
			end++
		}
		switch {
		case end-v >= 2:
			out = append(out, fmt.Sprintf("%d-%d", v, end))
		case end > v:
			out = append(out, strconv.Itoa(v), strconv.Itoa(end))
		default:
			out = append(out, strconv.Itoa(v))
		}
		v = end
	}
	return strings.Join(out, ",")
}

// daysIn returns the number of days in month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// weekday returns 0 = Sunday … 6 = Saturday for a date.
func weekday(y, m, d int) int {
	return int(time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC).Weekday())
}

// dayMatches reports whether the date y-m-d (d <= last, the month's length)
// is selected by the day-of-month and day-of-week fields.
func (s *Schedule) dayMatches(y, m, d, last int) bool {
	switch s.domKind {
	case domSet:
		return s.dom.has(d)
	case domLast:
		return d == last-s.domN
	case domLastWkd:
		switch weekday(y, m, last) {
		case 6:
			return d == last-1
		case 0:
			return d == last-2
		}
		return d == last
	case domNearest:
		n := s.domN
		if n > last {
			return false // the month has no day n, so no day near it
		}
		switch weekday(y, m, n) {
		case 6: // Saturday: Friday before, or Monday the 3rd when n is the 1st
			if n == 1 {
				return d == 3
			}
			return d == n-1
		case 0: // Sunday: Monday after, or Friday before when n is the last day
			if n == last {
				return d == n-2
			}
			return d == n+1
		}
		return d == n
	}
	wd := weekday(y, m, d) + 1
	switch s.dowKind {
	case dowSet:
		return s.dow.has(wd)
	case dowLast:
		return wd == s.dowN && d+7 > last
	case dowNth:
		return wd == s.dowN && (d-1)/7+1 == s.dowK
	}
	return false
}

// Next returns the first fire time strictly after after, in after's
// location, or the zero time when there is none up to the end of MaxYear.
// Daylight-saving transitions are handled as the package documentation
// says.
//
// The walk is the one of Temporal's compiledCalendar.next
// (service/worker/scheduler/calendar.go in the Temporal server), with the
// calendar's day-of-month and day-of-week match replaced by dayMatches, so
// that the fire times daestro shows are the ones a Temporal schedule fires
// at, down to its handling of repeated and skipped wall-clock times. One
// difference is left to internal/cronsched, which patches it: on a day
// whose midnight does not exist, Temporal checks the weekday of the day
// before; dayMatches checks the day's own.
func (s *Schedule) Next(after time.Time) time.Time {
	loc := after.Location()
	y, mo, d := after.Date()
	h, mi, sec := after.Clock()
	m := int(mo)
	// shift is one hour while the walk is in the second run of a
	// wall-clock hour that a fall-back repeats.
	var shift time.Duration
	if after.Add(-time.Hour).Hour() == h {
		shift = time.Hour // after is in the second copy of a repeated hour
	}
	sec++ // strictly after
	if y < MinYear {
		y, m, d, h, mi, sec, shift = MinYear, 1, 1, 0, 0, 0, 0
	}
	date := func(y, m, d, h int) time.Time { return time.Date(y, time.Month(m), d, h, 0, 0, 0, loc) }
	for {
		// Carry overflows upwards. When the wall clock takes more than an
		// hour to get from hour h to h+1, a fall-back repeats hour h: walk
		// it again, one hour later.
		if sec >= 60 {
			mi, sec = mi+1, 0
		}
		if mi >= 60 {
			prev := date(y, m, d, h)
			h, mi = h+1, 0
			if shift == 0 && date(y, m, d, h).Sub(prev) > time.Hour {
				h, shift = h-1, time.Hour
			} else {
				shift = 0
			}
		}
		if h >= 24 {
			d, h = d+1, 0
		}
		if d > daysIn(y, m) {
			m, d = m+1, 1
		}
		if m > 12 {
			y, m = y+1, 1
		}
		if y > MaxYear {
			return time.Time{}
		}
		// Match from the outside in; a field that does not match resets
		// the ones inside it.
		if !s.years.has(y - MinYear) {
			y, m, d, h, mi, sec, shift = y+1, 1, 1, 0, 0, 0, 0
			continue
		}
		if !s.months.has(m) {
			m, d, h, mi, sec, shift = m+1, 1, 0, 0, 0, 0
			continue
		}
		if !s.dayMatches(y, m, d, daysIn(y, m)) {
			d, h, mi, sec, shift = d+1, 0, 0, 0, 0
			continue
		}
		if !s.hours.has(h) {
			h, mi, sec, shift = nextOr(s.hours, h, 23, 24), 0, 0, 0
			continue
		}
		if !s.minutes.has(mi) {
			mi, sec = nextOr(s.minutes, mi, 59, 60), 0
			continue
		}
		if !s.seconds.has(sec) {
			sec = nextOr(s.seconds, sec, 59, 60)
			continue
		}
		t := time.Date(y, time.Month(m), d, h, mi, sec, 0, loc)
		if t.Hour() != h {
			// A spring-forward skipped this wall-clock time: go on with the
			// next hour.
			h, mi, sec = h+1, 0, 0
			continue
		}
		return t.Add(shift)
	}
}

// Upcoming returns up to n fire times after after, in order. It stops early
// when the schedule has no more fire times up to the end of MaxYear.
func (s *Schedule) Upcoming(after time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t := s.Next(after)
		if t.IsZero() {
			break
		}
		out = append(out, t)
		after = t
	}
	return out
}
