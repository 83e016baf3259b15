package quartz

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
	_ "time/tzdata"
)

func TestParse(t *testing.T) {
	tests := []struct {
		expr    string
		want    string // normalized String()
		floored bool
	}{
		{"0 0 12 * * ?", "0 0 12 * * ?", false},
		{"0 0 12 ? * *", "0 0 12 ? * *", false},
		{"0 15,45 * * * ?", "0 15,45 * * * ?", false},
		{"0 10-12 * * * ?", "0 10-12 * * * ?", false},
		{"0 */15 * * * ?", "0 0,15,30,45 * * * ?", false},
		{"0 5/20 * * * ?", "0 5,25,45 * * * ?", false},
		{"0 0 8-18/5 * * ?", "0 0 8,13,18 * * ?", false},
		{"0 0 22-2 * * ?", "0 0 0-2,22,23 * * ?", false},
		{"0 0 0 1 jan,Mar,DEC ?", "0 0 0 1 1,3,12 ?", false},
		{"0 0 0 1 JAN-MAR ?", "0 0 0 1 1-3 ?", false},
		{"0 0 0 ? * mon-fri", "0 0 0 ? * 2-6", false},
		{"0 0 0 ? * FRI-MON", "0 0 0 ? * 1,2,6,7", false},
		{"0 0 0 ? * 1,7", "0 0 0 ? * 1,7", false},
		{"0 0 0 L * ?", "0 0 0 L * ?", false},
		{"0 0 0 l-2 * ?", "0 0 0 L-2 * ?", false},
		{"0 0 0 LW * ?", "0 0 0 LW * ?", false},
		{"0 0 9 15W * ?", "0 0 9 15W * ?", false},
		{"0 0 0 ? * 6L", "0 0 0 ? * 6L", false},
		{"0 0 0 ? * friL", "0 0 0 ? * 6L", false},
		{"0 0 0 ? * L", "0 0 0 ? * 7", false},
		{"0 0 12 ? * 6#3", "0 0 12 ? * 6#3", false},
		{"0 0 12 ? * FRI#3", "0 0 12 ? * 6#3", false},
		{"0 0 0 1 1 ? 2030", "0 0 0 1 1 ? 2030", false},
		{"0 0 0 1 1 ? 2030-2032,2040", "0 0 0 1 1 ? 2030-2032,2040", false},
		{"0 0 0 1 1 ? *", "0 0 0 1 1 ?", false},
		{"*/30 * * * * ?", "0 * * * * ?", true},
		{"15/20 * * * * ?", "15 * * * * ?", true},
		{"10,5 * * * * ?", "5 * * * * ?", true},
		{"  0  0  0  *  *  ?  ", "0 0 0 * * ?", false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if s.Floored() != tt.floored {
				t.Errorf("Floored() = %v, want %v", s.Floored(), tt.floored)
			}
			// The normalized form parses to itself.
			s2, err := Parse(s.String())
			if err != nil || s2.String() != s.String() {
				t.Errorf("reparse of %q: %v, %v", s.String(), s2, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"0 0 12 * *", "expression: expected 6 or 7 fields (second minute hour day-of-month month day-of-week [year]), got 5"},
		{"0 0 0 1 1 ? 2030 x", "expression: expected 6 or 7 fields (second minute hour day-of-month month day-of-week [year]), got 8"},
		{"60 * * * * ?", "second: '60' is out of range 0-59"},
		{"0 60 * * * ?", "minute: '60' is out of range 0-59"},
		{"0 * 24 * * ?", "hour: '24' is out of range 0-23"},
		{"0 0 0 32 * ?", "day-of-month: '32' is out of range 1-31"},
		{"0 0 0 0 * ?", "day-of-month: '0' is out of range 1-31"},
		{"0 0 0 1 13 ?", "month: '13' is out of range 1-12"},
		{"0 0 0 ? * 8", "day-of-week: '8' is out of range 1-7"},
		{"0 0 0 ? * 0", "day-of-week: '0' is out of range 1-7"},
		{"0 0 0 1 1 ? 1969", "year: '1969' is out of range 1970-2199"},
		{"0 0 0 1 1 ? 2200", "year: '2200' is out of range 1970-2199"},
		{"0 0 0 1 1 ? 2040-2030", "year: '2040-2030' range runs backwards"},
		{"0 */0 * * * ?", "minute: '*/0' step must be at least 1"},
		{"0 */61 * * * ?", "minute: '*/61' step must be at most 60"},
		{"0 */x * * * ?", "minute: '*/x' step 'x' is not a number"},
		{"0 a * * * ?", "minute: 'a' is not a number"},
		{"0 +5 * * * ?", "minute: '+5' is not a number"},
		{"0 1,,2 * * * ?", "minute: '1,,2' has an empty list element"},
		{"0 0 0 1 FOO ?", "month: 'FOO' is not a number or a name"},
		{"0 0 0 ? * MOX", "day-of-week: 'MOX' is not a number or a name"},
		{"? 0 0 1 * ?", "second: '?' is only allowed in day-of-month and day-of-week"},
		{"0 0 0 ?,1 * ?", "day-of-month: '?' cannot be combined with other values"},
		{"0 0 0 * * *", "day-of-month and day-of-week: one of them must be '?' (Quartz does not support both)"},
		{"0 0 0 1 * MON", "day-of-month and day-of-week: one of them must be '?' (Quartz does not support both)"},
		{"0 0 0 ? * ?", "day-of-month and day-of-week: only one of them may be '?', but both are; use '*' in the other to mean every day"},
		{"0 0 0 L,15 * ?", "day-of-month: 'L,15': 'L' and 'W' cannot be combined with other values"},
		{"0 0 0 L-31 * ?", "day-of-month: 'L-31': the offset after 'L-' must be at most 30"},
		{"0 0 0 L-x * ?", "day-of-month: 'L-x': the offset after 'L-' must be a number"},
		{"0 0 0 32W * ?", "day-of-month: '32W' is out of range 1-31"},
		{"0 0 0 W * ?", "day-of-month: 'W' is not a number"},
		{"0 0 0 5L * ?", "day-of-month: '5L' is not valid: use 'L', 'L-n', 'LW' or 'nW'"},
		{"0 0 0 ? * 8L", "day-of-week: '8L' is out of range 1-7"},
		{"0 0 0 ? * 6L,2", "day-of-week: '6L,2': 'L' and '#' cannot be combined with other values"},
		{"0 0 0 ? * 6#6", "day-of-week: '6#6': the number after '#' must be 1-5"},
		{"0 0 0 ? * 6#0", "day-of-week: '6#0': the number after '#' must be 1-5"},
		{"0 0 0 ? * 6#", "day-of-week: '6#': the number after '#' must be 1-5"},
		{"0 0 0 ? * 9#1", "day-of-week: '9#1' is out of range 1-7"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want error %q", tt.expr, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\n      want %q", err.Error(), tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, want *ParseError", err)
			}
		})
	}
}

