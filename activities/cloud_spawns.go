package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"daestro/internal/agentapi"
	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudinit"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// ErrTypeCloudPermanent is the type of the non-retryable error a cloud
// activity returns when the provider refused for a reason retrying cannot
// fix (credentials, quota, capacity, a bad request); its message is the
// spawn's system note.
const ErrTypeCloudPermanent = "CloudPermanent"

// ErrTypeSpawnNotRequested is the type of the error CreateMachine returns
// for a spawn no longer waiting for its machine (terminated meanwhile):
// nothing is created and the workflow has nothing left to do.
const ErrTypeSpawnNotRequested = "SpawnNotRequested"

// StartSpawnsInput names the requested cloud spawns whose workflows to start.
type StartSpawnsInput struct {
	ProjectID string
	SpawnIDs  []string
}

// StartSpawnWorkflows starts the SpawnWorkflow of every requested cloud
// spawn that has none running; one already running is left alone. The
// dispatcher calls it after every round with requested spawns, so a spawn
// whose start was lost (a crash after the round committed) is started by
// the next round.
func (a *Activities) StartSpawnWorkflows(ctx context.Context, in StartSpawnsInput) error {
	var errs []error
	for _, id := range in.SpawnIDs {
		_, err := a.Temporal.ExecuteWorkflow(ctx, contract.SpawnStartOptions(id, a.ControlTaskQueue),
			contract.SpawnWorkflowName, contract.SpawnWorkflowInput{SpawnID: id, ProjectID: in.ProjectID, Kind: domain.SpawnKindCloud})
		if err != nil {
			errs = append(errs, fmt.Errorf("start the workflow of spawn %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// MachineInput names the cloud spawn whose machine to act on.
type MachineInput struct {
	// SpawnID is the spawn.
	SpawnID string
}

// CreateMachineResult is the machine a cloud spawn got.
type CreateMachineResult struct {
	// InstanceID is the provider's machine ID.
	InstanceID string
	// Adopted is set when the machine already existed (an earlier attempt
	// created it and was interrupted before recording it).
	Adopted bool
	// MaxIdleSeconds is the queue's max idle time, for the idle timer.
	MaxIdleSeconds int
}

// CreateMachine creates a cloud spawn's machine, with cloud-init user-data
// that starts the agent with a fresh token. It never creates a second one:
// a recorded instance ID, then a machine carrying the spawn's tag, is
// adopted instead, so a worker killed between "create" and "record" leaks
// nothing.
func (a *Activities) CreateMachine(ctx context.Context, in MachineInput) (CreateMachineResult, error) {
	defer keepAlive(ctx)()
	sp, p, err := a.openSpawnProvider(ctx, in.SpawnID)
	if err != nil {
		return CreateMachineResult{}, err
	}
	res := CreateMachineResult{MaxIdleSeconds: sp.MaxIdleSeconds, InstanceID: sp.InstanceID, Adopted: sp.InstanceID != ""}
	if res.Adopted {
		return res, nil
	}
	if sp.State != domain.SpawnRequested {
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("compute spawn %s is %s: no machine is created for it", sp.ID, sp.State), ErrTypeSpawnNotRequested, nil)
	}
	found, err := p.ListInstancesByTag(ctx, store.SpawnTag(sp.ID))
	if err != nil {
		return res, cloudError(sp.Provider, "look for the spawn's machine", err)
	}
	for _, inst := range found {
		if inst.Status != cloud.StatusTerminated && inst.Status != cloud.StatusTerminating {
			activity.GetLogger(ctx).Info("adopting the machine an earlier attempt created", "spawn_id", sp.ID, "instance_id", inst.ID)
			res.InstanceID, res.Adopted = inst.ID, true
			return res, a.Store.RecordSpawnMachine(ctx, sp.ID, inst)
		}
	}
	token, err := a.Store.MintAgentToken(ctx, sp.ID)
	if err != nil {
		return res, spawnError(sp.ID, "mint the agent token", err)
	}
	launch := cloud.AgentLaunch{Image: a.Agent.Image, Env: map[string]string{
		agentapi.EnvAuthToken: token,
		agentapi.EnvServerURL: a.Agent.ServerURL,
	}}
	inst, err := p.CreateInstance(ctx, cloud.CreateRequest{
		Name:         "daestro-" + sp.ID,
		Region:       sp.Region,
		InstanceType: sp.InstanceType,
		UserData:     cloudinit.Script(launch, sp.SSHPublicKey),
		Tags:         []string{store.DaestroTag, store.ProjectTag(sp.ProjectID), store.SpawnTag(sp.ID)},
		SSHPublicKey: sp.SSHPublicKey,
		Agent:        launch,
	})
	if err != nil {
		return res, cloudError(sp.Provider, fmt.Sprintf("create a %s machine in %s", sp.InstanceType, sp.Region), err)
	}
	res.InstanceID = inst.ID
	return res, a.Store.RecordSpawnMachine(ctx, sp.ID, inst)
}

// RefreshMachine reads the machine's addresses from the provider once its
// agent is up (they are often unknown at create) and records them, for the
// jobs' DAESTRO_PUBLIC_IPV4/IPV6. A provider that cannot answer leaves them
// as they are: the addresses are informative, never worth failing for.
func (a *Activities) RefreshMachine(ctx context.Context, in MachineInput) error {
	sp, p, err := a.openSpawnProvider(ctx, in.SpawnID)
	if err != nil || sp.InstanceID == "" {
		return err
	}
	inst, err := p.Instance(ctx, sp.InstanceID)
	if err != nil {
		activity.GetLogger(ctx).Warn("could not read the machine's addresses", "spawn_id", sp.ID, "error", err)
		return nil
	}
	return a.Store.RecordSpawnMachine(ctx, sp.ID, inst)
}

// DeleteMachine deletes a cloud spawn's machine, and any other machine that
// carries its tag (an orphan of an interrupted create). A machine already
// gone counts as deleted. It revokes the spawn's agent tokens at the end.
func (a *Activities) DeleteMachine(ctx context.Context, in MachineInput) error {
	defer keepAlive(ctx)()
	sp, p, err := a.openSpawnProvider(ctx, in.SpawnID)
	if err != nil {
		return err
	}
	ids := []string{}
	if sp.InstanceID != "" {
		ids = append(ids, sp.InstanceID)
	}
	found, err := p.ListInstancesByTag(ctx, store.SpawnTag(sp.ID))
	if err != nil {
		return cloudError(sp.Provider, "look for the spawn's machines", err)
	}
	for _, inst := range found {
		if inst.Status != cloud.StatusTerminated && !slices.Contains(ids, inst.ID) {
			ids = append(ids, inst.ID)
		}
	}
	for _, id := range ids {
		if err := p.DeleteInstance(ctx, id); err != nil && !errors.Is(err, cloud.ErrNotFound) {
			return cloudError(sp.Provider, "delete machine "+id, err)
		}
	}
	return a.Store.RevokeAgentTokens(ctx, sp.ID)
}

// heartbeatEvery is how often a machine activity heartbeats while a
// provider call (with its own retries) runs; the activities' heartbeat
// timeout is a few times this, so a worker that died mid-call is noticed in
// seconds, not at the end of the start-to-close timeout.
const heartbeatEvery = 5 * time.Second

// keepAlive heartbeats until the returned stop is called.
func keepAlive(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// openSpawnProvider reads the spawn and opens its account's provider.
func (a *Activities) openSpawnProvider(ctx context.Context, spawnID string) (store.CloudSpawn, cloud.Provider, error) {
	sp, err := a.Store.CloudSpawnMachine(ctx, spawnID)
	if domain.ErrorCode(err) == domain.EINVALID {
		return sp, nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeCloudPermanent, err)
	}
	if err != nil {
		return sp, nil, spawnError(spawnID, "read the spawn", err)
	}
	if a.Clouds == nil {
		msg := cloud.DisplayName(sp.Provider) + " is not configured on this daestro worker"
		return sp, nil, temporal.NewNonRetryableApplicationError(msg, ErrTypeCloudPermanent, nil)
	}
	p, err := a.Clouds.Open(sp.Provider, sp.Credentials, sp.Region)
	if err != nil {
		return sp, nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeCloudPermanent, err)
	}
	return sp, p, nil
}

// cloudError makes a provider's permanent refusals non-retryable, with the
// provider's sentence as the message, and leaves throttling and outages to
// the activity's retry policy.
func cloudError(provider, what string, err error) error {
	msg := fmt.Sprintf("%s could not %s: %s", cloud.DisplayName(provider), what, err.Error())
	switch {
	case errors.Is(err, cloud.ErrUnauthorized):
		msg += " (update the cloud auth's credentials)"
	case errors.Is(err, cloud.ErrQuota):
		msg += " (raise the account's limit or lower the queue's max_spawns)"
	case errors.Is(err, cloud.ErrCapacity):
		msg += " (the queue tries its next compute environment)"
	case errors.Is(err, cloud.ErrInvalid), errors.Is(err, cloud.ErrNotFound):
		// The request itself is wrong (a type, image or region gone):
		// repeating it cannot help.
	default:
		// Throttling and outages: the activity's retry policy tries again.
		return fmt.Errorf("%s could not %s: %w", cloud.DisplayName(provider), what, err)
	}
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeCloudPermanent, err)
}

// ReconcileInput tunes one reconciliation pass.
type ReconcileInput struct {
	// Grace is how long a spawn must have been failed or terminated before
	// a machine still carrying its tag is deleted.
	Grace time.Duration
}

// ReconcileResult says what one pass did.
type ReconcileResult struct {
	// Deleted are the machines deleted, as "provider/instance".
	Deleted []string
	// Errors are the accounts or machines that could not be handled.
	Errors []string
}

// ReconcileMachines lists the machines daestro tagged in every cloud
// account and deletes those whose spawn is gone, failed, terminated or
// termination_failed, or whose spawn's workflow no longer runs; a
// termination_failed spawn whose machines are all gone becomes terminated.
// Nothing that costs money is leaked.
func (a *Activities) ReconcileMachines(ctx context.Context, in ReconcileInput) (ReconcileResult, error) {
	var res ReconcileResult
	accounts, err := a.Store.CloudAccounts(ctx)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	if a.Clouds == nil {
		return res, nil
	}
	for _, acct := range accounts {
		regions, err := a.Store.CloudAuthRegions(ctx, acct.ID)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("cloud auth %s: list its regions: %v", acct.ID, err))
			continue
		}
		if acct.Provider != cloud.AWS {
			regions = []string{acct.DefaultRegion} // one listing covers the account
		}
		seen, complete := map[string]bool{}, true
		for _, region := range regions {
			if !a.reconcileAccount(ctx, acct, region, in.Grace, seen, &res) {
				complete = false
			}
			activity.RecordHeartbeat(ctx, acct.ID+"/"+region)
		}
		if complete {
			a.settleTerminationFailed(ctx, acct, in.Grace, seen, &res)
		}
	}
	return res, nil
}

