package apiserver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/aws"
	"daestro/internal/cloud/cloudtest/ec2fake"
	"daestro/internal/domain"
	"daestro/internal/store"
)

// Keys of the fake AWS accounts: two of OwnerID's account, one of another.
const (
	sameAccountKey  = "AKIASAMEACCOUNT00002"
	otherAccountKey = "AKIAOTHERACCOUNT0003"
	otherAccount    = "222233334444"
)

// awsAccountsAPI is an API whose AWS cloud auths are checked with the EC2
// fake through the real SDK (EC2 for the keys, STS for their account).
func awsAccountsAPI(t *testing.T) (*api, *ec2fake.Server) {
	f := ec2fake.New(t)
	f.AddAccessKey(sameAccountKey, ec2fake.OwnerID)
	f.AddAccessKey(otherAccountKey, otherAccount)
	reg := cloud.NewRegistry()
	reg.Register(cloud.AWS, aws.NewFactory(aws.WithBaseURL(f.URL), aws.WithRetry(2, time.Millisecond, time.Millisecond)))
	return newAPIWith(t, reg), f
}

func keys(id string) map[string]any {
	return map[string]any{"access_key_id": id, "secret_access_key": ec2fake.SecretAccessKey}
}

// The product lets a user change keys "upon confirming that the keys belong
// to the same cloud provider account": the provider is asked. Keys of the
// same account are saved; keys of another account are a 409 naming both
// accounts, writing nothing, unless confirm_account_change is sent; then
// they are saved with the new account and a warning about the old one's
// machines.
func TestCloudAuthKeyChangeStaysInTheAccountUnlessConfirmed(t *testing.T) {
	t.Parallel()
	a, _ := awsAccountsAPI(t)
	c := a.newProject("acme")
	r := c.do(http.MethodPost, "/v1/cloud-auths", bodyWith(awsAuth("main"), keys(ec2fake.AccessKeyID)))
	require.Equal(t, http.StatusCreated, r.Status, r.Raw)
	id := r.id(t)
	assert.Equal(t, ec2fake.OwnerID, r.data(t)["account_id"], "the account is recorded at create")

	// Another key of the same account: saved, as before.
	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, keys(sameAccountKey))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, ec2fake.OwnerID, r.data(t)["account_id"])
	assert.Nil(t, r.data(t)["warnings"])
	_, creds, err := a.st.CloudAuthCredentials(context.Background(), c.project.ID, id)
	require.NoError(t, err)
	assert.Equal(t, sameAccountKey, creds.AccessKeyID)
	before := c.do(http.MethodGet, "/v1/cloud-auths/"+id, nil).data(t)

	// A key of another account: refused, nothing written.
	for _, body := range []map[string]any{keys(otherAccountKey), bodyWith(keys(otherAccountKey), map[string]any{"confirm_account_change": false, "name": "renamed"})} {
		r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, body)
		assert.Equal(t, http.StatusConflict, r.Status, r.Raw)
		assert.Equal(t, "the new keys belong to AWS account 222233334444, but cloud auth 'main' holds keys of account 111122223333: "+
			"machines created under account 111122223333 could no longer be seen or deleted by daestro. Nothing was changed; "+
			`if you mean to switch accounts, send the keys again with "confirm_account_change": true`, r.Message)
	}
	assert.Equal(t, before, c.do(http.MethodGet, "/v1/cloud-auths/"+id, nil).data(t), "nothing was written")
	_, creds, err = a.st.CloudAuthCredentials(context.Background(), c.project.ID, id)
	require.NoError(t, err)
	assert.Equal(t, sameAccountKey, creds.AccessKeyID, "the old keys stay")

	// Confirmed: saved, the account changes, and the response says what it costs.
	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, bodyWith(keys(otherAccountKey), map[string]any{"confirm_account_change": true}))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, otherAccount, r.data(t)["account_id"])
	assert.Equal(t, []any{"cloud auth 'main' now holds keys of AWS account 222233334444 instead of 111122223333: daestro can no longer see or delete " +
		"machines created under account 111122223333; their compute spawns become termination_failed when daestro tries to terminate them, " +
		"and reconciliation lists them; delete those machines in account 111122223333"}, r.data(t)["warnings"])
	_, creds, err = a.st.CloudAuthCredentials(context.Background(), c.project.ID, id)
	require.NoError(t, err)
	assert.Equal(t, otherAccountKey, creds.AccessKeyID)

	// A rename or region change asks no provider and needs no confirmation.
	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, map[string]any{"default_region": "eu-west-1"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, otherAccount, r.data(t)["account_id"])
}

