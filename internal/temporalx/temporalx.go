// Package temporalx holds the helpers every role uses to reach Temporal
// (dial, health, search attribute registration); the names daestro uses in
// Temporal are in internal/contract.
package temporalx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"daestro/internal/contract"
	"daestro/internal/logging"
)

// SearchAttributes lists every custom search attribute with its type.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	contract.SearchAttrProjectID: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttrJobQueue:  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttrJobState:  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttrSpawnID:   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// Options describe how to reach Temporal.
type Options struct {
	// Address is the frontend host:port.
	Address string
	// Namespace is the namespace daestro's workflows live in.
	Namespace string
	// Logger receives the SDK's own log lines.
	Logger *slog.Logger
	// Base carries how to connect beyond address and namespace: TLS/mTLS,
	// an API key, gRPC headers (from TEMPORAL_TLS_*, TEMPORAL_API_KEY…
	// through the SDK's contrib/envconfig, or the agent's gateway settings).
	Base client.Options
	// Metrics receives the SDK's own metrics (requests, polls, task
	// latencies); nil keeps the SDK's no-op handler.
	Metrics client.MetricsHandler
	// Interceptors are added to the client's (Temporal's tracing interceptor).
	Interceptors []interceptor.ClientInterceptor
}

// clientOptions merges o into its Base.
func (o Options) clientOptions() client.Options {
	c := o.Base
	c.HostPort, c.Namespace, c.Logger = o.Address, o.Namespace, logging.Temporal(o.Logger)
	if o.Metrics != nil {
		c.MetricsHandler = o.Metrics
	}
	c.Interceptors = append(append([]interceptor.ClientInterceptor(nil), c.Interceptors...), o.Interceptors...)
	return c
}

// NewLazyClient returns a client that connects on first use, so a process can
// start (and report "not ready") while Temporal is still coming up.
func NewLazyClient(o Options) (client.Client, error) {
	c, err := client.NewLazyClient(o.clientOptions())
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", o.Address, err)
	}
	return c, nil
}

// Dial connects to Temporal, retrying until ctx ends, so a worker started
// alongside the server waits for it instead of exiting.
func Dial(ctx context.Context, o Options) (client.Client, error) {
	var lastErr error
	for {
		c, err := client.DialContext(ctx, o.clientOptions())
		if err == nil {
			return c, nil
		}
		lastErr = err
		o.Logger.Warn("temporal not reachable yet, retrying", "address", o.Address, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal at %s does not answer: %w (is it running? `scripts/temporal.sh start` starts a dev server)", o.Address, lastErr)
		case <-time.After(2 * time.Second):
		}
	}
}

// CheckHealth reports whether the Temporal frontend answers.
func CheckHealth(ctx context.Context, c client.Client) error {
	_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// EnsureSearchAttributes registers daestro's custom search attributes in the
// namespace when missing. It is idempotent: a persisted dev server ignores
// `--search-attribute` flags, so every worker start calls this instead.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	svc := c.OperatorService()
	have, err := svc.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = svc.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
