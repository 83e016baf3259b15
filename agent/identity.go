package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// identity is what the agent keeps in its state dir between restarts: the
// credential its bootstrap token was exchanged for. A restarted agent
// registers with the credential; an agent started with another bootstrap
// token (a new spawn on the same volume) exchanges that one instead.
type identity struct {
	// SpawnID is the spawn the credential belongs to.
	SpawnID string `json:"spawn_id"`
	// BootstrapSHA256 is the hex SHA-256 of the bootstrap token that was exchanged.
	BootstrapSHA256 string `json:"bootstrap_sha256"`
	// Credential is the agent's own token.
	Credential string `json:"credential"`
	// RegisteredAt is when the exchange happened.
	RegisteredAt time.Time `json:"registered_at"`
}

func (a *Agent) saveIdentity(id identity) error {
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir %s (%s): %w", a.cfg.StateDir, EnvStateDir, err)
	}
	b, _ := json.MarshalIndent(id, "", "  ")
	tmp := filepath.Join(a.cfg.StateDir, "identity.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write identity: %w", err)
	}
	return os.Rename(tmp, filepath.Join(a.cfg.StateDir, "identity.json"))
}

// loadIdentity reads the saved identity; ok is false when there is none.
func (a *Agent) loadIdentity() (identity, bool) {
	var id identity
	b, err := os.ReadFile(filepath.Join(a.cfg.StateDir, "identity.json"))
	if err != nil || json.Unmarshal(b, &id) != nil {
		return identity{}, false
	}
	return id, true
}
