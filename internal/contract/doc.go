// Package contract is daestro's Temporal contract, in one place at the
// bottom of the import graph: task queues, workflow names and ID formats,
// signal names and their payloads, workflow inputs and results, and one
// start-options helper per workflow that others start. workflows
// implements it; activities, apiserver and agent start, signal and answer
// through it and never spell a name or an ID of their own.
//
// Everything here crosses a process boundary and is recorded in Temporal
// histories: a rename or a field type change breaks running workflows.
package contract

// ControlTaskQueue is the task queue of the control-plane worker (workflows
// and the activities that touch Postgres and clouds).
const ControlTaskQueue = "daestro-control"

// SpawnTaskQueue is the task queue of the agent on one compute spawn.
func SpawnTaskQueue(spawnID string) string { return "spawn-" + spawnID }
