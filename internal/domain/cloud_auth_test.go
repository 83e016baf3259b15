package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"daestro/internal/domain"
)

func TestValidateCloudCredentials(t *testing.T) {
	const token = "dop_v1_0123456789abcdef"
	tests := []struct {
		provider, keyID, secret, token string
		want                           string // "" means valid
	}{
		{"aws", "AKIAIOSFODNN7EXAMPLE", "s", "", ""},
		{"aws", "", "s", "", "access_key_id: required for aws"},
		{"aws", "AKIAIOSFODNN7EXAMPLE", "s", token, "access_token: aws uses access_key_id and secret_access_key"},
		{"digitalocean", "", "", token, ""},
		{"vultr", "", "", "", "access_token: required for vultr"},
		{"linode", "AKIAIOSFODNN7EXAMPLE", "", token, "access_key_id/secret_access_key: linode uses access_token"},
		{"localdocker", "", "", "", ""},
		{"localdocker", "", "", token, "access_token: localdocker takes no credentials (it uses the Docker engine of the daestro worker); leave access_token out"},
		{"localdocker", "AKIAIOSFODNN7EXAMPLE", "", "", "access_key_id: localdocker takes no credentials"},
		{"localdocker", "", "s", "", "secret_access_key: localdocker takes no credentials"},
		{"gcp", "", "", token, `provider: "gcp" is not one of aws, digitalocean, linode, vultr, localdocker`},
		{"", "", "", "", `provider: "" is not one of`},
	}
	for _, tt := range tests {
		err := domain.ValidateCloudCredentials(tt.provider, tt.keyID, tt.secret, tt.token)
		if tt.want == "" {
			assert.NoError(t, err, tt.provider)
			continue
		}
		if assert.Error(t, err, tt.provider) {
			assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
			assert.Contains(t, err.Error(), tt.want)
		}
	}
}
