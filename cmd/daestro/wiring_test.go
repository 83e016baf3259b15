package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/config"
)

// Every provider the API accepts opens in the server's and the worker's
// registry, AWS included when its cloud auth has no default region.
func TestCloudRegistryOpensEveryProvider(t *testing.T) {
	r := cloudRegistry(config.Config{EnableLocalDocker: true}, nil)
	creds := map[string]cloud.Credentials{
		cloud.AWS:          {AccessKeyID: "AKIAEXAMPLEEXAMPLE", SecretAccessKey: "secret"},
		cloud.DigitalOcean: {AccessToken: "dop_v1_x"},
		cloud.Linode:       {AccessToken: "x"},
		cloud.Vultr:        {AccessToken: "x"},
		cloud.LocalDocker:  {},
	}
	for _, name := range cloud.Providers {
		p, err := r.Open(name, creds[name], "")
		require.NoError(t, err, name)
		require.NotNil(t, p, name)
	}
}

// Without the operator's say-so localdocker is refused with a sentence
// that says how to allow it, by the API and the worker alike.
func TestLocalDockerIsOffOutsideDev(t *testing.T) {
	r := cloudRegistry(config.Config{}, nil)
	_, err := r.Open(cloud.LocalDocker, cloud.Credentials{}, "")
	require.ErrorContains(t, err, "localdocker is off on this server")
	require.ErrorContains(t, err, "DAESTRO_ENABLE_LOCALDOCKER=true")
	_, err = r.Validate(context.Background(), cloud.LocalDocker, cloud.Credentials{}, "")
	require.ErrorContains(t, err, "localdocker is off on this server")
}

// The worker warns at start when cloud compute environments would run an
// agent image of no fixed version.
func TestUnpinnedAgentImageIsWarnedAbout(t *testing.T) {
	for image, warned := range map[string]bool{
		"daestro-agent":                          true,
		"daestro-agent:latest":                   true,
		"ghcr.io/acme/daestro-agent:latest":      true,
		"registry:5000/daestro-agent":            true,
		"registry:5000/daestro-agent:1.4.2":      false,
		"ghcr.io/acme/daestro-agent@sha256:abcd": false,
		"daestro-agent:test":                     false,
	} {
		w := unpinnedAgentImage(image)
		assert.Equal(t, warned, w != "", image)
		if warned {
			assert.Contains(t, w, "DAESTRO_AGENT_IMAGE="+image)
		}
	}
}
