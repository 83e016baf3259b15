package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
)

// Every provider the API accepts opens in the server's and the worker's
// registry, AWS included when its cloud auth has no default region.
func TestCloudRegistryOpensEveryProvider(t *testing.T) {
	r := cloudRegistry()
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
