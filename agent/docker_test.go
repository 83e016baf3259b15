package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/agent/executor"
	"daestro/internal/testenv"
)

// lines collects shipped log lines.
type lines struct {
	mu  sync.Mutex
	out []executor.LogLine
}

func (l *lines) ShipLogs(_ context.Context, _ string, batch []executor.LogLine) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = append(l.out, batch...)
	return nil
}

func (l *lines) ShipMetrics(context.Context, string, []executor.Metric) error { return nil }

func (l *lines) text(stream string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.out {
		if ln.Stream == stream {
			b.WriteString(ln.Text + "\n")
		}
	}
	return b.String()
}

// Smoke test 3 of the ladder: a container from a locally built image runs on
// the real Docker engine through the agent's executor; the test reads its
// output and exit code.
func TestSmokeContainerRunsOnRealDocker(t *testing.T) {
	d := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sink := &lines{}
	res, err := executor.New(d.Client(), executor.Options{}).Run(ctx, executor.Spec{
		RunID: testenv.RandomName("smoke"),
		Image: testenv.TestImage(),
		Cmd:   []string{"sh", "-c", `echo "hello $WHO"; echo oops >&2; exit 7`},
		Env:   []string{"WHO=daestro"},
	}, sink, executor.Cursor{}, nil)
	require.NoError(t, err, "is the test image built? scripts/docker-images.sh builds it")
	assert.Equal(t, 7, res.ExitCode)
	assert.False(t, res.OOMKilled)
	assert.Equal(t, "hello daestro\n", sink.text("stdout"))
	assert.Equal(t, "oops\n", sink.text("stderr"))
}
