// Package placement is the dispatcher's placement function: for one project
// in one round it decides which runnable jobs go on which compute spawns,
// which queues get a new spawn, and why every other job waits.
//
// It is pure math over a snapshot (DESIGN.md §4, "Placement rules"): no I/O,
// no clock, no randomness, no dependence on map order or on the order of the
// input slices. The dispatcher activity loads an Input in one transaction,
// calls Place, persists Result.Assignments as allocations, starts a
// SpawnWorkflow per Result.SpawnRequests entry and writes Result.Pending
// reasons to the job rows for the API to show.
//
// # Order
//
// Jobs are considered one at a time: by their queue's priority (lower
// first, ties by queue ID), then by RunnableAt within the queue (ties by job
// ID). Spawns belong to one queue, so the order across queues only decides
// the order of the output; the order within a queue decides who gets the
// room. A job that does not fit does not block the ones behind it: a smaller
// job later in the queue may still take the room that is left (backfill).
// On self-hosted queues that means a job without quotas can wait behind a
// steady stream of small jobs; cloud queues request it a spawn of its own.
//
// # One job
//
//  1. Queue disabled (or not loaded): pending, queue_disabled.
//  2. Queue at max concurrency: pending, queue_concurrency_limit. The count
//     is Queue.Allocated plus this round's assignments plus the jobs this
//     round left waiting for a spawn, so a queue never asks for spawns that
//     its limit would leave idle.
//  3. A job without quotas takes a whole spawn: the first empty idle or busy
//     spawn of its queue by ID; else an empty spawn being created (it waits
//     for it); else, when the queue may grow, a new spawn from the queue's
//     cloud environments in round robin: the environment at index (the
//     queue's live spawns, being created and requested this round included)
//     modulo (the number of cloud environments). Each request raises the
//     count, so successive requests rotate within a round and across rounds
//     without placement remembering anything.
//  4. A job with quotas is packed: among the idle or busy spawns of its
//     queue that are not held whole and have its CPU and memory free, the
//     one with the lowest impact (below), ties by spawn ID; else a spawn
//     being created, chosen the same way, whose projected capacity still
//     has room (it waits); else, when the queue may grow, a new spawn from the best-fit
//     cloud environment: the smallest instance type that covers the quota
//     (CPU, then memory), then the cheapest, then the queue's order.
//  5. A job whose quota exceeds the total of every spawn of its queue and of
//     every cloud environment's instance type can never be packed, so it may
//     take an empty spawn whole, recording its quota: the empty spawn where
//     it overcommits least (lowest impact), else an empty spawn being
//     created, else a new spawn from the largest environment. While some
//     spawn or instance type could hold the job it waits instead, even at
//     max spawns: an idle spawn too small for it times out and frees the
//     slot for one that fits, which beats overcommitting.
//  6. Otherwise pending: no_spawn_in_queue when the queue has no idle, busy
//     or being-created spawn; spawn_limit_reached when it has some but is at
//     max spawns; no_capacity when it has some and adding one cannot help.
//
// # Impact
//
// For a job with quota (cpu, mem) and a spawn with (freeCPU, freeMem) left:
//
//	impact = max(cpu/freeCPU, mem/freeMem)
//
// the largest share of any free resource the job would take. Placement picks
// the spawn with the lowest impact. The max, not a sum or average, because
// the scarcer resource is what limits the next job: a spawn left with memory
// but no CPU is as full as one left with neither. So a job goes where it
// eats the smallest share of what is tightest, which spreads load and keeps
// the most balanced headroom; the price is that load spreads over spawns
// instead of draining some for idle shutdown. Impacts are compared as exact integer
// fractions, so ties are real ties and go to the lower spawn ID. A job
// without quota takes all of any empty spawn (impact 1 everywhere), so the
// spawn ID decides; an oversized job (step 5) compares impacts over 1 and
// lands where it overcommits least.
//
// # Scale-up without a stampede
//
// A spawn being created — one from an earlier round (Spawn.Requested) or one
// requested this round — is a bin with the capacity its environment
// promises. Later jobs of the same queue are packed onto it exactly as onto a
// live spawn and get waiting_for_spawn, so a round asks for one spawn per
// unmet need: 500 jobs that fit four to a machine ask for 125 spawns, 500
// jobs without quotas ask for 500, and both stop at the queue's max spawns.
// The next round sees the same spawns as Requested and places the same jobs
// on them again instead of asking twice.
//
// # Limits
//
// Max spawns counts every non-final spawn of the queue (including
// unreachable and terminating ones, which still cost money), spawns being
// created and this round's requests. Max concurrency is described in step 2.
// Only idle and busy spawns that are not being created take work.
package placement
