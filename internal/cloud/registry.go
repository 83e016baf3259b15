// Package cloud speaks to cloud providers. The Registry maps a provider name
// to its implementation; providers without one (all of them, until the cloud
// issue lands the SDK-backed packages) say so instead of pretending success.
package cloud

import (
	"context"
	"fmt"
)

// Provider names as they appear in the API and the database.
const (
	AWS          = "aws"
	DigitalOcean = "digitalocean"
	Linode       = "linode"
	Vultr        = "vultr"
)

// Providers lists every supported provider.
var Providers = []string{AWS, DigitalOcean, Linode, Vultr}

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
}

// Registry holds the provider implementations.
type Registry struct {
	validators map[string]CredentialValidator
}

// NewRegistry returns a registry with no providers wired yet.
func NewRegistry() *Registry { return &Registry{validators: map[string]CredentialValidator{}} }

// SetValidator wires the credential check of provider.
func (r *Registry) SetValidator(provider string, v CredentialValidator) { r.validators[provider] = v }

// Validate checks creds with the provider. Rejected credentials are an error;
// a provider without a validator yields status "unavailable", never "valid".
func (r *Registry) Validate(ctx context.Context, provider string, creds Credentials, region string) (Validation, error) {
	v, ok := r.validators[provider]
	if !ok {
		return Validation{Status: ValidationUnavailable, Message: fmt.Sprintf("validation not available for %s: the credentials were stored unchecked", provider)}, nil
	}
	if err := v.ValidateCredentials(ctx, creds, region); err != nil {
		return Validation{}, err
	}
	return Validation{Status: ValidationValid, Message: DisplayName(provider) + " accepted the credentials"}, nil
}
