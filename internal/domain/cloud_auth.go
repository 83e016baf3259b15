package domain

import (
	"regexp"
	"strings"
	"time"
)

// CloudAuth is one provider account's credentials. The credentials
// themselves never leave the store; CredentialsHint shows which ones they are.
type CloudAuth struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// Name is unique within the project.
	Name string `json:"name"`
	// Provider is aws, digitalocean, linode, vultr or localdocker (the
	// local Docker engine, which takes no credentials).
	Provider string `json:"provider"`
	// DefaultRegion is where AWS calls go when no region is given ("" for others).
	DefaultRegion string `json:"default_region"`
	// CredentialsHint masks the credentials, e.g. "…WXYZ"; empty for localdocker.
	CredentialsHint string `json:"credentials_hint"`
	// AccountID is the provider account the credentials belong to (AWS
	// account ID, DigitalOcean account UUID, Linode euuid, Vultr account
	// email, Docker engine ID); nil while unknown (stored before daestro
	// recorded accounts, or not checked with the provider).
	AccountID *string `json:"account_id"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CloudAuthInput creates a cloud auth.
type CloudAuthInput struct {
	Name            string `json:"name"`
	Provider        string `json:"provider"`
	DefaultRegion   string `json:"default_region"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	AccessToken     string `json:"access_token"`
}

// CloudAuthPatch updates a cloud auth; nil fields stay as they are.
type CloudAuthPatch struct {
	Name            *string `json:"name"`
	DefaultRegion   *string `json:"default_region"`
	AccessKeyID     *string `json:"access_key_id"`
	SecretAccessKey *string `json:"secret_access_key"`
	AccessToken     *string `json:"access_token"`
	// ConfirmAccountChange accepts new keys of another provider account
	// than the old keys': without it such a key change is refused (409),
	// since machines created under the old account can no longer be seen
	// or deleted with the new keys.
	ConfirmAccountChange bool `json:"confirm_account_change"`
}

// ChangesKeys reports whether the patch replaces credentials.
func (p CloudAuthPatch) ChangesKeys() bool {
	return p.AccessKeyID != nil || p.SecretAccessKey != nil || p.AccessToken != nil
}

// CloudProviders are the provider names a cloud auth may have, as in
// cloud.Providers (which this package cannot import).
var CloudProviders = []string{"aws", "digitalocean", "linode", "vultr", "localdocker"}

var (
	awsKeyIDRE  = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	awsRegionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// ValidateCloudCredentials checks the credential fields a provider needs and
// rejects the ones it does not take, naming the field either way.
func ValidateCloudCredentials(provider, accessKeyID, secretAccessKey, accessToken string) error {
	switch provider {
	case "aws":
		if accessToken != "" {
			return Errorf(EINVALID, "access_token: aws uses access_key_id and secret_access_key, not an access token")
		}
		if !awsKeyIDRE.MatchString(accessKeyID) {
			if accessKeyID == "" {
				return Errorf(EINVALID, "access_key_id: required for aws")
			}
			return Errorf(EINVALID, "access_key_id: %q is not an AWS access key id (16-128 uppercase letters and digits, e.g. AKIA…)", accessKeyID)
		}
		if strings.TrimSpace(secretAccessKey) == "" {
			return Errorf(EINVALID, "secret_access_key: required for aws")
		}
	case "digitalocean", "linode", "vultr":
		if accessKeyID != "" || secretAccessKey != "" {
			return Errorf(EINVALID, "access_key_id/secret_access_key: %s uses access_token, not an AWS key pair", provider)
		}
		if strings.TrimSpace(accessToken) == "" {
			return Errorf(EINVALID, "access_token: required for %s", provider)
		}
		if len(accessToken) > 1024 {
			return Errorf(EINVALID, "access_token: longer than 1024 characters")
		}
	case "localdocker":
		// The local Docker engine is reached through the worker's socket:
		// a credential given here would be stored and never used.
		for _, f := range []struct{ name, v string }{{"access_key_id", accessKeyID}, {"secret_access_key", secretAccessKey}, {"access_token", accessToken}} {
			if f.v != "" {
				return Errorf(EINVALID, "%s: localdocker takes no credentials (it uses the Docker engine of the daestro worker); leave %s out", f.name, f.name)
			}
		}
	default:
		return Errorf(EINVALID, "provider: %q is not one of %s", provider, strings.Join(CloudProviders, ", "))
	}
	return nil
}

// ValidateCloudRegion checks default_region: required for aws, absent for others.
func ValidateCloudRegion(provider, region string) error {
	if provider == "aws" {
		if !awsRegionRE.MatchString(region) {
			if region == "" {
				return Errorf(EINVALID, "default_region: required for aws (e.g. us-east-1)")
			}
			return Errorf(EINVALID, "default_region: %q is not an AWS region name like us-east-1", region)
		}
		return nil
	}
	if region != "" {
		return Errorf(EINVALID, "default_region: only aws takes a default region; %s regions are chosen per compute environment", provider)
	}
	return nil
}

// Validate checks a create request.
func (in CloudAuthInput) Validate() error {
	if err := ValidateName("cloud auth", in.Name); err != nil {
		return err
	}
	if err := ValidateCloudCredentials(in.Provider, in.AccessKeyID, in.SecretAccessKey, in.AccessToken); err != nil {
		return err
	}
	return ValidateCloudRegion(in.Provider, in.DefaultRegion)
}
