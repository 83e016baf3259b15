package executor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"daestro/agent/executor"
	"daestro/internal/testenv"
)

// startRegistry runs a registry with htpasswd auth in the test process and
// returns its host:port. It listens on 127.0.0.1, not localhost: the engine
// speaks plain HTTP only to 127.0.0.0/8, its default insecure range.
func startRegistry(t *testing.T, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	require.NoError(t, err)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	require.NoError(t, os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600))
	cfg, err := configuration.Parse(strings.NewReader(fmt.Sprintf(`
version: 0.1
log:
  level: error
storage:
  inmemory: {}
  maintenance:
    uploadpurging:
      enabled: false
http:
  secret: daestro-test
auth:
  htpasswd:
    realm: daestro-test
    path: %s
`, htpasswd)))
	require.NoError(t, err)
	// The registry logs every request through logrus's global logger;
	// the test asserts on what the engine and the executor report instead.
	logrus.SetOutput(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(handlers.NewApp(ctx, cfg))
	t.Cleanup(func() { srv.Close(); cancel() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// readStream reads an engine progress stream to its end: errors come inside.
func readStream(body io.ReadCloser, err error) error {
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var msg jsonmessage.JSONMessage
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != nil {
			return msg.Error
		}
	}
}

// untagRepo removes every tag and digest reference of host's repositories
// from the local images (the test image itself stays: it keeps its own tag).
func untagRepo(t *testing.T, cli *client.Client, host string) {
	t.Helper()
	imgs, err := cli.ImageList(context.Background(), image.ListOptions{All: true})
	require.NoError(t, err)
	for _, img := range imgs {
		for _, ref := range append(img.RepoTags, img.RepoDigests...) {
			if strings.HasPrefix(ref, host+"/") {
				// Untagging a repository's last tag drops its digest too.
				if _, err := cli.ImageRemove(context.Background(), ref, image.RemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
					t.Logf("untag %s: %v", ref, err)
				}
			}
		}
	}
}

func TestPullFromAPrivateRegistryWithCredentials(t *testing.T) {
	t.Parallel()
	e, cli := engine(t, executor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	host := startRegistry(t, "alice", "s3cret")
	ref := host + "/test/busybox:1"
	right := &executor.RegistryAuth{ServerAddress: host, Username: "alice", Password: "s3cret"}
	t.Cleanup(func() { untagRepo(t, cli, host) })

	require.NoError(t, cli.ImageTag(ctx, testenv.TestImage(), ref))
	auth, err := registry.EncodeAuthConfig(registry.AuthConfig{ServerAddress: host, Username: "alice", Password: "s3cret"})
	require.NoError(t, err)
	require.NoError(t, readStream(cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: auth})))
	untagRepo(t, cli, host)

	_, err = e.Pull(ctx, ref, &executor.RegistryAuth{ServerAddress: host, Username: "bob", Password: "wrong"})
	require.ErrorIs(t, err, executor.ErrRegistryAuth)
	t.Logf("wrong credentials: %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("registry %s rejected the credentials for user %q", host, "bob"))
	assert.NotContains(t, err.Error(), "wrong", "never the password")

	_, err = e.Pull(ctx, ref, nil)
	require.ErrorIs(t, err, executor.ErrRegistryAuth, "anonymous pulls are refused too")
	t.Logf("no credentials: %v", err)

	_, err = e.Pull(ctx, host+"/test/nothing-here:1", right)
	require.ErrorIs(t, err, executor.ErrImageNotFound)
	t.Logf("missing image: %v", err)

	digest, err := e.Pull(ctx, ref, right)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(digest, host+"/test/busybox@sha256:"), "pinned by the registry's digest, got %q", digest)

	// Run pulls too: untag again so it has to.
	untagRepo(t, cli, host)
	spec := newSpec(t, cli, "echo", "from the registry")
	spec.Image, spec.Registry = ref, right
	s := newSink()
	res, err := e.Run(ctx, spec, s, executor.Cursor{}, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, digest, res.ImageDigest)
	assert.Equal(t, []string{"from the registry"}, s.texts("stdout"))

	// A run with wrong credentials fails before creating anything.
	untagRepo(t, cli, host)
	bad := newSpec(t, cli, "true")
	bad.Image, bad.Registry = ref, &executor.RegistryAuth{ServerAddress: host, Username: "alice", Password: "old"}
	_, err = e.Run(ctx, bad, s, executor.Cursor{}, nil)
	require.ErrorIs(t, err, executor.ErrRegistryAuth)
	assert.Equal(t, 0, countRunContainers(t, cli, bad.RunID))
}
