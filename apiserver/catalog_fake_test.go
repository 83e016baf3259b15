package apiserver_test

import (
	"context"
	"errors"
	"slices"

	"daestro/internal/cloud"
)

// fixedCatalog is a cloud.Provider with a fixed, in-memory catalog, for test
// servers whose tests create cloud compute environments without being about
// any provider: the API checks every cloud environment's region and instance
// type with the provider. It cannot create machines.
type fixedCatalog struct{}

var _ cloud.Provider = fixedCatalog{}

// fixedRegions and fixedTypes are what every provider of catalogClouds
// offers: the regions and types the tests' cloud environments use.
var (
	fixedRegions = []cloud.Region{
		{ID: "us-east-1", Name: "US East (N. Virginia)"}, {ID: "eu-west-1", Name: "Europe (Ireland)"},
		{ID: "fra1", Name: "Frankfurt 1"}, {ID: "nyc3", Name: "New York 3"}, {ID: "local", Name: "This machine"},
	}
	fixedTypes = []cloud.InstanceType{
		{ID: "t3.small", VCPU: 2, MemoryMB: 2048, HourlyPrice: 0.0208},
		{ID: "t3.large", VCPU: 2, MemoryMB: 8192, HourlyPrice: 0.0832},
		{ID: "s-2vcpu-4gb", VCPU: 2, MemoryMB: 4096, HourlyPrice: 0.03571},
		{ID: "s-8vcpu-16gb", VCPU: 8, MemoryMB: 16384, HourlyPrice: 0.14286},
	}
)

// catalogClouds is a registry wiring fixedCatalog for every provider.
func catalogClouds() *cloud.Registry {
	reg := cloud.NewRegistry()
	for _, p := range cloud.Providers {
		reg.Register(p, func(cloud.Credentials, string) (cloud.Provider, error) { return fixedCatalog{}, nil })
	}
	return reg
}

var errFixedCatalog = errors.New("the test catalog provider creates no machines")

func (fixedCatalog) ValidateCredentials(context.Context) error { return nil }

// fixedAccount is the account every fixedCatalog's credentials belong to.
const fixedAccount = "000011112222"

func (fixedCatalog) Account(context.Context) (cloud.Account, error) {
	return cloud.Account{ID: fixedAccount}, nil
}

func (fixedCatalog) Regions(context.Context) ([]cloud.Region, error) {
	return slices.Clone(fixedRegions), nil
}

func (fixedCatalog) InstanceTypes(context.Context, string) ([]cloud.InstanceType, error) {
	return slices.Clone(fixedTypes), nil
}

func (fixedCatalog) CreateInstance(context.Context, cloud.CreateRequest) (cloud.Instance, error) {
	return cloud.Instance{}, errFixedCatalog
}

func (fixedCatalog) Instance(context.Context, string) (cloud.Instance, error) {
	return cloud.Instance{}, errFixedCatalog
}

func (fixedCatalog) DeleteInstance(context.Context, string) error { return errFixedCatalog }

func (fixedCatalog) ListInstancesByTag(context.Context, string) ([]cloud.Instance, error) {
	return nil, nil
}
