package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"daestro/internal/domain"
)

func TestSecretMasker(t *testing.T) {
	m := domain.NewSecretMasker([]string{"hunter2-token", "hunter2", "ab", "hunter2"})
	tests := []struct{ in, want string }{
		{"token=hunter2-token!", "token=***!"},
		{"pw hunter2 and hunter2", "pw *** and ***"},
		{"ab stays: too short to mask", "ab stays: too short to mask"},
		{"nothing secret", "nothing secret"},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, m.Mask(tt.in), tt.in)
	}
	assert.Equal(t, "as is", domain.NewSecretMasker(nil).Mask("as is"))
	assert.ElementsMatch(t, []string{"s1-def", "s2-job"}, domain.SensitiveValues(
		domain.Env{"A": {Value: "s1-def", Sensitive: true}, "B": {Value: "plain"}},
		domain.Env{"C": {Value: "s2-job", Sensitive: true}, "D": {Value: "", Sensitive: true}}))
}

func TestCheckImageRegistry(t *testing.T) {
	tests := []struct {
		image, registry string
		ok              bool
	}{
		{"ghcr.io/acme/etl:1", "ghcr.io", true},
		{"ghcr.io/acme/etl:1", "ghcr.io/acme", true},
		{"GHCR.io/acme/etl:1", "ghcr.io", true},
		{"busybox:1", "", true},
		{"library/busybox", "docker.io", true},
		{"docker.io/acme/x", "index.docker.io", true},
		{"registry.example.com:5000/x", "registry.example.com:5000", true},
		{"registry.example.com/x", "registry.example.com:5000", false},
		{"evil.example.com/acme/etl:1", "ghcr.io", false},
		{"busybox:1", "ghcr.io", false},
		{"ghcr.io/acme/etl:1", "", false},
	}
	for _, tt := range tests {
		err := domain.CheckImageRegistry(tt.image, "gh", tt.registry)
		if tt.ok {
			assert.NoError(t, err, "%s with %q", tt.image, tt.registry)
			continue
		}
		assert.Equal(t, domain.ECONFLICT, domain.ErrorCode(err), "%s with %q", tt.image, tt.registry)
		assert.Contains(t, domain.ErrorMessage(err), "nothing was sent", tt.image)
	}
}
