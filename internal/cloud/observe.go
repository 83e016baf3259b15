package cloud

import (
	"context"

	"github.com/docker/docker/client"
)

// Observer is told of every call of a provider's API: which provider,
// which operation, and its error (nil when it succeeded).
type Observer func(provider, op string, err error)

// Observe has every provider the registry opens (and every credential
// check) report its calls to obs: the metrics' cloud API counters.
func (r *Registry) Observe(obs Observer) { r.observer = obs }

// observed wraps p so each call reports to obs; an EngineOwner stays one.
func observed(p Provider, provider string, obs Observer) Provider {
	o := observedProvider{p: p, provider: provider, obs: obs}
	if eo, ok := p.(EngineOwner); ok {
		return observedEngineOwner{observedProvider: o, engine: eo}
	}
	return o
}

// observedProvider reports each call of p.
type observedProvider struct {
	p        Provider
	provider string
	obs      Observer
}

var _ Provider = observedProvider{}

func (o observedProvider) ValidateCredentials(ctx context.Context) error {
	err := o.p.ValidateCredentials(ctx)
	o.obs(o.provider, "validate_credentials", err)
	return err
}

func (o observedProvider) Account(ctx context.Context) (Account, error) {
	a, err := o.p.Account(ctx)
	o.obs(o.provider, "account", err)
	return a, err
}

func (o observedProvider) Regions(ctx context.Context) ([]Region, error) {
	r, err := o.p.Regions(ctx)
	o.obs(o.provider, "regions", err)
	return r, err
}

func (o observedProvider) InstanceTypes(ctx context.Context, region string) ([]InstanceType, error) {
	r, err := o.p.InstanceTypes(ctx, region)
	o.obs(o.provider, "instance_types", err)
	return r, err
}

func (o observedProvider) CreateInstance(ctx context.Context, req CreateRequest) (Instance, error) {
	r, err := o.p.CreateInstance(ctx, req)
	o.obs(o.provider, "create_instance", err)
	return r, err
}

func (o observedProvider) Instance(ctx context.Context, id string) (Instance, error) {
	r, err := o.p.Instance(ctx, id)
	o.obs(o.provider, "get_instance", err)
	return r, err
}

func (o observedProvider) DeleteInstance(ctx context.Context, id string) error {
	err := o.p.DeleteInstance(ctx, id)
	o.obs(o.provider, "delete_instance", err)
	return err
}

func (o observedProvider) ListInstancesByTag(ctx context.Context, tag string) ([]Instance, error) {
	r, err := o.p.ListInstancesByTag(ctx, tag)
	o.obs(o.provider, "list_instances", err)
	return r, err
}

// observedEngineOwner is an observed provider that keeps its engine.
type observedEngineOwner struct {
	observedProvider
	engine EngineOwner
}

var _ EngineOwner = observedEngineOwner{}

func (o observedEngineOwner) Engine() *client.Client { return o.engine.Engine() }
