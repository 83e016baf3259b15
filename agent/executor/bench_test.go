package executor_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"

	"daestro/agent/executor"
	"daestro/internal/testenv"
)

// BenchmarkStartOverhead runs `true` in the local test image through the
// executor and with a bare `docker run --rm`, alternately, and reports both
// mean wall times and their ratio: what the agent adds to a container's
// start (create with limits and labels, log shipping, removal).
func BenchmarkStartOverhead(b *testing.B) {
	testenv.Docker(b)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(b, err)
	b.Cleanup(func() { _ = cli.Close() })
	e := executor.New(cli, executor.Options{Logger: testenv.Logger(b)})
	image := testenv.TestImage()

	var viaAgent, bare time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		res, err := e.Run(context.Background(), executor.Spec{RunID: testenv.RandomName("bench"), Image: image, Cmd: []string{"true"}},
			discard{}, executor.Cursor{}, nil)
		require.NoError(b, err)
		require.Equal(b, 0, res.ExitCode)
		viaAgent += time.Since(start)

		start = time.Now()
		out, err := exec.Command("docker", "run", "--rm", image, "true").CombinedOutput()
		require.NoError(b, err, "%s", out)
		bare += time.Since(start)
		n++
	}
	b.ReportMetric(float64(viaAgent.Milliseconds())/float64(n), "agent-ms/run")
	b.ReportMetric(float64(bare.Milliseconds())/float64(n), "bare-ms/run")
	b.ReportMetric(float64(viaAgent)/float64(bare), "agent/bare")
}

// discard is a Sink that accepts and forgets everything.
type discard struct{}

func (discard) ShipLogs(context.Context, string, []executor.LogLine) error { return nil }
func (discard) ShipMetrics(context.Context, string, []executor.Metric) error {
	return nil
}
