package console

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"daestro/internal/domain"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when":     when,
	"cronTime": cronTime,
	"workflowURL": func(ui, ns, workflowID string) string {
		if ui == "" {
			return ""
		}
		return ui + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(workflowID)
	},
	"join": strings.Join,
	"intp": func(p *int) string {
		if p == nil {
			return ""
		}
		return fmt.Sprint(*p)
	},
	"strp": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	// price is an hourly price as the pickers show it; "" when the
	// provider reports none (0).
	"price": func(p float64) string {
		if p == 0 {
			return ""
		}
		return fmt.Sprintf("$%.4f/h", p)
	},
	"mb":  func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) },
	"pct": func(f float64) string { return fmt.Sprintf("%.1f %%", f) },
	"env": sortedEnv,
	"kv":  sortedMap,
	"chart": func(samples []domain.MetricSample, what string) template.HTML {
		return chart(samples, what)
	},
	"cancellable": func(s domain.JobState) bool { return s.IsCancellable() },
	"final":       func(s domain.JobState) bool { return s.IsFinal() },
	"inc":         func(i int) int { return i + 1 },
	"dec":         func(i int) int { return i - 1 },
	"jobStates":   func() []domain.JobState { return domain.JobStates },
	"ruleLines":   ruleLines,
	"states":      func() []string { return domain.SpawnStates },
	"spawnFinal":  domain.SpawnStateIsFinal,
	"field":       func(f *form, name, label string) fieldView { return fieldView{F: f, Name: name, Label: label} },
	"hint": func(hint string, fv fieldView) fieldView {
		fv.Hint = hint
		return fv
	},
	"typ": func(typ string, fv fieldView) fieldView {
		fv.Type = typ
		return fv
	},
	"query": func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	},
}

// when writes a time (or *time.Time) in UTC as every page shows times; "—" for none.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return "—"
}

// fieldView is one labelled input with its error, for the "field" template.
type fieldView struct {
	F                       *form
	Name, Label, Hint, Type string
}

// envRow is one environment variable as a page may show it: a sensitive
// value is never in the row, so no template can print it.
type envRow struct {
	Key       string
	Value     string
	Sensitive bool
}

func sortedEnv(e domain.Env) []envRow {
	out := make([]envRow, 0, len(e))
	for k, v := range e {
		r := envRow{Key: k, Sensitive: v.Sensitive}
		if !v.Sensitive {
			r.Value = v.Value
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

type kvRow struct{ Key, Value string }

func sortedMap(m map[string]string) []kvRow {
	out := make([]kvRow, 0, len(m))
	for k, v := range m {
		out = append(out, kvRow{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// chart draws a run's CPU ("cpu", percent of one core) or memory ("memory",
// MB) samples as an inline SVG line over time, with its max and average.
// It writes only numbers and fixed text, so it is safe as HTML.
func chart(samples []domain.MetricSample, what string) template.HTML {
	const w, h, pad = 600.0, 160.0, 4.0
	if len(samples) == 0 {
		return template.HTML(`<p class="muted">No samples for this run.</p>`)
	}
	val := func(s domain.MetricSample) float64 {
		if what == "cpu" {
			return s.CPUPct
		}
		return float64(s.MemoryBytes) / (1 << 20)
	}
	t0, t1 := samples[0].Time, samples[len(samples)-1].Time
	span := t1.Sub(t0).Seconds()
	maxV, sum := 0.0, 0.0
	for _, s := range samples {
		v := val(s)
		sum += v
		if v > maxV {
			maxV = v
		}
	}
	top := maxV * 1.1
	if top <= 0 {
		top = 1
	}
	var pts strings.Builder
	for i, s := range samples {
		x := pad
		if span > 0 {
			x = pad + (w-2*pad)*s.Time.Sub(t0).Seconds()/span
		} else if len(samples) > 1 {
			x = pad + (w-2*pad)*float64(i)/float64(len(samples)-1)
		}
		y := h - pad - (h-2*pad)*val(s)/top
		fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
	}
	unit, label := "MB", "Memory"
	if what == "cpu" {
		unit, label = "%", "CPU"
	}
	avg := sum / float64(len(samples))
	return template.HTML(fmt.Sprintf(`<figure class="chart" data-chart="%s"><figcaption>%s: max %.1f %s, avg %.1f %s over %d samples (%.0f s)</figcaption>`+
		`<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s over time, max %.1f %s"><rect x="0" y="0" width="%.0f" height="%.0f" class="bg"/>`+
		`<polyline points="%s" class="line %s"/></svg></figure>`,
		what, label, maxV, unit, avg, unit, len(samples), span, w, h, label, maxV, unit, w, h, strings.TrimSpace(pts.String()), what))
}
