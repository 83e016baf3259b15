package cronsched

import (
	"testing"
	"time"

	"daestro/internal/domain"
	"daestro/internal/quartz"
)

// FuzzTranslate: for any valid expression, zone and start, Translate does
// not panic, refuses only schedules Temporal cannot represent, and its
// spec fires at quartz's times under the copy of Temporal's walk.
func FuzzTranslate(f *testing.F) {
	for i, c := range edgeCases {
		f.Add(c.expr, c.from.Unix(), uint8(i))
	}
	g := newGen(7)
	for i := range 40 {
		loc, _ := time.LoadLocation(testZones[i%len(testZones)])
		f.Add(g.expr(i%2 == 0), g.from(loc).Unix(), uint8(i))
	}
	lo := time.Date(MinYear, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(MaxYear, 6, 1, 0, 0, 0, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, expr string, unix int64, zone uint8) {
		s, err := quartz.Parse(expr)
		if err != nil {
			return
		}
		unix = lo + (unix%(hi-lo)+(hi-lo))%(hi-lo)
		tz := testZones[int(zone)%len(testZones)]
		loc, _ := time.LoadLocation(tz)
		from := time.Unix(unix, 0).In(loc)
		tr, err := Translate(s, tz, from)
		if err != nil {
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("%q in %s from %s: error %v is not EINVALID", expr, tz, from, err)
			}
			if next := s.Next(from); !next.IsZero() && next.Before(temporalEnd(loc)) {
				t.Fatalf("%q in %s from %s: refused although it fires at %s: %v", expr, tz, from, next, err)
			}
			return
		}
		if len(tr.Spec.Calendars) == 0 || tr.Spec.TimeZoneName != tz {
			t.Fatalf("%q: spec %+v", expr, tr.Spec)
		}
		if !tr.RefreshAfter.IsZero() && tr.RefreshAfter.Before(from.AddDate(0, 0, HorizonDays)) {
			t.Fatalf("%q in %s from %s: RefreshAfter %s is within the horizon", expr, tz, from, tr.RefreshAfter)
		}
		checkAgainstRef(t, expr, s, tz, from, 5)
	})
}
