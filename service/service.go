// Package service is the one place a change that spans Postgres and
// Temporal is written out: write in a transaction, start or signal a
// workflow inside it, compensate when the commit fails. The API's handlers
// (and the console) decode a request, call one method here and encode the
// answer; the rules themselves stay in internal/domain and internal/store.
package service

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"

	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/internal/logging"
	"daestro/internal/store"
)

// temporalCallTimeout bounds one Temporal call made while a request waits.
const temporalCallTimeout = 10 * time.Second

// Service holds what the operations need. Temporal may be nil (a server
// started without it): every operation that needs it then answers
// EUNAVAILABLE and changes nothing.
type Service struct {
	Store    *store.Store
	Temporal client.Client
	// ControlQueue is the task queue of the control-plane workflows.
	ControlQueue string
	// UnreachableAfter is how long a spawn may go without a ping.
	UnreachableAfter time.Duration
	// Namespace is the Temporal namespace of raw workflow-service calls
	// (the server's own, resolved by the caller).
	Namespace string
	// Catalog checks cloud compute environments with their provider; nil
	// refuses them (EUNAVAILABLE).
	Catalog CloudCatalog
	// Clouds checks cloud credentials with their provider.
	Clouds *cloud.Registry
}

// temporalUnavailable is the answer when the server has no Temporal client.
func temporalUnavailable(what string) error {
	return domain.Errorf(domain.EUNAVAILABLE, "cannot %s: Temporal is not configured on this server", what)
}

// detached bounds a compensating call that must run even though the
// request that caused it has ended.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), temporalCallTimeout)
}

var log = logging.From
