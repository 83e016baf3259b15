package placement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"daestro/internal/placement"
)

func TestBounds(t *testing.T) {
	vm := cloud("vm", 400, 4096, 0.1)
	tests := []struct {
		name   string
		queue  placement.Queue
		spawns []placement.Spawn
		want   int
	}{
		{"no spawn: the floor", queue("etl", 1, rack), nil, 10},
		{"an idle spawn: one job per 10% of its CPU", queue("etl", 1, rack), []placement.Spawn{idle("s1", "etl", 800, 8192)}, 10 + 80},
		{"a busy spawn: its free CPU", queue("etl", 1, rack), []placement.Spawn{busy("s1", "etl", 800, 8192, 750, 100)}, 10 + 5},
		{"an empty spawn with no CPU still takes a job whole", queue("etl", 1, rack), []placement.Spawn{idle("s1", "etl", 0, 0)}, 10 + 1},
		{"a spawn held whole takes nothing", queue("etl", 1, rack),
			[]placement.Spawn{with(busy("s1", "etl", 800, 8192, 0, 0), func(s *placement.Spawn) { s.WholeSpawnTaken = true })}, 10},
		{"an unreachable spawn takes nothing", queue("etl", 1, rack),
			[]placement.Spawn{with(idle("s1", "etl", 800, 8192), func(s *placement.Spawn) { s.State = "unreachable" })}, 10},
		{"a spawn being created counts with its environment's size", queue("etl", 1, vm),
			[]placement.Spawn{{ID: "s1", QueueID: "q-etl", ComputeEnvID: "env-vm", State: "requested", Requested: true}}, 10 + 40},
		{"max concurrency caps the room", with(queue("etl", 1, rack), func(q *placement.Queue) { q.MaxConcurrency, q.Allocated = 5, 2 }),
			[]placement.Spawn{idle("s1", "etl", 800, 8192)}, 10 + 3},
		{"a queue at max concurrency: the floor, to say why", with(queue("etl", 1, rack), func(q *placement.Queue) { q.MaxConcurrency, q.Allocated = 5, 7 }),
			[]placement.Spawn{idle("s1", "etl", 800, 8192)}, 10},
		{"another queue's spawns do not count", queue("etl", 1, rack), []placement.Spawn{idle("s1", "other", 800, 8192)}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := placement.Bounds(placement.Input{Queues: []placement.Queue{tt.queue}, Spawns: tt.spawns}, 10)
			assert.Equal(t, map[string]int{tt.queue.ID: tt.want}, got)
		})
	}
}

// The bound is an upper bound of what a round can assign: on the busy
// project of the benchmark, Place never assigns more jobs to a queue than
// its bound without the floor: the jobs a bound leaves out could not all have
// been placed anyway.
func TestBoundsCoverEveryAssignment(t *testing.T) {
	in := benchInput()
	bounds := placement.Bounds(in, 0)
	assigned := map[string]int{}
	jobQueue := map[string]string{}
	for _, j := range in.Jobs {
		jobQueue[j.ID] = j.QueueID
	}
	for _, as := range placement.Place(in).Assignments {
		assigned[jobQueue[as.JobID]]++
	}
	for _, q := range in.Queues {
		assert.LessOrEqual(t, assigned[q.ID], bounds[q.ID], "queue %s", q.ID)
	}
}
