// Package cloud speaks to cloud providers. The Registry maps a provider name
// to the factory of its implementation; a provider without one says so
// instead of pretending success.
package cloud

import (
	"context"
	"errors"
	"fmt"

	"daestro/internal/domain"
)

// Provider names as they appear in the API and the database.
const (
	AWS          = "aws"
	DigitalOcean = "digitalocean"
	Linode       = "linode"
	Vultr        = "vultr"
	// LocalDocker is the local Docker engine: an "instance" is an agent
	// container. It serves `daestro dev`, demos and end-to-end tests.
	LocalDocker = "localdocker"
)

// Providers lists every supported provider.
var Providers = []string{AWS, DigitalOcean, Linode, Vultr, LocalDocker}

// DisplayName is the provider's name as users write it.
func DisplayName(provider string) string {
	switch provider {
	case AWS:
		return "AWS"
	case DigitalOcean:
		return "DigitalOcean"
	case Linode:
		return "Linode"
	case Vultr:
		return "Vultr"
	case LocalDocker:
		return "the local Docker engine"
	}
	return provider
}

// Credentials for one provider account. AWS uses the key pair, the others the token.
type Credentials struct {
	// AccessKeyID and SecretAccessKey are AWS's.
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	// AccessToken is DigitalOcean's, Linode's or Vultr's.
	AccessToken string `json:"access_token,omitempty"`
}

// CredentialValidator checks credentials against the provider. It returns a
// domain EINVALID error when the provider rejects them.
type CredentialValidator interface {
	ValidateCredentials(ctx context.Context, creds Credentials, region string) error
}

// Factory builds the Provider of one account from its credentials; region
// is the account's default region (AWS clients are bound to one).
type Factory func(creds Credentials, region string) (Provider, error)

// Validation statuses reported to the user.
const (
	ValidationValid       = "valid"
	ValidationUnavailable = "unavailable"
)

// Validation says what the provider made of a cloud auth's credentials.
type Validation struct {
	// Status is "valid" or "unavailable".
	Status string `json:"status"`
	// Message explains the status.
	Message string `json:"message"`
	// Account is the provider account the credentials belong to; its ID
	// is empty when the provider was not asked (status unavailable, or a
	// validator that does not tell). It is recorded with the cloud auth,
	// not shown here.
	Account Account `json:"-"`
}

// Registry holds the provider implementations.
type Registry struct {
	validators map[string]CredentialValidator
	factories  map[string]Factory
	// refused are providers the operator turned off, with the sentence that says how to turn them on.
	refused map[string]string
	// observer, when set, is told of every provider call (Observe).
	observer Observer
}

// NewRegistry returns a registry with no providers wired yet.
func NewRegistry() *Registry {
	return &Registry{validators: map[string]CredentialValidator{}, factories: map[string]Factory{}, refused: map[string]string{}}
}

// Refuse turns provider off: opening or validating it fails with reason
// (a domain EINVALID error), so nothing is stored for it either.
func (r *Registry) Refuse(provider, reason string) {
	delete(r.factories, provider)
	delete(r.validators, provider)
	r.refused[provider] = reason
}

// SetValidator wires a credential check of provider that overrides the
// factory's provider's ValidateCredentials.
func (r *Registry) SetValidator(provider string, v CredentialValidator) { r.validators[provider] = v }

// Register wires the factory of provider.
func (r *Registry) Register(provider string, f Factory) { r.factories[provider] = f }

// Open returns the Provider of one account. A provider without a factory is
// a domain EUNAVAILABLE error naming it.
func (r *Registry) Open(provider string, creds Credentials, region string) (Provider, error) {
	if reason, ok := r.refused[provider]; ok {
		return nil, domain.Errorf(domain.EINVALID, "%s", reason)
	}
	f, ok := r.factories[provider]
	if !ok {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "%s is not configured on this daestro server", DisplayName(provider))
	}
	p, err := f(creds, region)
	if err != nil || r.observer == nil {
		return p, err
	}
	return observed(p, provider, r.observer), nil
}

// Validate checks creds with the provider. Rejected credentials are a domain
// EINVALID error, a provider that could not answer EUNAVAILABLE; a provider
// with neither validator nor factory yields status "unavailable", never "valid".
func (r *Registry) Validate(ctx context.Context, provider string, creds Credentials, region string) (Validation, error) {
	if reason, ok := r.refused[provider]; ok {
		return Validation{}, domain.Errorf(domain.EINVALID, "provider: %s", reason)
	}
	if v, ok := r.validators[provider]; ok {
		err := v.ValidateCredentials(ctx, creds, region)
		if r.observer != nil {
			r.observer(provider, "validate_credentials", err)
		}
		if err != nil {
			return Validation{}, err
		}
		return Validation{Status: ValidationValid, Message: DisplayName(provider) + " accepted the credentials"}, nil
	}
	if _, ok := r.factories[provider]; !ok {
		return Validation{Status: ValidationUnavailable, Message: fmt.Sprintf("validation not available for %s: the credentials were stored unchecked", provider)}, nil
	}
	p, err := r.Open(provider, creds, region)
	if err != nil {
		return Validation{}, domain.Errorf(domain.EINVALID, "%s", err.Error())
	}
	if err := p.ValidateCredentials(ctx); err != nil {
		return Validation{}, UserError(provider, "check the credentials", err)
	}
	acct, err := p.Account(ctx)
	if err != nil {
		return Validation{}, UserError(provider, "read the credentials' account", err)
	}
	return Validation{Status: ValidationValid, Message: DisplayName(provider) + " accepted the credentials", Account: acct}, nil
}

// Account asks the provider which account creds belong to, without the
// rest of Validate's checks (for keys stored before daestro recorded
// accounts). Errors are domain errors, as Validate's.
func (r *Registry) Account(ctx context.Context, provider string, creds Credentials, region string) (Account, error) {
	p, err := r.Open(provider, creds, region)
	if err != nil {
		return Account{}, err
	}
	acct, err := p.Account(ctx)
	if err != nil {
		return Account{}, UserError(provider, "read the credentials' account", err)
	}
	return acct, nil
}

// UserError turns a provider error into a domain error for the API: rejected
// credentials, quota and bad requests are the user's to fix (EINVALID), the
// rest EUNAVAILABLE. what says what daestro tried ("list regions").
func UserError(provider, what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrInvalid), errors.Is(err, ErrQuota):
		return domain.Errorf(domain.EINVALID, "%s", err.Error())
	case errors.Is(err, ErrNotFound):
		return domain.Errorf(domain.ENOTFOUND, "%s", err.Error())
	default:
		return domain.Errorf(domain.EUNAVAILABLE, "could not %s with %s: %s", what, DisplayName(provider), err.Error())
	}
}