// reconcileAccount handles one account in one region and adds the spawns
// it saw machines of to seen. It reports whether the listing succeeded.
func (a *Activities) reconcileAccount(ctx context.Context, acct store.CloudAccount, region string, grace time.Duration,
	seen map[string]bool, res *ReconcileResult) bool {
	fail := func(format string, args ...any) {
		res.Errors = append(res.Errors, fmt.Sprintf("cloud auth %s (%s): ", acct.ID, acct.Provider)+fmt.Sprintf(format, args...))
	}
	p, err := a.Clouds.Open(acct.Provider, acct.Credentials, region)
	if err != nil {
		fail("%v", err)
		return false
	}
	machines, err := p.ListInstancesByTag(ctx, store.DaestroTag)
	if err != nil {
		fail("list machines: %v", err)
		return false
	}
	// Only the account's project's machines: another project (or another
	// daestro installation) sharing the provider account owns the rest.
	projectTag := store.ProjectTag(acct.ProjectID)
	bySpawn := map[string][]cloud.Instance{}
	for _, m := range machines {
		if m.Status == cloud.StatusTerminated || !slices.Contains(m.Tags, projectTag) {
			continue
		}
		for _, t := range m.Tags {
			if id, ok := store.SpawnIDFromTag(t); ok {
				bySpawn[id] = append(bySpawn[id], m)
				seen[id] = true
			}
		}
	}
	ids := make([]string, 0, len(bySpawn))
	for id := range bySpawn {
		ids = append(ids, id)
	}
	facts, err := a.Store.SpawnFacts(ctx, ids)
	if err != nil {
		fail("read spawns: %v", err)
		return false
	}
	for id, ms := range bySpawn {
		f, known := facts[id]
		reason := ""
		switch {
		case !known:
			reason = "its spawn no longer exists"
		case f.State == domain.SpawnFailed || f.State == domain.SpawnTerminated || f.State == domain.SpawnTerminationFailed:
			if f.SinceChange < grace {
				continue
			}
			reason = "its spawn is " + f.State
		case f.SinceChange >= grace && !a.spawnWorkflowRunning(ctx, id):
			// A live spawn whose workflow ended (failed, or terminated by an
			// operator) has no one left to delete its machine.
			reason = "its spawn's workflow no longer runs"
		default:
			continue // a live spawn's workflow owns its machine
		}
		deleted := true
		for _, m := range ms {
			if err := p.DeleteInstance(ctx, m.ID); err != nil && !errors.Is(err, cloud.ErrNotFound) {
				fail("delete machine %s of spawn %s: %v", m.ID, id, err)
				deleted = false
				continue
			}
			res.Deleted = append(res.Deleted, acct.Provider+"/"+m.ID)
			activity.GetLogger(ctx).Warn("reconciliation deleted a machine", "reason", reason, "spawn_id", id, "instance_id", m.ID, "provider", acct.Provider)
		}
		if known && deleted && !domain.SpawnStateIsFinal(f.State) {
			a.recordReconciled(ctx, id, "reconciliation deleted the machine: "+reason, res)
			delete(seen, id)
		}
	}
	return true
}

