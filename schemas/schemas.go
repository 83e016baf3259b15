// Package schemas embeds the database migrations and the OpenAPI document so
// that the binary carries everything it needs to set up and describe itself.
package schemas

import "embed"

// Migrations holds the numbered SQL migrations, applied in order by internal/store.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// OpenAPI is the OpenAPI 3 document of the REST API, served at /v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
