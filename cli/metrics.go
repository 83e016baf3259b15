package cli

import (
	"fmt"
	"math"
	"strings"

	"daestro/client"
)

// sparkBlocks are the eight heights of a sparkline, lowest first.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values in at most width cells: each cell is the largest
// value of its share of the samples (a peak is never averaged away), on a
// scale from 0 to the largest value.
func sparkline(values []float64, width int) string {
	if len(values) == 0 || width < 1 {
		return ""
	}
	cells := min(width, len(values))
	peaks := make([]float64, cells)
	top := 0.0
	for c := range cells {
		lo, hi := c*len(values)/cells, (c+1)*len(values)/cells
		peak := 0.0
		for _, v := range values[lo:hi] {
			peak = math.Max(peak, v)
		}
		peaks[c] = peak
		top = math.Max(top, peak)
	}
	var b strings.Builder
	for _, p := range peaks {
		i := 0
		if top > 0 {
			i = int(math.Round(p / top * float64(len(sparkBlocks)-1)))
		}
		b.WriteRune(sparkBlocks[i])
	}
	return b.String()
}

// bytesText prints a byte count in binary units.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGT"[i])
}

// metricsText is job metrics' text: a CPU and a memory sparkline over
// every sample, each with the summary's max and average.
func metricsText(samples []client.MetricSample, sum *client.MetricsSummary, width int) string {
	if len(samples) == 0 {
		return "no samples yet (the agent takes one every few seconds while the job runs)\n"
	}
	cpu := make([]float64, len(samples))
	mem := make([]float64, len(samples))
	for i, m := range samples {
		if m.CpuPct != nil {
			cpu[i] = float64(*m.CpuPct)
		}
		if m.MemoryBytes != nil {
			mem[i] = float64(*m.MemoryBytes)
		}
	}
	if sum == nil {
		sum = &client.MetricsSummary{}
	}
	// "memory  " + line + "  max 1023.9 MiB  avg 1023.9 MiB" fits in width.
	line := max(10, width-8-34)
	var b strings.Builder
	fmt.Fprintf(&b, "CPU     %s  max %.1f %%  avg %.1f %%\n", sparkline(cpu, line), val(sum.CpuPctMax), val(sum.CpuPctAvg))
	fmt.Fprintf(&b, "memory  %s  max %s  avg %s\n", sparkline(mem, line), bytesText(val(sum.MemoryBytesMax)), bytesText(val(sum.MemoryBytesAvg)))
	first, last := samples[0].Time, samples[len(samples)-1].Time
	span := ""
	if first != nil && last != nil {
		span = fmt.Sprintf(" over %s, from %s", last.Sub(*first).Round(1e9), stamp(first))
	}
	fmt.Fprintf(&b, "%d samples%s (100 %% CPU = one core)\n", max(len(samples), int(val(sum.Samples))), span)
	return b.String()
}

func val[T int | int64 | float32](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}
