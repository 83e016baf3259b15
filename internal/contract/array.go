package contract

import (
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"daestro/internal/domain"
)

// ArrayJobWorkflowName is the registered name of workflows.ArrayJobWorkflow,
// which runs an array job under the job's own workflow ID (JobWorkflowID):
// the job's cancel signal reaches it as it reaches any job.
const ArrayJobWorkflowName = "ArrayJobWorkflow"

// ArrayJobWorkflowInput is the input of ArrayJobWorkflow; a continued run
// carries how far the first got.
type ArrayJobWorkflowInput struct {
	// JobID names the array job; ProjectID and QueueName its project and
	// queue (its children's search attributes).
	JobID, ProjectID, QueueName string
	// Size is the number of children; Started how many of them (from
	// index 0) have their workflow started.
	Size, Started int
	// CancelRequested says the array job was cancelled.
	CancelRequested bool
}

// ArrayChildStartOptions start the workflow of an array job's child. A
// child runs once: a start of one already started (running or closed) is
// refused, so a retried batch never runs a child twice.
func ArrayChildStartOptions(jobID, queue, projectID, queueName string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       JobWorkflowID(jobID),
		TaskQueue:                                queue,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    JobSearchAttributes(projectID, queueName, domain.JobSubmitted),
	}
}
