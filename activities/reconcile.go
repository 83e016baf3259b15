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

	"daestro/internal/cloud"
	"daestro/internal/contract"
	"daestro/internal/domain"
	"daestro/internal/store"
)

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
	// OtherAccount are the spawns whose machines were created in another
	// provider account than their cloud auth's keys belong to now: daestro
	// can neither see nor delete those machines, so reconciliation never
	// marks the spawns terminated and names them here, for someone to
	// delete the machines in their own account.
	OtherAccount []OtherAccountMachine
}

// OtherAccountMachine is a spawn's machine in an account its cloud auth's
// keys no longer belong to.
type OtherAccountMachine struct {
	// SpawnID, State and CloudAuthID are the spawn's.
	SpawnID, State, CloudAuthID string
	// Provider and InstanceID name the machine ("" when its ID was never
	// recorded; it carries the spawn's tag).
	Provider, InstanceID string
	// MachineAccount is the account the machine was created in,
	// AuthAccount the one the cloud auth's keys belong to now.
	MachineAccount, AuthAccount string
	// Note says what to do, as the spawn's system note does.
	Note string
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
		a.listOtherAccount(ctx, acct, &res)
	}
	return res, nil
}

// listOtherAccount adds the account's spawns whose machines live in another
// provider account to res.OtherAccount.
func (a *Activities) listOtherAccount(ctx context.Context, acct store.CloudAccount, res *ReconcileResult) {
	list, err := a.Store.OtherAccountSpawns(ctx, acct.ID)
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("cloud auth %s: list spawns of another account: %v", acct.ID, err))
		return
	}
	for _, sp := range list {
		res.OtherAccount = append(res.OtherAccount, OtherAccountMachine{SpawnID: sp.ID, State: sp.State, CloudAuthID: acct.ID,
			Provider: acct.Provider, InstanceID: sp.InstanceID, MachineAccount: sp.AccountID, AuthAccount: acct.AccountID,
			Note: AccountChangedNote(acct.Provider, sp.InstanceID, sp.AccountID, acct.Name, acct.AccountID)})
	}
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
// although it reported an error). Spawns whose machines were made in
// another account than the keys' are not among them: the listing could
// never have found those (see listOtherAccount).
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