// A cloud auth stored before daestro recorded accounts (account unknown):
// the first key change asks the old keys which account they belong to and
// applies the rule; the auth's spawns of unknown account are recorded in
// the old account, since the old keys made their machines. When the old
// keys no longer answer, the change is saved with a warning.
func TestCloudAuthKeyChangeOfARowWithoutAccount(t *testing.T) {
	t.Parallel()
	a, _ := awsAccountsAPI(t)
	c := a.newProject("acme")
	ctx := context.Background()
	id := c.do(http.MethodPost, "/v1/cloud-auths", bodyWith(awsAuth("old"), keys(ec2fake.AccessKeyID))).id(t)
	queue := c.do(http.MethodPost, "/v1/job-queues", map[string]any{"name": "etl", "priority": 10}).id(t)
	env, spawn := store.NewID(), store.NewID()
	_, err := a.st.Pool.Exec(ctx, `INSERT INTO compute_envs (id, project_id, name, kind, cloud_auth_id, instance_type, region, enabled)
		VALUES ($1, $2, 'box', 'cloud', $3, 't3.small', 'us-east-1', false)`, env, c.project.ID, id)
	require.NoError(t, err)
	_, err = a.st.Pool.Exec(ctx, `INSERT INTO compute_spawns (id, project_id, job_queue_id, compute_env_id, kind, state, provider, cloud_auth_id, region, instance_type, instance_id)
		VALUES ($1, $2, $3, $4, 'cloud', 'idle', 'aws', $5, 'us-east-1', 't3.small', 'i-0abc')`, spawn, c.project.ID, queue, env, id)
	require.NoError(t, err)
	_, err = a.st.Pool.Exec(ctx, `UPDATE cloud_auths SET account_id = NULL WHERE id = $1`, id) // as migrated
	require.NoError(t, err)
	assert.Nil(t, c.do(http.MethodGet, "/v1/cloud-auths/"+id, nil).data(t)["account_id"], "unknown")

	r := c.do(http.MethodPatch, "/v1/cloud-auths/"+id, keys(otherAccountKey))
	assert.Equal(t, http.StatusConflict, r.Status, "the old keys said which account they are of: %s", r.Raw)
	assert.Contains(t, r.Message, "holds keys of account 111122223333")
	assert.Nil(t, c.do(http.MethodGet, "/v1/cloud-auths/"+id, nil).data(t)["account_id"], "nothing was written")

	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+id, keys(sameAccountKey))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, ec2fake.OwnerID, r.data(t)["account_id"])
	var spawnAccount *string
	require.NoError(t, a.st.Pool.QueryRow(ctx, `SELECT account_id FROM compute_spawns WHERE id = $1`, spawn).Scan(&spawnAccount))
	require.NotNil(t, spawnAccount)
	assert.Equal(t, ec2fake.OwnerID, *spawnAccount, "the spawn's machine was made with the old keys")

	// Old keys that no longer answer (revoked): the change is saved, with a warning.
	dead := c.do(http.MethodPost, "/v1/cloud-auths", bodyWith(awsAuth("dead"), keys(ec2fake.AccessKeyID))).id(t)
	_, err = a.st.Pool.Exec(ctx, `UPDATE cloud_auths SET account_id = NULL WHERE id = $1`, dead)
	require.NoError(t, err)
	_, err = a.st.UpdateCloudAuth(ctx, c.project.ID, dead, patchKeys("AKIAREVOKEDKEY000009"), store.KeyChange{})
	require.NoError(t, err, "the store writes what it is given: stand-in for keys revoked since")
	r = c.do(http.MethodPatch, "/v1/cloud-auths/"+dead, keys(otherAccountKey))
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	assert.Equal(t, otherAccount, r.data(t)["account_id"])
	require.Len(t, r.data(t)["warnings"], 1)
	assert.Contains(t, r.data(t)["warnings"].([]any)[0], "daestro could not tell which AWS account the old keys belonged to (AWS rejected this access key")
	assert.Contains(t, r.data(t)["warnings"].([]any)[0], "if it was not account 222233334444, machines created with the old keys can no longer be managed by daestro")
}

// patchKeys is a key change to an AWS key pair.
func patchKeys(keyID string) domain.CloudAuthPatch {
	secret := ec2fake.SecretAccessKey
	return domain.CloudAuthPatch{AccessKeyID: &keyID, SecretAccessKey: &secret}
}
