package service

import (
	"context"
	"errors"

	"go.temporal.io/api/serviceerror"

	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// TerminateReason is recorded with the terminating event of a spawn a user terminated.
const TerminateReason = "terminate requested via API"

// CreateSelfHostedSpawn creates a self-hosted spawn and starts its workflow
// inside the transaction that writes it: if the start fails the row is never
// committed, and if the commit fails the started workflow is terminated. It
// returns the spawn and its one-time bootstrap token.
func (s *Service) CreateSelfHostedSpawn(ctx context.Context, projectID string, in domain.ComputeSpawnInput) (domain.ComputeSpawn, string, error) {
	started := ""
	sp, token, err := s.Store.CreateSelfHostedSpawn(ctx, projectID, in, func(ctx context.Context, sp domain.ComputeSpawn) error {
		if err := s.startSpawnWorkflow(ctx, projectID, sp); err != nil {
			return err
		}
		started = sp.ID
		return nil
	})
	if err != nil && started != "" {
		s.terminate(ctx, contract.SpawnWorkflowID(started), "its compute spawn was not saved")
	}
	return sp, token, err
}

// startSpawnWorkflow starts SpawnWorkflow for a new spawn on the control task queue.
func (s *Service) startSpawnWorkflow(ctx context.Context, projectID string, sp domain.ComputeSpawn) error {
	if s.Temporal == nil {
		return temporalUnavailable("start the compute spawn's workflow")
	}
	ctx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, contract.SpawnStartOptions(sp.ID, s.ControlQueue), contract.SpawnWorkflowName, contract.SpawnWorkflowInput{
		SpawnID: sp.ID, ProjectID: projectID, Kind: sp.Kind, UnreachableAfter: s.UnreachableAfter,
	})
	if err != nil {
		log(ctx).Error("start spawn workflow", "spawn_id", sp.ID, "error", err)
		return domain.Errorf(domain.EUNAVAILABLE, "cannot start the compute spawn's workflow: Temporal did not answer; nothing was created, try again (GET /readyz shows what is down)")
	}
	return nil
}

// TerminateSpawn asks the spawn's workflow to terminate it and returns the
// spawn as it stands: the state moves to terminating and terminated as the
// workflow records it. A cloud spawn whose workflow is gone gets one that
// deletes its machine; any other spawn without a workflow is recorded
// terminated here, since nothing else ever would.
func (s *Service) TerminateSpawn(ctx context.Context, projectID, spawnID string) (domain.ComputeSpawn, error) {
	sp, err := s.Store.ComputeSpawn(ctx, projectID, spawnID)
	if err != nil {
		return sp, err
	}
	if domain.SpawnStateIsFinal(sp.State) {
		return sp, domain.Errorf(domain.ECONFLICT, "compute spawn %s is already %s: there is nothing to terminate", sp.ID, sp.State)
	}
	if s.Temporal == nil {
		return sp, temporalUnavailable("terminate the compute spawn")
	}
	sigCtx, cancel := context.WithTimeout(ctx, temporalCallTimeout)
	defer cancel()
	err = s.Temporal.SignalWorkflow(sigCtx, contract.SpawnWorkflowID(sp.ID), "", contract.SignalTerminateSpawn,
		contract.TerminateSignal{Reason: TerminateReason})
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound) && sp.Kind == domain.SpawnKindCloud:
		// A cloud spawn's machine must be deleted, whoever ended its
		// workflow: start one that does (it resumes from the row's state).
		log(ctx).Warn("restarting the workflow of a cloud spawn to terminate it", "spawn_id", sp.ID, "state", sp.State)
		_, err = s.Temporal.SignalWithStartWorkflow(sigCtx, contract.SpawnWorkflowID(sp.ID), contract.SignalTerminateSpawn,
			contract.TerminateSignal{Reason: TerminateReason},
			contract.SpawnStartOptions(sp.ID, s.ControlQueue),
			contract.SpawnWorkflowName, contract.SpawnWorkflowInput{SpawnID: sp.ID, ProjectID: projectID, Kind: domain.SpawnKindCloud,
				State: sp.State, MachineCreated: sp.Machine != nil && sp.Machine.InstanceID != ""})
		if err != nil {
			log(ctx).Error("start spawn workflow", "spawn_id", sp.ID, "error", err)
			return sp, temporalUnavailable("terminate the compute spawn")
		}
	case errors.As(err, &notFound):
		// The row is active but its workflow is gone (terminated by an
		// operator, or lost with the namespace): record the end here.
		log(ctx).Warn("terminating a spawn without a workflow", "spawn_id", sp.ID)
		if _, err := s.Store.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: sp.ID, State: domain.SpawnTerminated,
			Reason: TerminateReason + "; the spawn's workflow no longer ran", Key: "api-terminate/" + sp.ID}); err != nil {
			return sp, err
		}
		return s.Store.ComputeSpawn(ctx, projectID, spawnID)
	case err != nil:
		log(ctx).Error("signal spawn workflow", "spawn_id", sp.ID, "error", err)
		return sp, domain.Errorf(domain.EUNAVAILABLE, "cannot reach the compute spawn's workflow: Temporal did not answer; the spawn is unchanged, try again")
	}
	return sp, nil
}
