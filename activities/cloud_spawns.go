package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

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

// ErrTypeAccountChanged is the type of the non-retryable error a machine
// activity returns when the spawn's machine was created in another provider
// account than the one its cloud auth's keys belong to now: the keys cannot
// see the machine, so their "not found" must not pass for "deleted". Its
// message (AccountChangedNote) is the spawn's system note.
const ErrTypeAccountChanged = "CloudAccountChanged"

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
	// The machine is made with the keys read just now: record their
	// account first, so even a crash right after the create leaves the
	// machine's account known.
	if err := a.Store.SetSpawnAccount(ctx, sp.ID, sp.AuthAccountID); err != nil {
		return res, spawnError(sp.ID, "record the machine's account", err)
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
	if err != nil || sp.InstanceID == "" || sp.AccountMoved() {
		return err // (another account's keys cannot see the machine)
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
//
// A machine created in another account than the cloud auth's keys belong
// to now is neither looked for nor "deleted": those keys would not find it
// and it would pass for gone while it runs on. The error
// ErrTypeAccountChanged says what the user must do; the agent's tokens
// stay, so its pings still reach the server and are told to stop (a
// termination_failed spawn takes no work).
func (a *Activities) DeleteMachine(ctx context.Context, in MachineInput) error {
	defer keepAlive(ctx)()
	sp, p, err := a.openSpawnProvider(ctx, in.SpawnID)
	if err != nil {
		return err
	}
	if sp.AccountMoved() {
		activity.GetLogger(ctx).Warn("the spawn's machine is in another account than its cloud auth's keys", "spawn_id", sp.ID,
			"instance_id", sp.InstanceID, "machine_account", sp.AccountID, "auth_account", sp.AuthAccountID)
		return temporal.NewNonRetryableApplicationError(AccountChangedNote(sp.Provider, sp.InstanceID, sp.AccountID, sp.AuthName, sp.AuthAccountID),
			ErrTypeAccountChanged, nil)
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

// AccountChangedNote is the system note of a spawn whose machine daestro
// can no longer see or delete because its cloud auth now holds keys of
// another account: what happened and what the user must do.
func AccountChangedNote(provider, instanceID, machineAccount, authName, authAccount string) string {
	machine := "the spawn's machine"
	if instanceID != "" {
		machine = "machine " + instanceID
	}
	return fmt.Sprintf("%s was created in %s account %s, but cloud auth '%s' now holds keys of account %s: daestro can no longer see or delete it; delete it in account %s",
		machine, cloud.DisplayName(provider), machineAccount, authName, authAccount, machineAccount)
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
