// Package linode implements cloud.Provider on Linode's official SDK,
// linodego.
//
// linodego is configured so that its behaviour is bounded and testable: its
// response cache is off (regions and types would otherwise be served stale
// for up to 15 minutes), its own retries are off (it retries a 429 up to
// 1000 times, 3–30 s apart) and this package retries instead, with the
// classification in retry.go and the bounds of WithRetry.
package linode

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/linode/linodego"

	"daestro/internal/cloud"
)

// Image is the image daestro agents run on: Ubuntu 24.04 LTS.
const Image = "linode/ubuntu24.04"

// DefaultBaseURL is Linode's public API, without the version path.
const DefaultBaseURL = "https://api.linode.com"

// pageSize is the largest page Linode serves, so listing takes few calls.
const pageSize = 500

// Provider talks to one Linode account.
type Provider struct {
	// client is the linodego client, built without linodego's retries and
	// cache because do() retries with our classification.
	client *linodego.Client
	// token is kept only to fail fast when it is empty.
	token string
	// cfg holds the options.
	cfg config
}

var _ cloud.Provider = (*Provider)(nil)

// config is what the options set.
type config struct {
	// baseURL is the API's scheme and host, without the version path.
	baseURL string
	// retry bounds the throttle retries of one call.
	retry cloud.RetryConfig
	// httpClient is copied into linodego's resty client.
	httpClient *http.Client
}

// Option configures a Provider.
type Option func(*config)

// WithBaseURL points the client at another API endpoint, e.g. a fake in
// tests. The URL is the host part, like DefaultBaseURL; a trailing "/v4" is
// accepted and dropped because linodego appends the version itself.
func WithBaseURL(u string) Option {
	return func(c *config) {
		c.baseURL = strings.TrimSuffix(strings.TrimSuffix(u, "/"), "/v4")
	}
}

// WithRetry bounds the retries of throttled calls (429, "Linode busy."; a
// 5xx or 408 is tried once) as cloud.NewRetryConfig says.
func WithRetry(attempts int, minWait, maxWait time.Duration) Option {
	return func(c *config) { c.retry = cloud.NewRetryConfig(attempts, minWait, maxWait) }
}

// WithHTTPClient sets the HTTP client linodego sends requests with, for
// timeouts or proxies. The client is copied, not modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// New returns a Provider for the account owning token.
func New(token string, opts ...Option) (*Provider, error) {
	cfg := config{
		baseURL:    DefaultBaseURL,
		retry:      cloud.DefaultRetryConfig,
		httpClient: &http.Client{Timeout: 60 * time.Second},
	}
	for _, o := range opts {
		o(&cfg)
	}
	u, err := url.Parse(cfg.baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("linode: base URL %q must be an http or https URL such as %s", cfg.baseURL, DefaultBaseURL)
	}
	// resty fills in a nil Transport on the client it is given; work on a
	// copy so the caller's client stays as it was.
	hc := *cfg.httpClient
	client := linodego.NewClient(&hc)
	client.SetBaseURL(cfg.baseURL)
	// Pin the version: linodego would otherwise take LINODE_API_VERSION
	// from the environment.
	client.SetAPIVersion(linodego.APIVersion)
	client.SetToken(token)
	client.UseCache(false)
	// Zero retries makes resty send each request once; do() retries.
	client.SetRetryCount(0)
	client.OnAfterResponse(checkResponse)
	return &Provider{client: &client, token: token, cfg: cfg}, nil
}

// ValidateCredentials fetches the token's profile, the cheapest
// authenticated call.
func (p *Provider) ValidateCredentials(ctx context.Context) error {
	if p.token == "" {
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no Linode access token given: create a personal access token in Linode Cloud Manager under My Profile → API Tokens"}
	}
	return p.do(ctx, "check the access token", func(ctx context.Context) error {
		_, err := p.client.GetProfile(ctx)
		return err
	})
}

// Account reads the token's account (GET /v4/account): its euuid, which
// stays the same for every user and token of the account (a user's uid or
// username would not), and its email as the name. The token needs the
// Account scope (read only is enough).
func (p *Provider) Account(ctx context.Context) (cloud.Account, error) {
	if p.token == "" {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no Linode access token given: create a personal access token in Linode Cloud Manager under My Profile → API Tokens"}
	}
	var a *linodego.Account
	err := p.do(ctx, "read the account (the token needs the Account scope, read only is enough)", func(ctx context.Context) error {
		var err error
		a, err = p.client.GetAccount(ctx)
		return err
	})
	if err != nil {
		return cloud.Account{}, err
	}
	if a == nil || a.EUUID == "" {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "Linode answered GET /v4/account without the account's euuid"}
	}
	return cloud.Account{ID: a.EUUID, Name: a.Email}, nil
}

