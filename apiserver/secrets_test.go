package apiserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/apiserver"
	"daestro/internal/cloud"
	"daestro/internal/secrets"
	"daestro/internal/store"
	"daestro/internal/testenv"
)

const (
	secretToken    = "dop_v1_TOKEN-must-never-be-stored-in-clear-1234"
	secretPassword = "registry-PASSWORD-must-never-be-stored-in-clear"
	secretEnv      = "sensitive-ENV-value-must-never-be-stored-in-clear"
	plainEnv       = "visible-env-value-but-still-encrypted-at-rest"
)

// withKeyring serves the same database through a new server whose store uses ring.
func (a *api) withKeyring(ring *secrets.Keyring) *api {
	// A new Store over the same pool, not a copy: a Store holds state of its
	// own (the log followers' feed) that must not be shared or copied.
	st := &store.Store{Pool: a.st.Pool, Secrets: ring, RunLogCapBytes: a.st.RunLogCapBytes}
	srv := httptest.NewServer(apiserver.New(apiserver.Options{Store: st, Logger: testenv.Logger(a.t)}).Handler())
	a.t.Cleanup(srv.Close)
	return &api{t: a.t, url: srv.URL, st: st}
}

// newAPIWithKey is newAPI sealing under a master key of its own, returned
// so that a test can rotate away from it.
func newAPIWithKey(t *testing.T) (*api, []byte) {
	t.Helper()
	key := randomKey(t)
	ring, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	return newAPI(t).withKeyring(ring), key
}

func randomKey(t *testing.T) []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// createSecrets stores one secret of each kind through the API.
func createSecrets(t *testing.T, c client) (cloudAuthID string) {
	cloudAuthID = c.do(http.MethodPost, "/v1/cloud-auths", map[string]any{"name": "do", "provider": "digitalocean", "access_token": secretToken}).id(t)
	regID := c.do(http.MethodPost, "/v1/registry-auths", map[string]any{"name": "reg", "registry_url": "registry.example.com", "username": "bot", "password": secretPassword}).id(t)
	c.do(http.MethodPost, "/v1/job-definitions", map[string]any{"name": "job", "type": "docker", "image": "registry.example.com/job:1", "registry_auth_id": regID,
		"env": map[string]any{"SECRET": map[string]any{"value": secretEnv, "sensitive": true}, "PLAIN": map[string]any{"value": plainEnv}}}).id(t)
	return cloudAuthID
}

// No table holds a secret in clear: not as text, not as the bytes of a bytea.
func TestNoPlaintextSecretInTheDatabase(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.newProject("acme")
	createSecrets(t, c)

	var dump strings.Builder
	for _, tbl := range catalogTables {
		rows, err := a.st.Pool.Query(context.Background(), "SELECT t::text FROM "+tbl+" t")
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			dump.WriteString(s + "\n")
		}
		rows.Close()
	}
	all := strings.ToLower(dump.String())
	for _, s := range []string{secretToken, secretPassword, secretEnv, plainEnv} {
		assert.NotContains(t, all, strings.ToLower(s))
		assert.NotContains(t, all, hex.EncodeToString([]byte(s)), "bytea columns render as hex")
	}
	require.Contains(t, all, "…1234", "the dump did include the cloud auth row (its hint)")
}

// Secrets written under one master key survive `rotate-key`: afterwards a
// process holding only the new key reads every one of them.
func TestMasterKeyRotationRoundTrip(t *testing.T) {
	t.Parallel()
	a, oldKey := newAPIWithKey(t)
	c := a.newProject("acme")
	cloudAuthID := createSecrets(t, c)

	newKey := randomKey(t)
	newOnly, err := secrets.NewKeyring(newKey)
	require.NoError(t, err)
	before := a.withKeyring(newOnly)
	_, _, err = before.st.CloudAuthCredentials(context.Background(), c.project.ID, cloudAuthID)
	require.ErrorIs(t, err, secrets.ErrUnknownKey, "before rotation the new key alone cannot read old secrets")

	rotating, err := secrets.NewKeyring(newKey, oldKey)
	require.NoError(t, err)
	n, err := a.withKeyring(rotating).st.RotateSecrets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 3, n, "cloud credentials, registry password and definition env")
	n, err = a.withKeyring(rotating).st.RotateSecrets(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 0, n, "rotation is idempotent")

	after := a.withKeyring(newOnly)
	_, creds, err := after.st.CloudAuthCredentials(context.Background(), c.project.ID, cloudAuthID)
	require.NoError(t, err)
	assert.Equal(t, cloud.Credentials{AccessToken: secretToken}, creds)

	ac := client{a: after, key: c.key, project: c.project}
	def := ac.do(http.MethodGet, "/v1/job-definitions/job", nil)
	require.Equal(t, http.StatusOK, def.Status, def.Raw)
	assert.Contains(t, def.Raw, plainEnv, "non-sensitive env values read back under the new key")
	assert.NotContains(t, def.Raw, secretEnv)

	var sealed []byte
	require.NoError(t, a.st.Pool.QueryRow(context.Background(), "SELECT password FROM registry_auths").Scan(&sealed))
	id, err := secrets.SealedKeyID(sealed)
	require.NoError(t, err)
	newID := secrets.KeyID(newKey)
	assert.True(t, bytes.Equal(newID[:], id[:]), "the ciphertext records the new key's id")
}
