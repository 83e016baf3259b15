package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Pull pulls ref from its registry, authenticated when auth is given, within
// DefaultPullTimeout (or ctx's deadline, if sooner), and returns the digest
// that pins it (see Result.ImageDigest). Errors wrap ErrRegistryAuth or
// ErrImageNotFound when the registry said so.
func (e *Executor) Pull(ctx context.Context, ref string, auth *RegistryAuth) (string, error) {
	if err := e.pull(ctx, ref, auth, DefaultPullTimeout); err != nil {
		return "", err
	}
	return e.digestOf(ctx, ref, ref), nil
}

// ensureImage makes spec.Image available locally. The policy is Kubernetes'
// default: a pinned reference (a tag other than "latest", or a digest)
// already on the engine is used as is, since pulling it again would fetch
// the same thing; "latest" is pulled every time so a new push is picked up.
// When that pull fails but a local copy exists, the run goes on with the
// local copy (and a warning): an unreachable registry, or an image that was
// only ever built or loaded on this host, must not fail a run that can run.
// Rejected credentials still fail: a rotated password is something the user
// has to fix, and silently running a stale image would hide it.
func (e *Executor) ensureImage(ctx context.Context, spec Spec) error {
	named, err := reference.ParseNormalizedNamed(spec.Image)
	if err != nil {
		return fmt.Errorf("%w: image %q is not a valid reference: %v", ErrInvalidSpec, spec.Image, err)
	}
	_, present, err := e.inspectImage(ctx, spec.Image)
	if err != nil {
		return err
	}
	_, pinnedByDigest := named.(reference.Digested)
	tagged, _ := reference.TagNameOnly(named).(reference.Tagged)
	if present && (pinnedByDigest || (tagged != nil && tagged.Tag() != "latest")) {
		return nil
	}
	err = e.pull(ctx, spec.Image, spec.Registry, spec.PullTimeout)
	if err == nil || !present || ctx.Err() != nil || (spec.Registry != nil && errors.Is(err, ErrRegistryAuth)) {
		return err
	}
	e.log.Warn("image pull failed, running the local copy", "run_id", spec.RunID, "image", spec.Image, "error", err)
	return nil
}

// pull runs one ImagePull to the end of its progress stream: the engine
// reports most failures inside the stream, after a 200 OK.
func (e *Executor) pull(ctx context.Context, ref string, auth *RegistryAuth, timeout time.Duration) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("%w: image %q is not a valid reference: %v", ErrInvalidSpec, ref, err)
	}
	var opts image.PullOptions
	if auth != nil {
		opts.RegistryAuth, err = registry.EncodeAuthConfig(registry.AuthConfig{
			ServerAddress: auth.ServerAddress, Username: auth.Username, Password: auth.Password,
		})
		if err != nil {
			return fmt.Errorf("encode registry credentials: %w", err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = e.readPull(pctx, ref, opts)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("pull of %s did not finish within %s: the registry is slow or the image is large; raise the pull timeout: %w",
			ref, humanDuration(timeout), err)
	}
	return classifyPullError(ref, reference.Domain(named), auth, err)
}

func (e *Executor) readPull(ctx context.Context, ref string, opts image.PullOptions) error {
	body, err := e.docker.ImagePull(ctx, ref, opts)
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
			return fmt.Errorf("read pull progress: %w", err)
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
	}
}

// classifyPullError gives the engine's message a sentence a user can act on
// and a kind the caller can test. The engine reports registry answers as
// text (often inside the stream, without a status code), so the kinds are
// recognised by the registry protocol's error words.
func classifyPullError(ref, host string, auth *RegistryAuth, err error) error {
	msg := strings.ToLower(err.Error())
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
	switch {
	case auth != nil && (cerrdefs.IsUnauthorized(err) || has("unauthorized", "authentication required", "incorrect username or password", "denied")):
		return &kindError{kind: ErrRegistryAuth, cause: err,
			msg: fmt.Sprintf("registry %s rejected the credentials for user %q pulling %s: check the registry auth's username and password (%v)", host, auth.Username, ref, err)}
	case auth == nil && (cerrdefs.IsUnauthorized(err) || has("unauthorized", "authentication required", "no basic auth credentials", "pull access denied")):
		return &kindError{kind: ErrRegistryAuth, cause: err,
			msg: fmt.Sprintf("registry %s refused an anonymous pull of %s: the image does not exist or needs a registry auth on the job definition (%v)", host, ref, err)}
	case cerrdefs.IsNotFound(err) || has("manifest unknown", "not found", "name unknown"):
		return &kindError{kind: ErrImageNotFound, cause: err,
			msg: fmt.Sprintf("image %s was not found on registry %s: check the name and tag (%v)", ref, host, err)}
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}

// kindError is an error with a user-facing sentence that matches both its
// kind (errors.Is(err, ErrRegistryAuth)) and the engine's error underneath.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.cause} }

// inspectImage reports whether ref exists on the engine.
func (e *Executor) inspectImage(ctx context.Context, ref string) (image.InspectResponse, bool, error) {
	img, err := e.docker.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return img, true, nil
	case cerrdefs.IsNotFound(err):
		return img, false, nil
	default:
		return img, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

// digestOf pins the image id (an ID or a reference): the repo digest of ref's
// repository when the image came from a registry, else its local ID. A
// failure only costs the pin, never the run, so it returns "" then.
func (e *Executor) digestOf(ctx context.Context, id, ref string) string {
	img, ok, err := e.inspectImage(ctx, id)
	if err != nil || !ok {
		return ""
	}
	want, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return img.ID
	}
	for _, d := range img.RepoDigests {
		if got, err := reference.ParseNormalizedNamed(d); err == nil && got.Name() == want.Name() {
			return d
		}
	}
	return img.ID
}