func utc(y int, m time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, m, d, h, mi, s, 0, time.UTC)
}

func TestNext(t *testing.T) {
	tests := []struct {
		name, expr string
		after      time.Time
		want       []time.Time
	}{
		{"third Friday at noon", "0 0 12 ? * 6#3", utc(2026, 1, 1, 0, 0, 0),
			[]time.Time{utc(2026, 1, 16, 12, 0, 0), utc(2026, 2, 20, 12, 0, 0), utc(2026, 3, 20, 12, 0, 0)}},
		{"fifth Monday skips months without one", "0 0 0 ? * 2#5", utc(2026, 1, 1, 0, 0, 0),
			[]time.Time{utc(2026, 3, 30, 0, 0, 0), utc(2026, 6, 29, 0, 0, 0), utc(2026, 8, 31, 0, 0, 0)}},
		{"last day of month", "0 0 0 L * ?", utc(2024, 1, 15, 0, 0, 0),
			[]time.Time{utc(2024, 1, 31, 0, 0, 0), utc(2024, 2, 29, 0, 0, 0), utc(2024, 3, 31, 0, 0, 0), utc(2024, 4, 30, 0, 0, 0)}},
		{"last day of month, non-leap", "0 0 0 L 2 ?", utc(2025, 1, 1, 0, 0, 0),
			[]time.Time{utc(2025, 2, 28, 0, 0, 0), utc(2026, 2, 28, 0, 0, 0)}},
		{"two days before last", "0 0 0 L-2 * ?", utc(2024, 1, 30, 0, 0, 0),
			[]time.Time{utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 29, 0, 0, 0), utc(2024, 4, 28, 0, 0, 0)}},
		{"last Friday", "0 0 0 ? * 6L", utc(2026, 1, 1, 0, 0, 0),
			[]time.Time{utc(2026, 1, 30, 0, 0, 0), utc(2026, 2, 27, 0, 0, 0), utc(2026, 3, 27, 0, 0, 0)}},
		// 2026-02-15 is a Sunday, 2026-03-15 a Sunday, 2026-08-15 a Saturday.
		{"15W", "0 0 9 15W * ?", utc(2026, 2, 1, 0, 0, 0),
			[]time.Time{utc(2026, 2, 16, 9, 0, 0), utc(2026, 3, 16, 9, 0, 0), utc(2026, 4, 15, 9, 0, 0)}},
		{"15W on a Saturday", "0 0 9 15W 8 ?", utc(2026, 1, 1, 0, 0, 0),
			[]time.Time{utc(2026, 8, 14, 9, 0, 0)}},
		// 2026-08-01 is a Saturday: nearest weekday in the month is Monday the 3rd.
		{"1W on a Saturday", "0 0 9 1W * ?", utc(2026, 7, 2, 0, 0, 0),
			[]time.Time{utc(2026, 8, 3, 9, 0, 0), utc(2026, 9, 1, 9, 0, 0)}},
		// 2026-05-31 is a Sunday: nearest weekday in the month is Friday the 29th.
		{"31W on a Sunday", "0 0 9 31W * ?", utc(2026, 5, 1, 0, 0, 0),
			[]time.Time{utc(2026, 5, 29, 9, 0, 0), utc(2026, 7, 31, 9, 0, 0)}},
		// 2026-05-31 Sunday → 29th; 2026-01-31 Saturday → 30th; 2026-06-30 Tuesday.
		{"last weekday", "0 0 0 LW * ?", utc(2026, 1, 1, 0, 0, 0),
			[]time.Time{utc(2026, 1, 30, 0, 0, 0), utc(2026, 2, 27, 0, 0, 0), utc(2026, 3, 31, 0, 0, 0),
				utc(2026, 4, 30, 0, 0, 0), utc(2026, 5, 29, 0, 0, 0), utc(2026, 6, 30, 0, 0, 0)}},
		{"Feb 29 only in leap years", "0 0 0 29 2 ?", utc(2024, 3, 1, 0, 0, 0),
			[]time.Time{utc(2028, 2, 29, 0, 0, 0), utc(2032, 2, 29, 0, 0, 0)}},
		{"2100 is not a leap year", "0 0 0 29 2 ?", utc(2097, 1, 1, 0, 0, 0),
			[]time.Time{utc(2104, 2, 29, 0, 0, 0)}},
		{"year field", "0 30 6 1 1 ? 2030,2035", utc(2026, 6, 1, 0, 0, 0),
			[]time.Time{utc(2030, 1, 1, 6, 30, 0), utc(2035, 1, 1, 6, 30, 0)}},
		{"floored to once a minute", "*/30 * * * * ?", utc(2026, 1, 1, 0, 0, 0),
			[]time.Time{utc(2026, 1, 1, 0, 1, 0), utc(2026, 1, 1, 0, 2, 0), utc(2026, 1, 1, 0, 3, 0)}},
		{"strictly after, sub-second", "0 * * * * ?", time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC),
			[]time.Time{utc(2026, 1, 1, 0, 1, 0)}},
		{"weekdays across a weekend", "0 0 9 ? * MON-FRI", utc(2026, 1, 2, 9, 0, 0),
			[]time.Time{utc(2026, 1, 5, 9, 0, 0), utc(2026, 1, 6, 9, 0, 0)}},
		{"year rollover", "0 0 0 1 1 ?", utc(2026, 12, 31, 23, 59, 59),
			[]time.Time{utc(2027, 1, 1, 0, 0, 0)}},
		{"Feb 30 never fires", "0 0 0 30 2 ?", utc(2026, 1, 1, 0, 0, 0), nil},
		{"past the last year", "0 0 0 1 1 ? 2030", utc(2030, 1, 1, 0, 0, 0), nil},
		{"before 1970", "0 0 0 1 1 ?", utc(1900, 1, 1, 0, 0, 0),
			[]time.Time{utc(1970, 1, 1, 0, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Upcoming(tt.after, len(tt.want))
			if len(tt.want) == 0 {
				if n := s.Next(tt.after); !n.IsZero() {
					t.Fatalf("Next = %v, want none", n)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Upcoming = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("[%d] = %v, want %v", i, got[i], tt.want[i])
				}
				if !matches(s, got[i]) {
					t.Errorf("[%d] %v does not match per brute force", i, got[i])
				}
			}
		})
	}
}

