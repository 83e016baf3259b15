package quartz

import (
	"testing"
	"time"
)

// matches reports whether t is a fire time of s. It is a brute-force
// checker written independently of Next: it looks only at t's own wall-clock
// fields and derives month lengths and weekdays from the time package.
func matches(s *Schedule, t time.Time) bool {
	if t.Nanosecond() != 0 || !s.seconds.has(t.Second()) || !s.minutes.has(t.Minute()) ||
		!s.hours.has(t.Hour()) || !s.months.has(int(t.Month())) || !s.years.has(t.Year()-MinYear) {
		return false
	}
	y, m, d := t.Date()
	date := func(day int) time.Time { return time.Date(y, m, day, 12, 0, 0, 0, time.UTC) }
	last := date(32).AddDate(0, 0, -date(32).Day()).Day() // day 0 of next month
	isWeekday := func(day int) bool {
		wd := date(day).Weekday()
		return day >= 1 && day <= last && wd != time.Saturday && wd != time.Sunday
	}
	switch s.domKind {
	case domSet:
		return s.dom.has(d)
	case domLast:
		return d == last-s.domN
	case domLastWkd:
		for day := last; day >= 1; day-- {
			if isWeekday(day) {
				return d == day
			}
		}
		return false
	case domNearest:
		if s.domN > last {
			return false
		}
		// Nearest weekday within the month; no ties are possible because
		// weekends are two days long.
		for dist := 0; dist <= 3; dist++ {
			if isWeekday(s.domN - dist) {
				return d == s.domN-dist
			}
			if isWeekday(s.domN + dist) {
				return d == s.domN+dist
			}
		}
		return false
	}
	wd := int(t.Weekday()) + 1
	switch s.dowKind {
	case dowSet:
		return s.dow.has(wd)
	case dowLast:
		return wd == s.dowN && t.AddDate(0, 0, 7).Month() != m
	case dowNth:
		k := 0
		for day := 1; day <= d; day++ {
			if int(date(day).Weekday())+1 == s.dowN {
				k++
			}
		}
		return wd == s.dowN && k == s.dowK
	}
	return false
}

// maxScanMinutes bounds the minute-by-minute scan for missed fire times
// between two consecutive results, to keep the fuzz test fast.
const maxScanMinutes = 3 * 24 * 60

func FuzzSchedule(f *testing.F) {
	seeds := []string{
		"0 0 12 ? * 6#3", "0 0 0 L * ?", "0 0 0 L-2 * ?", "0 0 0 ? * 6L", "0 0 9 15W * ?",
		"0 0 9 1W * ?", "0 0 0 LW * ?", "0 0 0 29 2 ?", "0 30 6 1 1 ? 2030,2035", "*/30 * * * * ?",
		"0 */7 1-3 * * ?", "0 0 22-2 ? * FRI-MON", "0 0 0 ? * ?", "0 0 0 * * *", "1-2/0 * * * * ?",
		"0 0 0 31W * ?", "0 0 0 ? JAN,jul L", "5 4 3 2 1 ? 2199",
	}
	for i, s := range seeds {
		f.Add(s, int64(1767225600+i*86400*37))
	}
	f.Fuzz(func(t *testing.T, expr string, unix int64) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		if _, err := Parse(s.String()); err != nil {
			t.Fatalf("normalized %q of %q does not parse: %v", s.String(), expr, err)
		}
		// Keep the start within the supported years.
		const lo, hi = 0, 7200000000 // 1970 … ~2198
		unix = lo + (unix%hi+hi)%hi
		prev := time.Unix(unix, 0).UTC()
		for i := 0; i < 50; i++ {
			next := s.Next(prev)
			if next.IsZero() {
				return
			}
			if !next.After(prev) {
				t.Fatalf("%q: Next(%v) = %v, not after", expr, prev, next)
			}
			if !matches(s, next) {
				t.Fatalf("%q: Next(%v) = %v, which does not match", expr, prev, next)
			}
			// No fire time was skipped: scan every minute in between.
			if next.Sub(prev) <= maxScanMinutes*time.Minute {
				sec := s.seconds.lowest()
				c := prev.Truncate(time.Minute).Add(time.Duration(sec) * time.Second)
				for ; c.Before(next); c = c.Add(time.Minute) {
					if c.After(prev) && matches(s, c) {
						t.Fatalf("%q: Next(%v) = %v, but %v matches first", expr, prev, next, c)
					}
				}
			}
			prev = next
		}
	})
}
