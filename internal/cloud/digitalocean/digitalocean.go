// Package digitalocean implements cloud.Provider on DigitalOcean's official
// SDK, godo.
package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"

	"daestro/internal/cloud"
)

// Image is the droplet image daestro agents run on: Ubuntu 24.04 LTS.
const Image = "ubuntu-24-04-x64"

// DefaultBaseURL is DigitalOcean's public API.
const DefaultBaseURL = "https://api.digitalocean.com/"

// Provider talks to one DigitalOcean account.
type Provider struct {
	// client is the godo client, built without godo's own retries because
	// do() retries with our classification.
	client *godo.Client
	// token is kept only to fail fast when it is empty.
	token string
	// cfg holds the options.
	cfg config
}

var _ cloud.Provider = (*Provider)(nil)

// config is what the options set.
type config struct {
	baseURL    string
	retry      cloud.RetryConfig
	httpClient *http.Client
}

// Option configures a Provider.
type Option func(*config)

// WithBaseURL points the client at another API endpoint, e.g. a fake in tests.
func WithBaseURL(u string) Option {
	return func(c *config) {
		// godo's paths are relative ("v2/droplets"), so the base must end in "/".
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		c.baseURL = u
	}
}

// WithRetry bounds the retries of throttled (429) calls (a 5xx is tried
// once) as cloud.NewRetryConfig says.
func WithRetry(attempts int, minWait, maxWait time.Duration) Option {
	return func(c *config) { c.retry = cloud.NewRetryConfig(attempts, minWait, maxWait) }
}

// WithHTTPClient sets the HTTP client underneath the bearer-token transport,
// for timeouts or proxies.
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
	base := cfg.httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := *cfg.httpClient
	hc.Transport = &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
		Base:   base,
	}
	client, err := godo.New(&hc, godo.SetBaseURL(cfg.baseURL))
	if err != nil {
		return nil, fmt.Errorf("digitalocean: base URL %q: %w", cfg.baseURL, err)
	}
	return &Provider{client: client, token: token, cfg: cfg}, nil
}

// ValidateCredentials fetches the account, the cheapest authenticated call.
func (p *Provider) ValidateCredentials(ctx context.Context) error {
	if p.token == "" {
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no DigitalOcean access token given: create one under API → Tokens in the DigitalOcean control panel"}
	}
	return p.do(ctx, "check the account", func(ctx context.Context) (*godo.Response, error) {
		_, resp, err := p.client.Account.Get(ctx)
		return resp, err
	})
}

// Account reads the token's account: its UUID, and its email as the name.
func (p *Provider) Account(ctx context.Context) (cloud.Account, error) {
	if p.token == "" {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no DigitalOcean access token given: create one under API → Tokens in the DigitalOcean control panel"}
	}
	var a *godo.Account
	err := p.do(ctx, "read the account", func(ctx context.Context) (*godo.Response, error) {
		var resp *godo.Response
		var err error
		a, resp, err = p.client.Account.Get(ctx)
		return resp, err
	})
	if err != nil {
		return cloud.Account{}, err
	}
	if a == nil || a.UUID == "" {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "DigitalOcean answered GET /v2/account without the account's uuid"}
	}
	return cloud.Account{ID: a.UUID, Name: a.Email}, nil
}

// Regions lists the regions currently accepting droplets.
func (p *Provider) Regions(ctx context.Context) ([]cloud.Region, error) {
	var out []cloud.Region
	err := p.pages(ctx, "list regions", func(ctx context.Context, opt *godo.ListOptions) (*godo.Response, error) {
		rs, resp, err := p.client.Regions.List(ctx, opt)
		for _, r := range rs {
			if r.Available {
				out = append(out, cloud.Region{ID: r.Slug, Name: r.Name})
			}
		}
		return resp, err
	})
	return out, err
}

// InstanceTypes lists the droplet sizes available in region.
func (p *Provider) InstanceTypes(ctx context.Context, region string) ([]cloud.InstanceType, error) {
	var out []cloud.InstanceType
	err := p.pages(ctx, "list sizes", func(ctx context.Context, opt *godo.ListOptions) (*godo.Response, error) {
		ss, resp, err := p.client.Sizes.List(ctx, opt)
		for _, s := range ss {
			if s.Available && (region == "" || slices.Contains(s.Regions, region)) {
				out = append(out, cloud.InstanceType{ID: s.Slug, VCPU: s.Vcpus, MemoryMB: s.Memory, HourlyPrice: s.PriceHourly})
			}
		}
		return resp, err
	})
	return out, err
}

