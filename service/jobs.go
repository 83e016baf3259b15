package service

import (
	"context"
	"errors"

	"go.temporal.io/api/serviceerror"

	"daestro/internal/contract"
	"daestro/internal/domain"
)

// cancelReason is recorded when the service itself ends a job whose workflow is gone.
const cancelReason = "cancel requested via API; the job's workflow no longer ran"

// SubmitJob writes a normalized submission and starts the job's workflow
// inside the one transaction, which commits only once the workflow started;
// when the commit fails, the started workflow is terminated. A crash between
// the start and the commit leaves a workflow without rows, which ends by
// itself (JobWorkflow gives a job that never appears a bounded wait).
func (s *Service) SubmitJob(ctx context.Context, projectID string, in domain.SubmitJob) (domain.Job, error) {
	if in.ArraySize > 0 {
		return s.submitArrayJob(ctx, projectID, in)
	}
	return s.writeJobRun(ctx, projectID, in.QueueName, func(start func(jobID, runID string) error) (domain.Job, error) {
		return s.Store.SubmitJob(ctx, projectID, in, start)
	})
}

// submitArrayJob writes an array job with its children and starts its
// ArrayJobWorkflow (which starts the children's) inside the transaction,
// as SubmitJob does for a job.
func (s *Service) submitArrayJob(ctx context.Context, projectID string, in domain.SubmitJob) (domain.Job, error) {
	started := ""
	j, err := s.Store.SubmitJob(ctx, projectID, in, func(jobID, _ string) error {
		if s.Temporal == nil {
			return temporalUnavailable("start the array job's workflow")
		}
		ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
		defer cancel()
		_, err := s.Temporal.ExecuteWorkflow(ctx, contract.JobStartOptions(jobID, s.ControlQueue, projectID, in.QueueName, domain.JobPending),
			contract.ArrayJobWorkflowName, contract.ArrayJobWorkflowInput{JobID: jobID, ProjectID: projectID, QueueName: in.QueueName, Size: in.ArraySize})
		if err != nil {
			log(ctx).Error("start array job workflow", "job_id", jobID, "error", err)
			return domain.Errorf(domain.EUNAVAILABLE, "cannot start the array job's workflow: Temporal did not answer; nothing was submitted, try again (GET /readyz shows what is down)")
		}
		started = jobID
		return nil
	})
	if err != nil && started != "" {
		s.terminate(ctx, contract.JobWorkflowID(started), "its array job was not saved")
	}
	return j, err
}

// ResubmitJob runs a finished job again: a new run row and a new run of the
// same workflow ID, committed only once the workflow started.
func (s *Service) ResubmitJob(ctx context.Context, projectID, jobID string) (domain.Job, error) {
	// The queue's name (fixed at creation) goes on the new run's search attributes.
	j, err := s.Store.Job(ctx, projectID, jobID)
	if err != nil {
		return j, err
	}
	if j.ArrayProperties != nil || j.ArrayChild != nil {
		return j, domain.Errorf(domain.ECONFLICT, "job %s is an array job or one of its children, which are not resubmitted one by one: submit the array job again", j.PublicID())
	}
	return s.writeJobRun(ctx, projectID, j.JobQueue.Name, func(start func(jobID, runID string) error) (domain.Job, error) {
		return s.Store.ResubmitJob(ctx, projectID, j.ID, start)
	})
}

// writeJobRun runs write with the workflow start it must call inside its
// transaction, and terminates the started workflow when write fails after it.
func (s *Service) writeJobRun(ctx context.Context, projectID, queueName string,
	write func(start func(jobID, runID string) error) (domain.Job, error)) (domain.Job, error) {
	started := ""
	j, err := write(func(jobID, runID string) error {
		if err := s.startJobWorkflow(ctx, projectID, queueName, jobID, runID); err != nil {
			return err
		}
		started = jobID
		return nil
	})
	if err != nil && started != "" {
		s.terminate(ctx, contract.JobWorkflowID(started), "its job run was not saved")
	}
	return j, err
}

// startJobWorkflow starts a run of the job's workflow on the control task
// queue. Every run of a job shares the workflow ID: a closed one may be
// followed by a new run (resubmit), a running one never is.
func (s *Service) startJobWorkflow(ctx context.Context, projectID, queueName, jobID, runID string) error {
	if s.Temporal == nil {
		return temporalUnavailable("start the job's workflow")
	}
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, contract.JobStartOptions(jobID, s.ControlQueue, projectID, queueName, domain.JobSubmitted),
		contract.JobWorkflowName, contract.JobWorkflowInput{JobID: jobID, RunID: runID, ProjectID: projectID})
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &running):
		// The previous run recorded its end but has not closed yet.
		return domain.Errorf(domain.ECONFLICT, "job %s is still finishing its previous run: try again in a few seconds", jobID)
	case err != nil:
		log(ctx).Error("start job workflow", "job_id", jobID, "run_id", runID, "error", err)
		return domain.Errorf(domain.EUNAVAILABLE, "cannot start the job's workflow: Temporal did not answer; nothing was submitted, try again (GET /readyz shows what is down)")
	}
	return nil
}

// terminate ends a workflow whose rows were not committed; without it, the
// workflow would wait for rows that never come.
func (s *Service) terminate(ctx context.Context, workflowID, reason string) {
	ctx, cancel := detached(ctx)
	defer cancel()
	if err := s.Temporal.TerminateWorkflow(ctx, workflowID, "", reason); err != nil {
		log(ctx).Error("terminate workflow of unsaved rows", "workflow_id", workflowID, "error", err)
	}
}

// CancelJob asks the job's workflow to cancel it and returns the job as it
// stands: the workflow owns every transition (cancelling, then cancelled),
// so nothing is recorded here, except for a job whose workflow is gone,
// which nothing else would ever end.
func (s *Service) CancelJob(ctx context.Context, projectID, jobID string) (domain.Job, error) {
	j, err := s.Store.Job(ctx, projectID, jobID)
	if err != nil {
		return j, err
	}
	if !j.State.IsCancellable() {
		return j, domain.JobNotCancellable(j.ID, j.State)
	}
	if s.Temporal == nil {
		return j, temporalUnavailable("cancel the job")
	}
	sigCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	// No payload: the signal itself is the request, and IDs are all a
	// workflow may see.
	err = s.Temporal.SignalWorkflow(sigCtx, contract.JobWorkflowID(j.ID), "", contract.SignalJobCancel, nil)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound) && j.ArrayProperties != nil:
		return j, domain.Errorf(domain.ECONFLICT, "array job %s has no workflow left to cancel it", j.ID)
	case errors.As(err, &notFound):
		log(ctx).Warn("cancelling a job without a workflow", "job_id", j.ID)
		return s.Store.CancelJobWithoutWorkflow(ctx, projectID, j.ID, cancelReason)
	case err != nil:
		log(ctx).Error("signal job workflow", "job_id", j.ID, "error", err)
		return j, domain.Errorf(domain.EUNAVAILABLE, "cannot reach the job's workflow: Temporal did not answer; the job is unchanged, try again")
	}
	return j, nil
}
