package placement

// ratio is num/den kept as integers so that impacts compare exactly: with
// floats, two spawns could tie on one machine and not on another, and the
// round would stop being a pure function of its input.
type ratio struct {
	num, den int64
}

// isInf reports a positive quota over nothing free: it never fits.
func (r ratio) isInf() bool { return r.den == 0 && r.num > 0 }

// less orders ratios; 0/0 (no quota of this resource, nothing free) is 0.
// Inputs fit in int32, so the cross products fit in int64.
func (r ratio) less(o ratio) bool {
	if r.isInf() || o.isInf() {
		return !r.isInf() && o.isInf()
	}
	rn, rd := r.num, r.den
	if rd == 0 {
		rn, rd = 0, 1
	}
	on, od := o.num, o.den
	if od == 0 {
		on, od = 0, 1
	}
	return rn*od < on*rd
}

// impact is how hard placing a quota of (cpu, mem) hits a spawn with
// (freeCPU, freeMem) left: the larger of the two fractions of the free
// capacity the job would take,
//
//	impact = max(cpu / freeCPU, mem / freeMem)
//
// Placement picks the fitting spawn with the lowest impact. Taking the max
// rather than a sum or an average is the point: a spawn that would be left
// with plenty of memory but no CPU is as useless to the next job as one left
// with neither, so the scarcer resource decides. Lower impact therefore means
// the job eats the smallest share of whatever is tightest on that spawn,
// which spreads load and keeps the most balanced headroom for the jobs that
// follow. A value over 1 means the quota does not fit; that is only ever
// compared for a job that fits no spawn at all and takes an empty one whole,
// where the lowest impact is the spawn it overcommits least.
func impact(cpu, mem, freeCPU, freeMem int) ratio {
	c := ratio{int64(cpu), int64(freeCPU)}
	m := ratio{int64(mem), int64(freeMem)}
	if c.less(m) {
		return m
	}
	return c
}
