package cronsched

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// testZones are the zones the generated tests run in: no DST, the usual
// one-hour shifts on the hour, a half-hour offset, a 30-minute shift
// (Lord_Howe), shifts at 02:45/03:45 (Chatham) and spring-forwards that
// skip midnight (Santiago, Havana, Beirut).
var testZones = []string{
	"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe",
	"Pacific/Chatham", "America/Santiago", "America/Havana", "Asia/Beirut",
}

// gen writes random valid Quartz expressions that use every syntax element.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

func (g *gen) n(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// element is one list element of a plain field: a value, a range (maybe
// wrapping), or a step.
func (g *gen) element(lo, hi int, names []string) string {
	val := func() string {
		v := g.n(lo, hi)
		if names != nil && g.r.IntN(3) == 0 {
			name := names[v-lo]
			if g.r.IntN(2) == 0 {
				name = strings.ToLower(name)
			}
			return name
		}
		return fmt.Sprint(v)
	}
	switch g.r.IntN(6) {
	case 0, 1:
		return val()
	case 2:
		return val() + "-" + val() // wraps when the end is before the start
	case 3:
		return fmt.Sprintf("*/%d", g.n(1, (hi-lo+1)/2))
	case 4:
		return fmt.Sprintf("%d/%d", g.n(lo, hi), g.n(1, (hi-lo+1)/2))
	default:
		a := g.n(lo, hi)
		return fmt.Sprintf("%d-%d/%d", a, g.n(a, hi), g.n(1, 5))
	}
}

func (g *gen) field(lo, hi int, names []string, star int) string {
	if g.r.IntN(star) == 0 {
		return "*"
	}
	parts := make([]string, g.n(1, 3))
	for i := range parts {
		parts[i] = g.element(lo, hi, names)
	}
	return strings.Join(parts, ",")
}

var (
	monthNames = strings.Fields("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC")
	dayNames   = strings.Fields("SUN MON TUE WED THU FRI SAT")
)

// expr returns a random expression. dense makes the time-of-day fields
// fire often, so that 20 fire times cross a daylight-saving transition.
func (g *gen) expr(dense bool) string {
	sec := g.pick("0", "30", "*/30", "15/20", "5,10", "10-20", "*", "59")
	var minute, hour string
	if dense {
		minute = g.pick("*", "*/5", "0,15,30,45", "10-50/10", "45-15", "*/20", "0-59/7", g.field(0, 59, nil, 2))
		hour = g.pick("*", "0-4", "1,2,3", "22-3", "*/2", "23,0,1", "0-6/2", g.field(0, 23, nil, 3))
	} else {
		minute = g.field(0, 59, nil, 6)
		hour = g.field(0, 23, nil, 6)
	}
	var dom, dow string
	if g.r.IntN(2) == 0 {
		dow = "?"
		switch g.r.IntN(10) {
		case 0:
			dom = "L"
		case 1:
			dom = fmt.Sprintf("L-%d", g.pick2(1, 2, 3, 5, 15, 27, 28, 29, 30))
		case 2:
			dom = "LW"
		case 3:
			dom = fmt.Sprintf("%dW", g.pick2(1, 2, 15, 27, 28, 29, 30, 31, g.n(1, 31)))
		default:
			dom = g.field(1, 31, nil, 3)
		}
	} else {
		dom = "?"
		switch g.r.IntN(8) {
		case 0:
			dow = "L"
		case 1:
			dow = fmt.Sprintf("%dL", g.n(1, 7))
			if g.r.IntN(3) == 0 {
				dow = dayNames[g.n(0, 6)] + "L"
			}
		case 2:
			dow = fmt.Sprintf("%d#%d", g.n(1, 7), g.n(1, 5))
			if g.r.IntN(3) == 0 {
				dow = fmt.Sprintf("%s#%d", dayNames[g.n(0, 6)], g.n(1, 5))
			}
		default:
			dow = g.field(1, 7, dayNames, 3)
		}
	}
	month := g.field(1, 12, monthNames, 2)
	e := strings.Join([]string{sec, minute, hour, dom, month, dow}, " ")
	switch g.r.IntN(6) {
	case 0:
		e += " *"
	case 1:
		a := g.n(2025, 2040)
		e += fmt.Sprintf(" %d-%d", a, a+g.n(0, 20))
	case 2:
		e += fmt.Sprintf(" %d,%d,%d", g.n(2026, 2030), g.n(2031, 2060), g.n(2090, 2150))
	case 3:
		e += fmt.Sprintf(" %d/%d", g.n(2020, 2030), g.n(1, 4))
	}
	return e
}

func (g *gen) pick2(xs ...int) int { return xs[g.r.IntN(len(xs))] }

// from returns a start instant in loc: a random time in 2026–2035, or,
// half of the time, within a day before a daylight-saving transition.
func (g *gen) from(loc *time.Location) time.Time {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.r.Int64N(int64(10 * 365 * 24 * time.Hour))))
	base = base.Truncate(time.Second)
	if g.r.IntN(2) == 0 {
		if _, next := base.In(loc).ZoneBounds(); !next.IsZero() {
			return next.Add(-time.Duration(g.r.Int64N(int64(26 * time.Hour)))).Truncate(time.Second).In(loc)
		}
	}
	return base.In(loc)
}
