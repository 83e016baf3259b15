package domain

import (
	"regexp"
	"time"
)

// Project is the tenant: every catalog resource and API key belongs to one.
type Project struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// Code is the short unique handle used in client API references ("acme::etl").
	Code string `json:"code"`
	// Name is the display name.
	Name string `json:"name"`
	// LogRetentionDays is how long the project keeps a run's logs and
	// metrics after the run ended (see Retention in the README).
	LogRetentionDays int `json:"log_retention_days"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Bounds of Project.LogRetentionDays; a new project keeps
// DefaultLogRetentionDays (the column's default).
const (
	DefaultLogRetentionDays = 30
	MinLogRetentionDays     = 1
	MaxLogRetentionDays     = 3650
)

// ValidateLogRetentionDays checks a retention setting.
func ValidateLogRetentionDays(days int) error {
	if days < MinLogRetentionDays || days > MaxLogRetentionDays {
		return Errorf(EINVALID, "log_retention_days: %d is out of range: keep a run's logs and metrics %d to %d days after it ended (default %d)",
			days, MinLogRetentionDays, MaxLogRetentionDays, DefaultLogRetentionDays)
	}
	return nil
}

// APIKey is a credential for one project. The secret itself is never stored.
type APIKey struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// ProjectID is the project the key acts for.
	ProjectID string `json:"-"`
	// Name says what the key is for.
	Name string `json:"name"`
	// Prefix is the visible start of the key, enough to recognise it.
	Prefix string `json:"prefix"`
	// CreatedAt is when the key was made.
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is the last time a request authenticated with the key.
	LastUsedAt *time.Time `json:"last_used_at"`
	// RevokedAt is set once the key is revoked; a revoked key never authenticates again.
	RevokedAt *time.Time `json:"revoked_at"`
}

var projectCodeRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

// ValidateProjectCode checks a project code: 1-64 lowercase letters, digits and
// dashes, not starting or ending with a dash.
func ValidateProjectCode(code string) error {
	if !projectCodeRE.MatchString(code) {
		return Errorf(EINVALID, "project code %q is invalid: use 1-64 lowercase letters, digits and dashes, not starting or ending with a dash", code)
	}
	return nil
}
