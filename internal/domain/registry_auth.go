package domain

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// RegistryAuth is the credentials for one container registry, used by docker
// job definitions whose image is private. It is immutable: changing
// credentials means creating a new one and pointing definitions at it, so a
// running job never sees its credentials change under it. The password never
// leaves the store; PasswordHint shows which one it is.
type RegistryAuth struct {
	// ID is a UUID v7.
	ID string `json:"id"`
	// Name is unique within the project.
	Name string `json:"name"`
	// RegistryURL is host[:port][/path] without a scheme; "" means Docker Hub.
	RegistryURL string `json:"registry_url"`
	// Username goes with the password; "" when the registry needs no login.
	Username string `json:"username"`
	// PasswordHint masks the password or token, e.g. "…WXYZ"; "" when there is none.
	PasswordHint string `json:"password_hint"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RegistryAuthInput creates a registry auth.
type RegistryAuthInput struct {
	// Name is unique within the project.
	Name string `json:"name"`
	// RegistryURL is host[:port][/path], optionally with https://; "" means Docker Hub.
	RegistryURL string `json:"registry_url"`
	// Username and Password are given together or not at all.
	Username string `json:"username"`
	// Password is a password or an access token; stored encrypted.
	Password string `json:"password"`
}

// Limits on registry credentials: generous enough for cloud registries'
// long-lived tokens and JSON keys, small enough to keep junk out.
const (
	maxRegistryUsername = 256
	maxRegistryPassword = 16 << 10
	maxRegistryURL      = 512
)

// registryURLRE is host[:port] as image references spell it (so the agent can
// match an image's registry against it), then an optional path.
var registryURLRE = regexp.MustCompile(`^(?:` + reference.DomainRegexp.String() + `)(?:/[A-Za-z0-9._-]+)*$`)

// Normalize validates in and returns it in stored form: the registry URL
// without https:// or a trailing slash and the username trimmed. Every
// error names the field and the rule.
func (in RegistryAuthInput) Normalize() (RegistryAuthInput, error) {
	if err := ValidateName("registry auth", in.Name); err != nil {
		return in, err
	}
	url, err := NormalizeRegistryURL(in.RegistryURL)
	if err != nil {
		return in, err
	}
	in.RegistryURL = url
	in.Username = strings.TrimSpace(in.Username)
	switch {
	case in.RegistryURL == "" && in.Username == "" && in.Password == "":
		return in, Errorf(EINVALID, "registry_url, username and password are all blank: give a registry URL, credentials, or both (a blank registry_url means Docker Hub)")
	case in.Username != "" && in.Password == "":
		return in, Errorf(EINVALID, "password: required with username: registry credentials are a username and a password or token")
	case in.Password != "" && in.Username == "":
		return in, Errorf(EINVALID, "username: required with password: registry credentials are a username and a password or token")
	case len(in.Username) > maxRegistryUsername:
		return in, Errorf(EINVALID, "username: longer than %d characters", maxRegistryUsername)
	case len(in.Password) > maxRegistryPassword:
		return in, Errorf(EINVALID, "password: longer than %d bytes", maxRegistryPassword)
	}
	return in, nil
}

// NormalizeRegistryURL checks a registry URL and returns it as
// host[:port][/path]: https:// and trailing slashes are dropped because
// Docker addresses registries by host. "" (Docker Hub) stays "".
func NormalizeRegistryURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	url := raw
	if len(url) >= len("https://") && strings.EqualFold(url[:len("https://")], "https://") {
		url = url[len("https://"):]
	} else if scheme, _, ok := strings.Cut(url, "://"); ok {
		return "", Errorf(EINVALID, "registry_url: %q: scheme %s:// is not supported: registries are reached over HTTPS; give host[:port][/path], e.g. ghcr.io or registry.example.com:5000", raw, scheme)
	}
	url = strings.TrimRight(url, "/")
	if len(url) > maxRegistryURL || !registryURLRE.MatchString(url) {
		return "", Errorf(EINVALID, "registry_url: %q is not a registry address: give host[:port][/path], e.g. ghcr.io or registry.example.com:5000 (leave it blank for Docker Hub)", raw)
	}
	hostPort, _, _ := strings.Cut(url, "/")
	if i := strings.LastIndex(hostPort, ":"); i > strings.LastIndex(hostPort, "]") {
		if port, err := strconv.Atoi(hostPort[i+1:]); err != nil || port < 1 || port > 65535 {
			return "", Errorf(EINVALID, "registry_url: %q: port must be 1-65535", raw)
		}
	}
	return url, nil
}

// dockerHubHosts are the names Docker Hub goes by; an image without a
// registry in its name is on docker.io.
var dockerHubHosts = []string{"docker.io", "index.docker.io", "registry-1.docker.io"}

// CheckImageRegistry checks that image is on the registry registryURL
// (stored form; "" is Docker Hub) names, so that a registry auth's
// credentials are sent to its own registry only. The error says what to fix.
func CheckImageRegistry(image, authName, registryURL string) error {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return Errorf(EINVALID, "image %q is not a valid image reference", image)
	}
	imageHost := strings.ToLower(reference.Domain(named))
	authHost, _, _ := strings.Cut(strings.ToLower(registryURL), "/")
	hub := func(h string) bool { return h == "" || slices.Contains(dockerHubHosts, h) }
	if imageHost == authHost || (hub(imageHost) && hub(authHost)) {
		return nil
	}
	want := authHost
	if want == "" {
		want = "docker.io (Docker Hub)"
	}
	return Errorf(ECONFLICT, "image %s is on registry %s, but registry auth '%s' is for %s: its credentials are sent only to their own registry, so nothing was sent; point the job definition at a registry auth of %s",
		image, imageHost, authName, want, imageHost)
}