// Regions lists the regions where daestro can start agents: those offering
// Linodes and the Metadata service. Metadata is what delivers user data to
// cloud-init, and agents are configured through user data, so a region
// without it could start a machine that never joins.
func (p *Provider) Regions(ctx context.Context) ([]cloud.Region, error) {
	rs, err := list(ctx, p, "list regions", "", p.client.ListRegions)
	if err != nil {
		return nil, err
	}
	var out []cloud.Region
	for _, r := range rs {
		if slices.Contains(r.Capabilities, linodego.CapabilityLinodes) && slices.Contains(r.Capabilities, linodego.CapabilityMetadata) {
			out = append(out, cloud.Region{ID: r.ID, Name: r.Label})
		}
	}
	return out, nil
}

// InstanceTypes lists the Linode types with their hourly price in region.
// Linode offers every type in every core region, at a regional price in a
// few of them; a type without a price is left out so placement never takes
// it for free.
func (p *Provider) InstanceTypes(ctx context.Context, region string) ([]cloud.InstanceType, error) {
	ts, err := list(ctx, p, "list Linode types", "", p.client.ListTypes)
	if err != nil {
		return nil, err
	}
	out := make([]cloud.InstanceType, 0, len(ts))
	for _, t := range ts {
		if t.Price == nil {
			continue
		}
		hourly := t.Price.Hourly
		for _, rp := range t.RegionPrices {
			if rp.ID == region {
				hourly = rp.Hourly
			}
		}
		out = append(out, cloud.InstanceType{ID: t.ID, VCPU: t.VCPUs, MemoryMB: t.Memory, HourlyPrice: price(hourly)})
	}
	return out, nil
}

