package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
	"daestro/internal/cloud/digitalocean"
	"daestro/internal/domain"
	"daestro/internal/store"
	"daestro/internal/testenv"
	"daestro/service"
)

// The token of another DigitalOcean account than dofake.Token's.
const (
	strangerToken   = "dop_v1_stranger"
	strangerAccount = "7c1e2f9a-0000-4000-8000-0000000000bb"
)

// A spawn whose machine was created in DigitalOcean account A, after its
// cloud auth's keys switched to account B (confirmed): B's keys cannot see
// the droplet, so deleting it must not pass for done. The delete says so
// (termination_failed with a note naming both accounts, the droplet left
// running in A), reconciliation never marks the spawn terminated and lists
// it, while a termination_failed spawn of account B whose machine is gone
// is still settled.
func TestMachineOfTheOldAccountIsNeverTakenForDeleted(t *testing.T) {
	ctx := context.Background()
	fake := dofake.New(t)
	fake.AddToken(strangerToken, strangerAccount)
	f, auth, requested := newDOFixture(t, fake)
	st := f.st
	svc := &service.Service{Store: st, Clouds: f.acts.Clouds}

	old := requested()
	made, err := f.create(old)
	require.NoError(t, err)
	require.Equal(t, 1, fake.Droplets())
	sp, err := st.CloudSpawnMachine(ctx, old)
	require.NoError(t, err)
	assert.Equal(t, dofake.AccountUUID, sp.AccountID, "the machine's account is recorded")
	f.exec(`UPDATE compute_spawns SET state = 'idle' WHERE id = $1`, old)

	// The user switches the cloud auth to account B's token, confirmed.
	token := strangerToken
	_, err = svc.UpdateCloudAuth(ctx, f.projectID, auth.ID, domain.CloudAuthPatch{AccessToken: &token})
	require.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "unconfirmed: %v", err)
	up, err := svc.UpdateCloudAuth(ctx, f.projectID, auth.ID, domain.CloudAuthPatch{AccessToken: &token, ConfirmAccountChange: true})
	require.NoError(t, err)
	require.NotNil(t, up.CloudAuth.AccountID)
	assert.Equal(t, strangerAccount, *up.CloudAuth.AccountID)

	// The idle spawn is terminated: B's keys would not find the droplet.
	note := "machine " + made.InstanceID + " was created in DigitalOcean account " + dofake.AccountUUID +
		", but cloud auth 'do-main' now holds keys of account " + strangerAccount +
		": daestro can no longer see or delete it; delete it in account " + dofake.AccountUUID
	err = f.delete(old)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, ErrTypeAccountChanged, appErr.Type())
	assert.Equal(t, note, appErr.Message())
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, 1, fake.Droplets(), "the droplet runs on in account A: nothing claimed it deleted")
	// What the spawn workflow records with that error (see workflows' TestCloudSpawnOfAnotherAccountEndsTerminationFailed).
	_, err = st.RecordSpawnTransition(ctx, store.SpawnTransition{SpawnID: old, State: domain.SpawnTerminationFailed, Reason: note, Note: note, Key: "test/" + old})
	require.NoError(t, err)
	require.NoError(t, f.run(f.acts.RefreshMachine, MachineInput{SpawnID: old}, nil), "nothing to refresh with keys that cannot see it")

	// A spawn of account B whose delete failed but whose machine is gone.
	settled := requested()
	_, err = f.create(settled)
	require.NoError(t, err)
	require.NoError(t, f.delete(settled))
	f.exec(`UPDATE compute_spawns SET state = 'termination_failed' WHERE id = $1`, settled)
	sp, err = st.CloudSpawnMachine(ctx, settled)
	require.NoError(t, err)
	assert.Equal(t, strangerAccount, sp.AccountID, "made with B's keys")

	res, err := f.reconcile(0)
	require.NoError(t, err)
	assert.Empty(t, res.Errors)
	assert.Empty(t, res.Deleted)
	assert.Equal(t, []OtherAccountMachine{{SpawnID: old, State: domain.SpawnTerminationFailed, CloudAuthID: auth.ID, Provider: cloud.DigitalOcean,
		InstanceID: made.InstanceID, MachineAccount: dofake.AccountUUID, AuthAccount: strangerAccount, Note: note}}, res.OtherAccount)
	got, err := st.ComputeSpawn(ctx, f.projectID, old)
	require.NoError(t, err)
	assert.Equal(t, domain.SpawnTerminationFailed, got.State, "never terminated on the word of keys that cannot see it")
	assert.Equal(t, note, got.SystemNote)
	got, err = st.ComputeSpawn(ctx, f.projectID, settled)
	require.NoError(t, err)
	assert.Equal(t, domain.SpawnTerminated, got.State, "account B's own spawn is settled as before")
	assert.Equal(t, 1, fake.Droplets())
}

