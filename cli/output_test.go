package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/client"
)

// A jobs table with long names fits 80 columns: the name and definition
// give way (cut with …), the IDs, states and ages stay whole.
func TestJobsTableFitsEightyColumns(t *testing.T) {
	created := time.Now().Add(-3 * time.Minute)
	id := "01927b9e-5d2c-7a3b-9f1e-0123456789ab"
	jobs := []client.Job{
		{Id: ptrUUID(t, id), Name: ptr("nightly-warehouse-rebuild-with-a-very-long-name"), State: ptr(client.JobState("running")),
			JobDefinition: &client.JobDefinitionRef{Name: ptr("warehouse-rebuild-definition"), Version: ptr(12)},
			JobQueue:      &client.JobQueueRef{Name: ptr("etl-high-priority-queue")}, CreatedAt: &created},
		{Id: ptrUUID(t, "01927b9e-5d2c-7a3b-9f1e-0123456789ac"), Name: ptr("short"), State: ptr(client.JobState("completed")),
			JobDefinition: &client.JobDefinitionRef{Name: ptr("hello"), Version: ptr(1)}, JobQueue: &client.JobQueueRef{Name: ptr("default")}, CreatedAt: &created},
	}
	var out bytes.Buffer
	require.NoError(t, jobsTable(jobs).write(&out, 80))
	t.Log("\n" + out.String())
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 3, out.String())
	for _, l := range lines {
		assert.LessOrEqual(t, utf8.RuneCountInString(strings.TrimRight(l, " ")), 80, "%q", l)
	}
	assert.Regexp(t, `^ID\s+NAME\s+STATE\s+DEF\s+AGE$`, strings.TrimRight(lines[0], " "))
	assert.Contains(t, lines[1], id, "IDs are never cut: they are pasted into the next command")
	assert.Contains(t, lines[1], "running")
	assert.Contains(t, lines[1], "3m")
	assert.Contains(t, lines[1], "…", "long cells are cut visibly")
	assert.Contains(t, lines[2], "short")
	assert.Contains(t, lines[2], "hello:1")
	assert.Contains(t, lines[2], "completed")

	// Columns line up: every row's state starts where the header's does.
	col := strings.Index(lines[0], "STATE") // the header is ASCII: bytes are columns
	assert.Equal(t, "running", string([]rune(lines[1])[col:col+len("running")]))
	assert.Equal(t, "completed", string([]rune(lines[2])[col:col+len("completed")]))
}

// A narrow table is printed as is, and a detail view's long values are cut
// to the width.
func TestTablesKeepShortCellsAndCutLongFields(t *testing.T) {
	tb := newTable("ID", "NAME~")
	tb.row("a", "b")
	var out bytes.Buffer
	require.NoError(t, tb.write(&out, 80))
	assert.Equal(t, "ID  NAME\na   b\n", out.String())

	tb = newTable()
	tb.field("Command", strings.Repeat("x", 200))
	out.Reset()
	require.NoError(t, tb.write(&out, 80))
	assert.LessOrEqual(t, utf8.RuneCountInString(strings.TrimSpace(out.String())), 80)

	out.Reset()
	require.NoError(t, newTable("ID", "NAME").write(&out, 80))
	assert.Equal(t, "(none)\n", out.String(), "an empty list says so")
}

func TestSparkline(t *testing.T) {
	assert.Equal(t, "▁▂▃▄▅▆▇█", sparkline([]float64{0, 1, 2, 3, 4, 5, 6, 7}, 20), "one cell per sample when they fit, scaled 0..max")
	assert.Equal(t, "▁▁▁", sparkline([]float64{0, 0, 0}, 10), "all zero is flat at the bottom")
	assert.Equal(t, "████", sparkline([]float64{5, 5, 5, 5}, 10))
	assert.Equal(t, "", sparkline(nil, 10))
	// More samples than cells: each cell shows the peak of its share, so a
	// one-sample spike is never averaged away.
	values := make([]float64, 100)
	values[57] = 10
	line := sparkline(values, 10)
	assert.Equal(t, 10, utf8.RuneCountInString(line))
	assert.Equal(t, "▁▁▁▁▁█▁▁▁▁", line)
}

