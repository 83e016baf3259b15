// Package secrets encrypts values at rest with AES-256-GCM under the master
// key. Every ciphertext records the ID of the key that sealed it, so
// `daestro admin rotate-key` can find what still needs re-encrypting and a
// server can read old and new ciphertexts during a rotation.
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// version prefixes every ciphertext so the format can change later.
const version byte = 1

// KeyIDSize is the length of the key ID stored in each ciphertext.
const KeyIDSize = 8

// Keyring seals with the current key and opens with any key it holds.
type Keyring struct {
	current [KeyIDSize]byte
	aeads   map[[KeyIDSize]byte]cipher.AEAD
}

// KeyID derives the public ID of a key: a truncated SHA-256, which says which
// key sealed a value without revealing anything about the key.
func KeyID(key []byte) [KeyIDSize]byte {
	sum := sha256.Sum256(append([]byte("daestro-master-key-id:"), key...))
	var id [KeyIDSize]byte
	copy(id[:], sum[:KeyIDSize])
	return id
}

// NewKeyring seals under current and also opens values sealed under any of old.
func NewKeyring(current []byte, old ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[[KeyIDSize]byte]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, old...) {
		if len(key) != 32 {
			return nil, fmt.Errorf("master key %d is %d bytes, want 32", i, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[KeyID(key)] = aead
	}
	k.current = KeyID(current)
	return k, nil
}

// CurrentKeyID is the hex ID of the key new values are sealed with.
func (k *Keyring) CurrentKeyID() string { return hex.EncodeToString(k.current[:]) }

// Seal encrypts plaintext. aad binds the ciphertext to where it is stored
// (table, column, row ID) so a value copied to another row does not open.
func (k *Keyring) Seal(plaintext []byte, aad string) []byte {
	aead := k.aeads[k.current]
	out := make([]byte, 0, 1+KeyIDSize+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, version)
	out = append(out, k.current[:]...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("secrets: no randomness: " + err.Error())
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, []byte(aad))
}

// ErrUnknownKey means the value was sealed under a key this keyring lacks.
var ErrUnknownKey = errors.New("sealed under a master key this process does not have (set the old key in DAESTRO_OLD_MASTER_KEYS)")

// Open decrypts a value sealed by Seal with the same aad.
func (k *Keyring) Open(sealed []byte, aad string) ([]byte, error) {
	id, err := SealedKeyID(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("key %x: %w", id, ErrUnknownKey)
	}
	rest := sealed[1+KeyIDSize:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("secret ciphertext is truncated")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, errors.New("secret does not decrypt: wrong key or tampered value")
	}
	return plain, nil
}

// IsCurrent reports whether sealed was sealed with the current key.
func (k *Keyring) IsCurrent(sealed []byte) bool {
	id, err := SealedKeyID(sealed)
	return err == nil && bytes.Equal(id[:], k.current[:])
}

// SealedKeyID returns the key ID recorded in a ciphertext.
func SealedKeyID(sealed []byte) ([KeyIDSize]byte, error) {
	var id [KeyIDSize]byte
	if len(sealed) < 1+KeyIDSize || sealed[0] != version {
		return id, errors.New("not a daestro secret ciphertext")
	}
	copy(id[:], sealed[1:1+KeyIDSize])
	return id, nil
}

// Hint masks a secret for display: its last four characters, or nothing for short values.
func Hint(secret string) string {
	r := []rune(secret)
	if len(r) < 12 {
		return "…"
	}
	return "…" + string(r[len(r)-4:])
}