// newDOFixture is a project with a DigitalOcean cloud auth (dofake.Token)
// on fake, a droplet compute env and a queue, the activities wired to a
// real DigitalOcean provider aimed at fake, and requested, which inserts a
// cloud spawn as the dispatcher requests it (its auth's account copied).
func newDOFixture(t *testing.T, fake *dofake.Server) (f *cloudFixture, auth domain.CloudAuth, requested func() string) {
	st := testenv.SealingStore(t)
	ctx := context.Background()
	clouds := cloud.NewRegistry()
	clouds.Register(cloud.DigitalOcean, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return digitalocean.New(c.AccessToken, digitalocean.WithBaseURL(fake.URL), digitalocean.WithRetry(2, time.Millisecond, time.Millisecond))
	})
	p, err := st.CreateProject(ctx, testenv.RandomName("acct"), "")
	require.NoError(t, err)
	in := domain.CloudAuthInput{Name: "do-main", Provider: cloud.DigitalOcean, AccessToken: dofake.Token}
	v, err := clouds.Validate(ctx, in.Provider, cloud.Credentials{AccessToken: in.AccessToken}, "")
	require.NoError(t, err)
	auth, err = st.CreateCloudAuth(ctx, p.ID, in, v.Account.ID)
	require.NoError(t, err)
	f = &cloudFixture{t: t, st: st, projectID: p.ID, authID: auth.ID, envID: store.NewID(), queueID: store.NewID(),
		acts: &Activities{Store: st, Clouds: clouds, Agent: AgentConfig{Image: "unused", ServerURL: "http://127.0.0.1:1"}}}
	f.exec(`INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, region, instance_type, instance_vcpu, instance_memory_mb, hourly_price)
		VALUES ($1, $2, 'droplets', 'cloud', $3, 'nyc3', 's-1vcpu-1gb', 1, 1024, 0.00893)`, f.envID, p.ID, auth.ID)
	f.exec(`INSERT INTO job_queues (id, project_id, name, priority, enabled, max_idle_seconds) VALUES ($1, $2, 'q', 10, true, 60)`, f.queueID, p.ID)
	requested = func() string {
		id := store.NewID()
		f.exec(`INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, provider, cloud_auth_id, region, instance_type, account_id)
			SELECT $1, $2, $3, $4, 'cloud', 'requested', a.provider, a.id, 'nyc3', 's-1vcpu-1gb', a.account_id FROM cloud_auths a WHERE a.id = $5`,
			id, p.ID, f.queueID, f.envID, auth.ID)
		return id
	}
	return f, auth, requested
}

// A droplet create whose answer is lost (DigitalOcean made the droplet but
// answered 500) is tried once within the call, so the activity fails with a
// retryable error; the repeat the activity's retry policy makes finds the
// droplet by the spawn's tag and adopts it. One droplet, one create request:
// the create is never blindly repeated, and the retries happen at one level.
func TestCreateMachineWhoseAnswerWasLostIsRepeatedByThePolicyAndAdopts(t *testing.T) {
	fake := dofake.New(t)
	f, _, requested := newDOFixture(t, fake)
	id := requested()

	fake.LoseCreateAnswers(1)
	_, err := f.create(id)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not answer the request to create the droplet (HTTP 500)")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.False(t, appErr.NonRetryable(), "the activity's retry policy repeats it: %v", err)
	assert.Equal(t, 1, fake.Droplets(), "the lost create took effect")
	assert.Equal(t, 1, count(fake.Calls(), "POST /v2/droplets"), "not repeated within the call")

	again, err := f.create(id)
	require.NoError(t, err)
	assert.True(t, again.Adopted, "found by its tag")
	assert.Equal(t, 1, fake.Droplets())
	assert.Equal(t, 1, count(fake.Calls(), "POST /v2/droplets"), "the repeat did not create again")
	sp, err := f.st.CloudSpawnMachine(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, again.InstanceID, sp.InstanceID)
}

func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}