func TestMetricsTextShowsSparklinesWithMaxAndAverage(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var samples []client.MetricSample
	for i := range 30 {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		samples = append(samples, client.MetricSample{Time: &at, CpuPct: ptr(float32(i * 10)), MemoryBytes: ptr(int64(i) << 20)})
	}
	sum := &client.MetricsSummary{CpuPctMax: ptr(float32(290)), CpuPctAvg: ptr(float32(145)), MemoryBytesMax: ptr(int64(29 << 20)),
		MemoryBytesAvg: ptr(int64(14.5 * (1 << 20))), Samples: ptr(30)}
	text := metricsText(samples, sum, 80)
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	require.Len(t, lines, 3, text)
	for _, l := range lines {
		assert.LessOrEqual(t, utf8.RuneCountInString(l), 80, "%q", l)
	}
	assert.Regexp(t, `^CPU\s+▁[▁-█]+█  max 290\.0 %  avg 145\.0 %$`, lines[0])
	assert.Regexp(t, `^memory\s+▁[▁-█]+█  max 29\.0 MiB  avg 14\.5 MiB$`, lines[1])
	assert.Contains(t, lines[2], "30 samples over 2m25s")
	assert.Contains(t, metricsText(nil, nil, 80), "no samples yet")
}

// -o yaml is the API's document in YAML, keys in the API's order.
func TestJSONToYAMLKeepsTheAPIsOrder(t *testing.T) {
	y, err := jsonToYAML([]byte(`{"id":"x","name":"a: b","runs":[{"attempt":1,"exit_code":null}],"empty":{},"n":1.5}`))
	require.NoError(t, err)
	assert.Equal(t, "id: x\nname: 'a: b'\nruns:\n  - attempt: 1\n    exit_code: null\nempty: {}\nn: 1.5\n", string(y))
}

func TestExitCodes(t *testing.T) {
	var errOut bytes.Buffer
	assert.Equal(t, 0, Exit(&errOut, nil))
	assert.Equal(t, 3, Exit(&errOut, &ExitError{Code: 3, Message: "job x failed: exit code 3"}))
	assert.Equal(t, "daestro: job x failed: exit code 3\n", errOut.String())
	errOut.Reset()
	assert.Equal(t, 1, Exit(&errOut, &apiError{status: 409, message: "job queue 'etl' is disabled"}))
	assert.Equal(t, "daestro: job queue 'etl' is disabled\n", errOut.String())
}

func TestReadSSE(t *testing.T) {
	stream := ": keep-alive\n\nevent:line\nid:1\ndata:{\"seq\":1,\"text\":\"a\"}\n\nevent: line\nid: 2\ndata: {\"seq\":2,\"text\":\"b\"}\n\nevent:end\ndata:{}\n\n"
	var got []string
	err := readSSE(strings.NewReader(stream), func(ev sseEvent) (bool, error) {
		got = append(got, ev.event+" "+ev.id+" "+ev.data)
		return ev.event == "end", nil
	})
	require.NoError(t, err)
	assert.Equal(t, []string{`line 1 {"seq":1,"text":"a"}`, `line 2 {"seq":2,"text":"b"}`, "end  {}"}, got)
	err = readSSE(strings.NewReader("event:line\ndata:{}\n\n"), func(sseEvent) (bool, error) { return false, nil })
	assert.ErrorContains(t, err, "unexpected EOF", "a stream cut before its end event is an error to resume from")
}

func ptrUUID(t *testing.T, s string) *string {
	t.Helper()
	_, err := uuid.Parse(s)
	require.NoError(t, err)
	return &s
}