// settleTerminationFailed marks terminated the account's termination_failed
// spawns whose machines no listing found any more (a delete that worked
// although it reported an error).
func (a *Activities) settleTerminationFailed(ctx context.Context, acct store.CloudAccount, grace time.Duration, seen map[string]bool, res *ReconcileResult) {
	ids, err := a.Store.TerminationFailedSpawns(ctx, acct.ID, grace)
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("cloud auth %s: list termination_failed spawns: %v", acct.ID, err))
		return
	}
	for _, id := range ids {
		if !seen[id] {
			a.recordReconciled(ctx, id, "reconciliation found no machine left", res)
		}
	}
}

// recordReconciled records a spawn terminated by reconciliation.
func (a *Activities) recordReconciled(ctx context.Context, spawnID, reason string, res *ReconcileResult) {
	if _, err := a.Store.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: spawnID, State: domain.SpawnTerminated,
		Reason: reason, Key: "reconcile/" + spawnID, Note: reason}); err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("record spawn %s terminated: %v", spawnID, err))
	}
}

// spawnWorkflowRunning reports whether the spawn's workflow runs; when
// Temporal cannot tell, it assumes so (never delete on doubt).
func (a *Activities) spawnWorkflowRunning(ctx context.Context, spawnID string) bool {
	if a.Temporal == nil {
		return true
	}
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, contract.SpawnWorkflowID(spawnID), "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false
	case err != nil:
		return true
	}
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}
