// Package schemas embeds the database migrations and the OpenAPI document so
// that the binary carries everything it needs to set up and describe itself.
package schemas

import "embed"

// Migrations holds the numbered SQL migrations, applied in order by internal/store.
//
//go:embed migrations/*.sql
var Migrations embed.FS