// CreateInstance creates and boots a Linode from the Ubuntu 24.04 image.
// The user data travels base64-encoded through the Metadata service; the
// root password is random and thrown away, since the API requires one when
// deploying an image and access is by SSH key or the agent itself.
func (p *Provider) CreateInstance(ctx context.Context, req cloud.CreateRequest) (cloud.Instance, error) {
	pass, err := rootPassword()
	if err != nil {
		return cloud.Instance{}, fmt.Errorf("linode: generate a root password: %w", err)
	}
	opts := linodego.InstanceCreateOptions{
		Region:   req.Region,
		Type:     req.InstanceType,
		Label:    Label(req.Name),
		Image:    Image,
		RootPass: pass,
		Tags:     req.Tags,
		Booted:   linodego.Pointer(true),
	}
	if req.UserData != "" {
		opts.Metadata = &linodego.InstanceMetadataOptions{UserData: base64.StdEncoding.EncodeToString([]byte(req.UserData))}
	}
	if req.SSHPublicKey != "" {
		opts.AuthorizedKeys = []string{strings.TrimSpace(req.SSHPublicKey)}
	}
	var in *linodego.Instance
	// Only a 429 is retried: it means the request was refused before any
	// work, while after a 5xx, a 408 or a lost connection the Linode may
	// exist and a retry could start (and bill) a second one. The caller can
	// find an orphan by tag.
	err = p.do(ctx, "create the Linode", func(ctx context.Context) error {
		var err error
		in, err = p.client.CreateInstance(ctx, opts)
		return err
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	return instance(in), nil
}

// Instance returns the Linode with id.
func (p *Provider) Instance(ctx context.Context, id string) (cloud.Instance, error) {
	n, err := linodeID(id)
	if err != nil {
		return cloud.Instance{}, err
	}
	var in *linodego.Instance
	err = p.do(ctx, "get Linode "+id, func(ctx context.Context) error {
		var err error
		in, err = p.client.GetInstance(ctx, n)
		return err
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	return instance(in), nil
}

// DeleteInstance deletes the Linode with id; a missing Linode is success.
func (p *Provider) DeleteInstance(ctx context.Context, id string) error {
	n, err := linodeID(id)
	if err != nil {
		return err
	}
	err = p.do(ctx, "delete Linode "+id, func(ctx context.Context) error {
		return p.client.DeleteInstance(ctx, n)
	})
	if errors.Is(err, cloud.ErrNotFound) {
		return nil
	}
	return err
}

// ListInstancesByTag lists the Linodes carrying tag. The filter travels in
// the X-Filter header, where a "tags" key matches Linodes having the tag
// among theirs.
func (p *Provider) ListInstancesByTag(ctx context.Context, tag string) ([]cloud.Instance, error) {
	filter, err := json.Marshal(map[string]string{"tags": tag})
	if err != nil {
		return nil, fmt.Errorf("linode: encode the tag filter: %w", err)
	}
	ins, err := list(ctx, p, "list Linodes tagged "+tag, string(filter), p.client.ListInstances)
	if err != nil {
		return nil, err
	}
	out := make([]cloud.Instance, 0, len(ins))
	for i := range ins {
		out = append(out, instance(&ins[i]))
	}
	return out, nil
}

// list fetches every page of a listing. Each page is its own retried call,
// so a throttled third page does not refetch the first two; linodego fetches
// only the page asked for when ListOptions.Page is set, and reports the
// page count back in the same options.
func list[T any](ctx context.Context, p *Provider, what, filter string, call func(context.Context, *linodego.ListOptions) ([]T, error)) ([]T, error) {
	var out []T
	for page := 1; ; page++ {
		opts := &linodego.ListOptions{PageOptions: &linodego.PageOptions{Page: page}, PageSize: pageSize, Filter: filter}
		var got []T
		err := p.do(ctx, what, func(ctx context.Context) error {
			var err error
			got, err = call(ctx, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		if page >= opts.Pages {
			return out, nil
		}
	}
}

func linodeID(id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0, &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("%q is not a Linode id", id), Err: err}
	}
	return n, nil
}

// instance maps a Linode to the provider-neutral shape.
func instance(in *linodego.Instance) cloud.Instance {
	if in == nil {
		return cloud.Instance{}
	}
	out := cloud.Instance{ID: strconv.Itoa(in.ID), Status: status(in.Status), Tags: in.Tags}
	for _, ip := range in.IPv4 {
		if ip != nil && isPublic(*ip) {
			out.PublicIPv4 = ip.String()
			break
		}
	}
	// Linode reports the SLAAC address with its prefix length, "…/128".
	out.PublicIPv6, _, _ = strings.Cut(in.IPv6, "/")
	return out
}

// isPublic reports whether ip is a routable IPv4 address; Linode lists a
// private 192.168.x.x address next to the public one when asked for one.
func isPublic(ip net.IP) bool {
	return ip.To4() != nil && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified()
}

// status normalizes Linode statuses. "offline" counts as terminating: the
// Linode can no longer run work but still exists and bills, so callers must
// still delete it. Linode removes a deleted Linode outright (a 404 follows),
// so StatusTerminated never comes from here. Every other status Linode has
// (booting, rebooting, migrating, resizing, rebuilding, cloning, restoring)
// leads back to running, and so does most likely one added later; they are
// pending, and a caller's boot timeout catches one that never gets there.
func status(s linodego.InstanceStatus) string {
	switch s {
	case linodego.InstanceRunning:
		return cloud.StatusRunning
	case linodego.InstanceOffline, linodego.InstanceShuttingDown, linodego.InstanceDeleting:
		return cloud.StatusTerminating
	default:
		return cloud.StatusPending
	}
}

// price undoes linodego's float32 prices: 0.036 arrives as
// 0.035999998450279236 once widened, which would show in prices and sums.
func price(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

// rootPassword returns a fresh password with 192 random bits. The fixed
// prefix guarantees the mix of upper and lower case, digit and punctuation
// that Linode's strength check asks for; it adds no secrecy and needs none.
func rootPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "Da3-" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Label turns a machine name into a valid Linode label: 3–64 ASCII letters,
// digits, '-', '_' and '.', starting and ending with a letter or digit,
// with no two separators in a row. Other characters become '-', runs of
// separators collapse to their first, a name too short gets a "daestro-"
// prefix, and one too long keeps its first 55 characters plus a hash of the
// whole name, because labels must be unique in the account and names that
// differ only past character 64 must stay apart. An empty name gives an
// empty label, for which Linode picks one.
func Label(name string) string {
	var b strings.Builder
	sep := true // a leading separator is dropped like a repeated one
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			sep = false
		case !sep:
			if r == '_' || r == '.' {
				b.WriteRune(r)
			} else {
				b.WriteByte('-')
			}
			sep = true
		}
	}
	label := strings.TrimRight(b.String(), "-_.")
	switch {
	case label == "" && name == "":
		return ""
	case len(label) < 3:
		label = strings.TrimRight("daestro-"+label, "-_.")
	case len(label) > 64:
		sum := sha256.Sum256([]byte(name))
		label = strings.TrimRight(label[:55], "-_.") + "-" + hex.EncodeToString(sum[:4])
	}
	return label
}
