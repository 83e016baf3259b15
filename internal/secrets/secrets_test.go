package secrets_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/secrets"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	k, err := secrets.NewKeyring(key(1))
	require.NoError(t, err)
	sealed := k.Seal([]byte("hunter2-token"), "cloud_auths:abc")
	assert.NotContains(t, string(sealed), "hunter2")

	plain, err := k.Open(sealed, "cloud_auths:abc")
	require.NoError(t, err)
	assert.Equal(t, "hunter2-token", string(plain))

	_, err = k.Open(sealed, "cloud_auths:other-row")
	assert.Error(t, err, "a ciphertext copied to another row does not open")

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	_, err = k.Open(tampered, "cloud_auths:abc")
	assert.Error(t, err)

	assert.NotEqual(t, sealed, k.Seal([]byte("hunter2-token"), "cloud_auths:abc"), "fresh nonce each time")
}

func TestRotationReadsOldAndSealsNew(t *testing.T) {
	oldRing, _ := secrets.NewKeyring(key(1))
	sealed := oldRing.Seal([]byte("v"), "x")

	newOnly, _ := secrets.NewKeyring(key(2))
	_, err := newOnly.Open(sealed, "x")
	assert.ErrorIs(t, err, secrets.ErrUnknownKey)

	both, err := secrets.NewKeyring(key(2), key(1))
	require.NoError(t, err)
	assert.False(t, both.IsCurrent(sealed))
	plain, err := both.Open(sealed, "x")
	require.NoError(t, err)
	resealed := both.Seal(plain, "x")
	assert.True(t, both.IsCurrent(resealed))
	plain2, err := newOnly.Open(resealed, "x")
	require.NoError(t, err)
	assert.Equal(t, "v", string(plain2))
}

func TestBadKeysAndHints(t *testing.T) {
	_, err := secrets.NewKeyring([]byte("short"))
	assert.ErrorContains(t, err, "want 32")
	assert.Equal(t, "…wxyz", secrets.Hint("abcdefghijklmnopqrstuvwxyz"))
	assert.Equal(t, "…", secrets.Hint("short"), "short secrets reveal nothing")
}
