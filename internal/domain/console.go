package domain

import "time"

// ConsoleSession is a browser signed in to the console with an API key: it
// sees exactly what the key sees, until it expires, signs out or the key is revoked.
type ConsoleSession struct {
	// Project is the key's project, the scope of every page.
	Project Project
	// APIKeyID and APIKeyPrefix name the key the session was opened with.
	APIKeyID     string
	APIKeyPrefix string
	// CSRFToken must come back with every form the session posts.
	CSRFToken string
	// ExpiresAt ends the session.
	ExpiresAt time.Time
}