func TestFloored(t *testing.T) {
	s, err := Parse("*/30 * * * * ?")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Floored() {
		t.Error("Floored() = false, want true")
	}
	s, _ = Parse("30 * * * * ?")
	if s.Floored() {
		t.Error("single seconds value: Floored() = true, want false")
	}
}

// TestNextDST pins the daylight-saving rules of the package documentation,
// which are Temporal's: cronsched's TestEquivalenceOnTemporal checks the
// same cases on a real Temporal server. Wanted times are in UTC.
func TestNextDST(t *testing.T) {
	// The tzdata import embeds the zone database: this never depends on the machine.
	local := func(zone string, y int, m time.Month, d, h, mi int) time.Time {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatalf("load %s: %v", zone, err)
		}
		return time.Date(y, m, d, h, mi, 0, 0, loc)
	}
	const ny, berlin, lordHowe = "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"
	tests := []struct {
		name, zone, expr string
		after            time.Time
		want             []time.Time
	}{
		// 2026-03-08 02:00 EST jumps to 03:00 EDT: 02:30 does not exist that day.
		{"spring-forward skips a missing time", ny, "0 30 2 * * ?", local(ny, 2026, 3, 6, 12, 0),
			[]time.Time{utc(2026, 3, 7, 7, 30, 0), utc(2026, 3, 9, 6, 30, 0)}},
		{"spring-forward hourly", ny, "0 0 * * * ?", local(ny, 2026, 3, 8, 0, 30),
			[]time.Time{utc(2026, 3, 8, 6, 0, 0), utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 8, 8, 0, 0)}},
		// 2026-11-01 02:00 EDT falls back to 01:00 EST: 01:30 happens twice
		// and fires twice, 05:30Z (EDT) and 06:30Z (EST).
		{"fall-back fires in both", ny, "0 30 1 * * ?", local(ny, 2026, 10, 31, 12, 0),
			[]time.Time{utc(2026, 11, 1, 5, 30, 0), utc(2026, 11, 1, 6, 30, 0), utc(2026, 11, 2, 6, 30, 0)}},
		{"fall-back hourly", ny, "0 0 * * * ?", local(ny, 2026, 11, 1, 0, 30),
			[]time.Time{utc(2026, 11, 1, 5, 0, 0), utc(2026, 11, 1, 6, 0, 0), utc(2026, 11, 1, 7, 0, 0)}},
		{"fall-back from inside the repeated hour", ny, "0 30 1 * * ?", local(ny, 2026, 11, 1, 1, 10).Add(time.Hour),
			[]time.Time{utc(2026, 11, 1, 6, 30, 0), utc(2026, 11, 2, 6, 30, 0)}},
		// 2026-10-25 03:00 CEST falls back to 02:00 CET. East of UTC the
		// hour before the repeated one is walked again an hour later:
		// 01:30 CEST (23:30Z) and 02:30 CEST (00:30Z).
		{"east fall-back repeats the hour before", berlin, "0 30 1 * * ?", local(berlin, 2026, 10, 24, 12, 0),
			[]time.Time{utc(2026, 10, 24, 23, 30, 0), utc(2026, 10, 25, 0, 30, 0), utc(2026, 10, 26, 0, 30, 0)}},
		// ... and the repeated hour alone fires once, in CET (01:30Z).
		{"east fall-back fires the repeated hour once", berlin, "0 30 2 * * ?", local(berlin, 2026, 10, 24, 12, 0),
			[]time.Time{utc(2026, 10, 25, 1, 30, 0), utc(2026, 10, 26, 1, 30, 0)}},
		// Every half hour: 02:00 CEST (00:00Z) comes from the second walk of
		// 01:00, then 02:30 CET (01:30Z); 02:30 CEST and 02:00 CET do not fire.
		{"east fall-back half-hourly", berlin, "0 0,30 * * * ?", local(berlin, 2026, 10, 25, 0, 20),
			[]time.Time{utc(2026, 10, 24, 22, 30, 0), utc(2026, 10, 24, 23, 0, 0), utc(2026, 10, 24, 23, 30, 0),
				utc(2026, 10, 25, 0, 0, 0), utc(2026, 10, 25, 1, 30, 0), utc(2026, 10, 25, 2, 0, 0)}},
		// 2026-10-04 02:00 (+10:30) jumps to 02:30 (+11): the missing 02:15
		// is read as 02:45 (15:45Z), which then does not fire a second time.
		{"missing time read forward east of UTC", lordHowe, "0 15,45 2 * * ?", local(lordHowe, 2026, 10, 3, 12, 0),
			[]time.Time{utc(2026, 10, 3, 15, 45, 0), utc(2026, 10, 4, 15, 15, 0), utc(2026, 10, 4, 15, 45, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Upcoming(tt.after, len(tt.want))
			if len(got) != len(tt.want) {
				t.Fatalf("Upcoming = %v, want %v", got, tt.want)
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("[%d] = %v, want %v", i, got[i], tt.want[i].In(tt.after.Location()))
				}
				if got[i].Location() != tt.after.Location() {
					t.Errorf("[%d] location = %v, want %s", i, got[i].Location(), tt.zone)
				}
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	s, err := Parse("*/30 5,10-12 22-1 ? NOV-FEB 6#3 2030-2032")
	if err != nil {
		t.Fatal(err)
	}
	if s.Second() != 0 || !slices.Equal(s.Minutes(), []int{5, 10, 11, 12}) || !slices.Equal(s.Hours(), []int{0, 1, 22, 23}) ||
		!slices.Equal(s.Months(), []int{1, 2, 11, 12}) || !slices.Equal(s.Years(), []int{2030, 2031, 2032}) {
		t.Errorf("fields: %d %v %v %v %v", s.Second(), s.Minutes(), s.Hours(), s.Months(), s.Years())
	}
	days := []struct {
		expr string
		want Days
	}{
		{"0 0 0 1,15 * ?", Days{Kind: DaysOfMonth, Values: []int{1, 15}}},
		{"0 0 0 L * ?", Days{Kind: LastDayOfMonth}},
		{"0 0 0 L-3 * ?", Days{Kind: LastDayOfMonth, N: 3}},
		{"0 0 0 LW * ?", Days{Kind: LastWeekdayOfMonth}},
		{"0 0 0 15W * ?", Days{Kind: NearestWeekday, N: 15}},
		{"0 0 0 ? * MON-FRI", Days{Kind: DaysOfWeek, Values: []int{2, 3, 4, 5, 6}}},
		{"0 0 0 ? * L", Days{Kind: DaysOfWeek, Values: []int{7}}},
		{"0 0 0 ? * 6L", Days{Kind: LastDayOfWeek, N: 6}},
		{"0 0 0 ? * 6#3", Days{Kind: NthDayOfWeek, N: 6, K: 3}},
	}
	for _, tt := range days {
		s, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Days(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: Days() = %+v, want %+v", tt.expr, got, tt.want)
		}
	}
	// 2026-01-16 is the third Friday of January 2026.
	s, _ = Parse("0 0 0 ? JAN 6#3 2026")
	for d := 1; d <= 31; d++ {
		if got := s.MatchesDate(2026, time.January, d); got != (d == 16) {
			t.Errorf("MatchesDate(2026-01-%02d) = %v", d, got)
		}
	}
	if s.MatchesDate(2027, time.January, 15) || s.MatchesDate(2026, time.February, 20) || s.MatchesDate(2026, time.January, 0) {
		t.Error("MatchesDate outside the year, month or month's days")
	}
}

func TestUpcomingStopsAtLastYear(t *testing.T) {
	s, err := Parse("0 0 0 1 1 ? 2030,2031")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Upcoming(utc(2026, 1, 1, 0, 0, 0), 5)
	want := []time.Time{utc(2030, 1, 1, 0, 0, 0), utc(2031, 1, 1, 0, 0, 0)}
	if len(got) != len(want) || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
		t.Errorf("Upcoming = %v, want %v", got, want)
	}
	if got := s.Upcoming(utc(2026, 1, 1, 0, 0, 0), 0); len(got) != 0 {
		t.Errorf("Upcoming(n=0) = %v, want none", got)
	}
}