// CreateInstance creates a droplet from the Ubuntu 24.04 image. A raw SSH
// public key is registered with the account first (or found by its
// fingerprint) because droplets only take registered keys.
func (p *Provider) CreateInstance(ctx context.Context, req cloud.CreateRequest) (cloud.Instance, error) {
	cr := &godo.DropletCreateRequest{
		Name:     req.Name,
		Region:   req.Region,
		Size:     req.InstanceType,
		Image:    godo.DropletCreateImage{Slug: Image},
		UserData: req.UserData, // godo sends it as plain text, as the API wants
		Tags:     req.Tags,
		IPv6:     true,
	}
	if req.SSHPublicKey != "" {
		fp, err := p.ensureKey(ctx, req.Name, req.SSHPublicKey)
		if err != nil {
			return cloud.Instance{}, err
		}
		cr.SSHKeys = []godo.DropletCreateSSHKey{{Fingerprint: fp}}
	}
	var d *godo.Droplet
	// Only a 429 is retried: it means the request was refused before any
	// work, while after a 5xx the droplet may exist and a retry could start
	// (and bill) a second one. The caller can find an orphan by tag.
	err := p.do(ctx, "create the droplet", func(ctx context.Context) (*godo.Response, error) {
		var (
			resp *godo.Response
			err  error
		)
		d, resp, err = p.client.Droplets.Create(ctx, cr)
		return resp, err
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	return instance(d), nil
}

// ensureKey returns the fingerprint of pub, registering it when the account
// does not know it yet, so repeated creates reuse one key.
func (p *Provider) ensureKey(ctx context.Context, name, pub string) (string, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		return "", &cloud.Error{Kind: cloud.ErrInvalid, Message: "the SSH public key is not in OpenSSH authorized_keys format", Err: err}
	}
	// DigitalOcean names keys by their MD5 fingerprint.
	fp := strings.TrimPrefix(ssh.FingerprintLegacyMD5(pk), "MD5:")
	err = p.do(ctx, "look up the SSH key", func(ctx context.Context) (*godo.Response, error) {
		_, resp, err := p.client.Keys.GetByFingerprint(ctx, fp)
		return resp, err
	})
	if !errors.Is(err, cloud.ErrNotFound) {
		return fp, err
	}
	err = p.do(ctx, "register the SSH key", func(ctx context.Context) (*godo.Response, error) {
		_, resp, err := p.client.Keys.Create(ctx, &godo.KeyCreateRequest{Name: "daestro-" + name, PublicKey: pub})
		return resp, err
	})
	// A concurrent create may have registered the same key between the
	// lookup and here; the key is there either way.
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "already in use") {
		return fp, nil
	}
	return fp, err
}

// Instance returns the droplet with id.
func (p *Provider) Instance(ctx context.Context, id string) (cloud.Instance, error) {
	n, err := dropletID(id)
	if err != nil {
		return cloud.Instance{}, err
	}
	var d *godo.Droplet
	err = p.do(ctx, "get droplet "+id, func(ctx context.Context) (*godo.Response, error) {
		var (
			resp *godo.Response
			err  error
		)
		d, resp, err = p.client.Droplets.Get(ctx, n)
		return resp, err
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	return instance(d), nil
}

// DeleteInstance deletes the droplet with id; a missing droplet is success.
func (p *Provider) DeleteInstance(ctx context.Context, id string) error {
	n, err := dropletID(id)
	if err != nil {
		return err
	}
	err = p.do(ctx, "delete droplet "+id, func(ctx context.Context) (*godo.Response, error) {
		return p.client.Droplets.Delete(ctx, n)
	})
	if errors.Is(err, cloud.ErrNotFound) {
		return nil
	}
	return err
}

// ListInstancesByTag lists the droplets carrying tag.
func (p *Provider) ListInstancesByTag(ctx context.Context, tag string) ([]cloud.Instance, error) {
	var out []cloud.Instance
	err := p.pages(ctx, "list droplets tagged "+tag, func(ctx context.Context, opt *godo.ListOptions) (*godo.Response, error) {
		ds, resp, err := p.client.Droplets.ListByTag(ctx, tag, opt)
		for i := range ds {
			out = append(out, instance(&ds[i]))
		}
		return resp, err
	})
	return out, err
}

// pages calls list for every page; each page is retried on its own so a
// throttled third page does not refetch the first two.
func (p *Provider) pages(ctx context.Context, what string, list func(context.Context, *godo.ListOptions) (*godo.Response, error)) error {
	opt := &godo.ListOptions{Page: 1, PerPage: 200}
	for {
		var resp *godo.Response
		err := p.do(ctx, what, func(ctx context.Context) (*godo.Response, error) {
			var err error
			resp, err = list(ctx, opt)
			return resp, err
		})
		if err != nil {
			return err
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			return nil
		}
		opt.Page++
	}
}

func dropletID(id string) (int, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0, &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("%q is not a DigitalOcean droplet id", id), Err: err}
	}
	return n, nil
}

// instance maps a droplet to the provider-neutral shape.
func instance(d *godo.Droplet) cloud.Instance {
	if d == nil {
		return cloud.Instance{}
	}
	in := cloud.Instance{ID: strconv.Itoa(d.ID), Status: status(d.Status), Tags: d.Tags}
	in.PublicIPv4, _ = d.PublicIPv4()
	in.PublicIPv6, _ = d.PublicIPv6()
	return in
}

// status normalizes droplet statuses. "off" counts as terminating: the
// droplet can no longer run work but still exists and bills, so callers must
// still delete it.
func status(s string) string {
	switch s {
	case "new":
		return cloud.StatusPending
	case "active":
		return cloud.StatusRunning
	case "archive":
		return cloud.StatusTerminated
	default:
		return cloud.StatusTerminating
	}
}
