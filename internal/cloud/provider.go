package cloud

import (
	"context"
	"errors"

	"github.com/docker/docker/client"
)

// Provider is what daestro needs from one cloud account: enough to start an
// agent machine, watch it come up, find it again by tag and tear it down.
// Implementations retry throttling and server errors themselves, so an error
// returned from any method is final for that call; callers decide what to do
// from its class (errors.Is with ErrUnauthorized, ErrQuota, ErrCapacity,
// ErrNotFound, ErrUnavailable).
type Provider interface {
	// ValidateCredentials checks that the provider accepts the account's
	// credentials; a rejection is ErrUnauthorized.
	ValidateCredentials(ctx context.Context) error
	// Account names the provider account the credentials belong to, so a
	// key change can be checked to stay in the same account (machines are
	// visible only to keys of the account that created them).
	Account(ctx context.Context) (Account, error)
	// Regions lists the regions the account can create machines in.
	Regions(ctx context.Context) ([]Region, error)
	// InstanceTypes lists the machine types available in region.
	InstanceTypes(ctx context.Context, region string) ([]InstanceType, error)
	// CreateInstance starts a machine; it returns once the provider accepted
	// the request, usually while the machine is still pending.
	CreateInstance(ctx context.Context, req CreateRequest) (Instance, error)
	// Instance returns the current state of the machine with id; a machine
	// that no longer exists is ErrNotFound.
	Instance(ctx context.Context, id string) (Instance, error)
	// DeleteInstance destroys the machine with id. Deleting a machine that is
	// already gone succeeds, so cleanup can be retried blindly.
	DeleteInstance(ctx context.Context, id string) error
	// ListInstancesByTag lists the machines carrying tag, which is how daestro
	// finds machines it started even after losing their ids.
	ListInstancesByTag(ctx context.Context, tag string) ([]Instance, error)
}

// EngineOwner is a Provider whose machines run their containers on a Docker
// engine the control plane reaches itself (localdocker). A run whose agent
// was lost for good can still be followed to its real end there, its last
// logs read and its container removed; on any other provider the engine is
// reachable only through the machine's agent.
type EngineOwner interface {
	Provider
	// Engine is the Docker engine the provider's machines run containers on.
	Engine() *client.Client
}

// Account is the provider account a set of credentials belongs to.
type Account struct {
	// ID identifies the account and stays the same for every key of it:
	// AWS's 12-digit account ID, DigitalOcean's account UUID, Linode's
	// euuid, Vultr's account email (its API shows no account ID), the
	// local Docker engine's ID.
	ID string
	// Name is a label for people (an ARN, an email), may be empty.
	Name string
}

// Region is a place machines can be created in.
type Region struct {
	// ID is the provider's region identifier, e.g. "nyc3".
	ID string
	// Name is the human-readable name, e.g. "New York 3".
	Name string
}

// InstanceType is a machine shape with its price, the inputs of placement.
type InstanceType struct {
	// ID is the provider's type identifier, e.g. "s-2vcpu-4gb".
	ID string
	// VCPU is the number of virtual CPUs.
	VCPU int
	// MemoryMB is the memory in mebibytes.
	MemoryMB int
	// HourlyPrice is the on-demand price in US dollars per hour.
	HourlyPrice float64
}

// CreateRequest describes the machine to start.
type CreateRequest struct {
	// Name is the machine's name at the provider.
	Name string
	// Region is a Region.ID.
	Region string
	// InstanceType is an InstanceType.ID.
	InstanceType string
	// UserData is the cloud-init script, plain text; providers that want
	// base64 encode it themselves.
	UserData string
	// Tags are attached to the machine so ListInstancesByTag finds it.
	Tags []string
	// SSHPublicKey is an OpenSSH authorized_keys line, optional; providers
	// that only take registered keys register it first.
	SSHPublicKey string
	// Agent is what UserData starts, in structured form, for providers
	// whose machines run no cloud-init (localdocker starts the agent
	// container directly). Cloud providers ignore it.
	Agent AgentLaunch
}

// AgentLaunch is the agent container a new machine runs.
type AgentLaunch struct {
	// Image is the agent's Docker image.
	Image string
	// Env is the agent container's environment (token and server URL).
	Env map[string]string
}

// Instance statuses, normalized across providers.
const (
	StatusPending     = "pending"
	StatusRunning     = "running"
	StatusTerminating = "terminating"
	StatusTerminated  = "terminated"
)

// Instance is a machine as the provider reports it.
type Instance struct {
	// ID is the provider's machine identifier.
	ID string
	// Status is one of the Status* constants.
	Status string
	// PublicIPv4 is empty until the provider assigned one.
	PublicIPv4 string
	// PublicIPv6 is empty when the machine has none.
	PublicIPv6 string
	// Tags are the machine's tags.
	Tags []string
}

// Error classes. Test with errors.Is; the error's message is written for the
// user and says what to do.
var (
	// ErrUnauthorized means the provider rejected the credentials; retrying
	// cannot help until the user fixes them.
	ErrUnauthorized = errors.New("cloud: credentials rejected")
	// ErrQuota means an account limit was reached; permanent until the user
	// raises the limit or frees resources.
	ErrQuota = errors.New("cloud: account limit reached")
	// ErrCapacity means the provider cannot supply this type in this region
	// right now; try another type or region.
	ErrCapacity = errors.New("cloud: no capacity")
	// ErrNotFound means the resource does not exist.
	ErrNotFound = errors.New("cloud: not found")
	// ErrInvalid means the provider refused the request as malformed (an
	// unknown region or size, say); permanent.
	ErrInvalid = errors.New("cloud: request rejected")
	// ErrUnavailable means the provider kept throttling or failing after the
	// bounded retries; worth trying again later.
	ErrUnavailable = errors.New("cloud: provider unavailable")
)

// Error is a classified provider error: Kind is one of the Err* classes and
// Message a sentence the user can act on; Err keeps the SDK's error for logs.
type Error struct {
	// Kind is the class, matched by errors.Is.
	Kind error
	// Message is shown to the user.
	Message string
	// Err is the underlying SDK error, may be nil.
	Err error
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Message }

// Unwrap exposes both the class and the SDK error to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}
