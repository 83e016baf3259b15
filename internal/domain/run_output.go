package domain

import (
	"strconv"
	"time"
)

// Page sizes of a run's log lines. Lines are small and read in bulk (a
// terminal catching up), so pages are larger than catalog pages.
const (
	DefaultLogPageLimit = 1000
	MaxLogPageLimit     = 5000
)

// LogLine is one line of a run's output as the API shows it.
type LogLine struct {
	// Seq numbers the run's lines from 1; pass the last one seen as after_seq.
	Seq int64 `json:"seq"`
	// Stream is "stdout" or "stderr".
	Stream string `json:"stream"`
	// Time is when the container wrote the line.
	Time time.Time `json:"time"`
	// Text is the line without its newline.
	Text string `json:"text"`
	// Partial means the line was too long for one piece and goes on in the
	// next line of the same stream.
	Partial bool `json:"partial"`
}

// RunLogs is one page of a run's log lines.
type RunLogs struct {
	// RunID is the run the lines belong to.
	RunID string `json:"run_id"`
	// Lines are in Seq order.
	Lines []LogLine `json:"lines"`
	// NextAfterSeq is the after_seq of the next page: the last line's Seq,
	// or the request's after_seq when there was no line.
	NextAfterSeq int64 `json:"next_after_seq"`
	// RunFinished is true once the run has ended: a page shorter than the
	// limit is then the end of the logs.
	RunFinished bool `json:"run_finished"`
}

// LogQuery asks for a page of a run's lines.
type LogQuery struct {
	// AfterSeq skips the lines up to and including it (0 = from the start).
	AfterSeq int64
	// Limit is 1..MaxLogPageLimit.
	Limit int
}

// ParseLogQuery reads the after_seq and limit query parameters.
func ParseLogQuery(afterSeq, limit string) (LogQuery, error) {
	q := LogQuery{Limit: DefaultLogPageLimit}
	if afterSeq != "" {
		n, err := strconv.ParseInt(afterSeq, 10, 64)
		if err != nil || n < 0 {
			return q, Errorf(EINVALID, "after_seq: %q must be a whole number, 0 or more (the seq of the last line you have)", afterSeq)
		}
		q.AfterSeq = n
	}
	n, err := parseLimit(limit, q.Limit, MaxLogPageLimit)
	q.Limit = n
	return q, err
}

// parseLimit reads a page size of 1..max; def when raw is empty.
func parseLimit(raw string, def, max int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return def, Errorf(EINVALID, "limit: %q must be a whole number from 1 to %d", raw, max)
	}
	return n, nil
}

// MetricSample is one CPU/memory sample of a run's container.
type MetricSample struct {
	// Time is when the sample was taken.
	Time time.Time `json:"time"`
	// CPUPct is CPU use over the sampling interval, 100 = one core (the
	// scale of a job definition's CPU quota).
	CPUPct float64 `json:"cpu_pct"`
	// MemoryBytes is memory in use without the page cache, as `docker stats` shows it.
	MemoryBytes int64 `json:"memory_bytes"`
}

// MetricsSummary condenses a run's samples into what sizing a job
// definition's quotas needs: peaks and averages.
type MetricsSummary struct {
	// CPUPctMax and CPUPctAvg are over all samples; 0 without samples.
	CPUPctMax float64 `json:"cpu_pct_max"`
	CPUPctAvg float64 `json:"cpu_pct_avg"`
	// MemoryBytesMax and MemoryBytesAvg are over all samples; the average
	// is rounded to a whole byte.
	MemoryBytesMax int64 `json:"memory_bytes_max"`
	MemoryBytesAvg int64 `json:"memory_bytes_avg"`
	// Samples is how many samples there are.
	Samples int `json:"samples"`
}

// RunMetrics is one page of a run's samples with the summary of all of them.
type RunMetrics struct {
	// RunID is the run the samples belong to.
	RunID string `json:"run_id"`
	// Samples are in time order, at most the query's limit, after its After.
	Samples []MetricSample `json:"samples"`
	// Summary condenses every sample of the run, not only this page.
	Summary MetricsSummary `json:"summary"`
	// NextAfter is the time to pass as after for the next page; nil when
	// this page holds the last sample stored so far.
	NextAfter *time.Time `json:"next_after"`
}

// Pages of metric samples: a day of 5-second samples is 17,280.
const (
	DefaultMetricsPageLimit = 2000
	MaxMetricsPageLimit     = 10000
)

// MetricsQuery is one page of a run's samples: those taken after After.
type MetricsQuery struct {
	After *time.Time
	Limit int
}

// ParseMetricsQuery reads the after (RFC 3339) and limit parameters.
func ParseMetricsQuery(after, limit string) (MetricsQuery, error) {
	q := MetricsQuery{Limit: DefaultMetricsPageLimit}
	if after != "" {
		t, err := time.Parse(time.RFC3339Nano, after)
		if err != nil {
			return q, Errorf(EINVALID, "after: %q is not an RFC 3339 time (pass the next_after of the previous page)", after)
		}
		q.After = &t
	}
	n, err := parseLimit(limit, q.Limit, MaxMetricsPageLimit)
	q.Limit = n
	return q, err
}

// SummarizeMetrics computes the summary of samples.
func SummarizeMetrics(samples []MetricSample) MetricsSummary {
	var s MetricsSummary
	if len(samples) == 0 {
		return s
	}
	var cpuSum float64
	var memSum int64
	for i, m := range samples {
		if i == 0 || m.CPUPct > s.CPUPctMax {
			s.CPUPctMax = m.CPUPct
		}
		if i == 0 || m.MemoryBytes > s.MemoryBytesMax {
			s.MemoryBytesMax = m.MemoryBytes
		}
		cpuSum += m.CPUPct
		memSum += m.MemoryBytes
	}
	n := int64(len(samples))
	s.Samples = len(samples)
	s.CPUPctAvg = cpuSum / float64(n)
	s.MemoryBytesAvg = (memSum + n/2) / n
	return s
}
