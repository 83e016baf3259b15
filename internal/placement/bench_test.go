package placement_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"daestro/internal/placement"
)

// benchInput is a busy project: 5 queues, 50 spawns (10 per queue, some
// partly taken, some held whole), 1,000 runnable jobs of mixed quotas (one in
// five without), and cloud environments so that scale-up runs too.
func benchInput() placement.Input {
	rng := rand.New(rand.NewPCG(1, 2))
	var in placement.Input
	for qi := range 5 {
		q := queue(fmt.Sprintf("q%d", qi), 1+qi*10, rack, cloud(fmt.Sprintf("c%d-s", qi), 400, 4096, 0.1), cloud(fmt.Sprintf("c%d-l", qi), 1600, 16384, 0.4))
		q.MaxSpawns = 40
		in.Queues = append(in.Queues, q)
		for si := range 10 {
			s := idle(fmt.Sprintf("s%d-%02d", qi, si), q.Name, 800, 8192)
			switch si % 4 {
			case 1:
				s = busy(s.ID, q.Name, 800, 8192, rng.IntN(8)*100, rng.IntN(8)*1024)
			case 2:
				s.State, s.WholeSpawnTaken, s.Allocations = "busy", true, 1
			}
			in.Spawns = append(in.Spawns, s)
		}
	}
	for ji := range 1000 {
		j := job(fmt.Sprintf("j%04d", ji), fmt.Sprintf("q%d", rng.IntN(5)), rng.IntN(600), 0, 0)
		if rng.IntN(5) != 0 {
			j.CPUQuotaPct, j.MemoryMB = (1+rng.IntN(8))*25, (1+rng.IntN(16))*256
		}
		in.Jobs = append(in.Jobs, j)
	}
	return in
}

func BenchmarkPlace1000Jobs50Spawns(b *testing.B) {
	in := benchInput()
	var res placement.Result
	for b.Loop() {
		res = placement.Place(in)
	}
	// A placement is one job decided: assigned, or given its pending reason.
	b.ReportMetric(float64(b.N*len(in.Jobs))/b.Elapsed().Seconds(), "placements/s")
	b.ReportMetric(float64(len(res.Assignments)), "assigned/op")
	b.ReportMetric(float64(len(res.SpawnRequests)), "spawns-requested/op")
}
