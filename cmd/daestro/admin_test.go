package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/config"
	"daestro/internal/domain"
	"daestro/internal/secrets"
	"daestro/internal/testenv"
)

func TestAdminCreateProjectPrintsAWorkingKey(t *testing.T) {
	url := testenv.NewDatabase(t)
	t.Setenv(config.EnvDatabaseURL, url)
	t.Setenv(config.EnvLogLevel, "warn")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"admin", "create-project", "--code", "acme", "--name", "Acme Inc"}, &out, &bytes.Buffer{}))
	m := regexp.MustCompile(`API key \(shown once, store it now\): (dst_\S+)`).FindStringSubmatch(out.String())
	require.Len(t, m, 2, out.String())

	st := testenv.OpenStore(t, url)
	p, _, err := st.AuthenticateAPIKey(context.Background(), m[1])
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Code)
	assert.Equal(t, "Acme Inc", p.Name)

	err = run(context.Background(), []string{"admin", "create-project", "--code", "acme"}, &out, &bytes.Buffer{})
	assert.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "a taken code is refused: %v", err)
	err = run(context.Background(), []string{"admin", "create-project", "--code", "Bad Code"}, &out, &bytes.Buffer{})
	assert.ErrorContains(t, err, "project code \"Bad Code\" is invalid")
}

func TestAdminRotateKeyReencryptsEverything(t *testing.T) {
	url := testenv.NewDatabase(t)
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	st := testenv.OpenStore(t, url)
	_, err := st.Migrate(context.Background())
	require.NoError(t, err)
	st.Secrets, _ = secrets.NewKeyring(oldKey)
	p, err := st.CreateProject(context.Background(), "acme", "")
	require.NoError(t, err)
	ca, err := st.CreateCloudAuth(context.Background(), p.ID, domain.CloudAuthInput{Name: "do", Provider: "digitalocean", AccessToken: "dop_v1_secret-token"}, "")
	require.NoError(t, err)

	t.Setenv(config.EnvDatabaseURL, url)
	t.Setenv(config.EnvLogLevel, "warn")
	t.Setenv(config.EnvMasterKey, base64.StdEncoding.EncodeToString(newKey))
	t.Setenv(config.EnvOldMasterKeys, base64.StdEncoding.EncodeToString(oldKey))
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"admin", "rotate-key"}, &out, &bytes.Buffer{}))
	assert.Contains(t, out.String(), "re-encrypted 1 secrets")

	st.Secrets, _ = secrets.NewKeyring(newKey)
	_, creds, err := st.CloudAuthCredentials(context.Background(), p.ID, ca.ID)
	require.NoError(t, err)
	assert.Equal(t, "dop_v1_secret-token", creds.AccessToken)
}
