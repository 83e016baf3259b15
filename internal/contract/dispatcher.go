package contract

import "go.temporal.io/sdk/client"

// DispatcherWorkflowName is the registered name of workflows.DispatcherWorkflow.
const DispatcherWorkflowName = "DispatcherWorkflow"

// DispatcherWorkflowID returns the ID of a project's dispatcher.
func DispatcherWorkflowID(projectID string) string { return "dispatch/" + projectID }

// SignalDispatcherWake tells the dispatcher there may be work to place.
const SignalDispatcherWake = "wake"

// DispatcherInput is the input of the dispatcher workflow.
type DispatcherInput struct {
	// ProjectID is the project whose runnable jobs the dispatcher places.
	ProjectID string
}

// DispatcherStartOptions start (or signal-with-start) a project's dispatcher on queue.
func DispatcherStartOptions(projectID, queue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: DispatcherWorkflowID(projectID), TaskQueue: queue}
}
