// Package vultr implements cloud.Provider on Vultr's official SDK, govultr.
//
// govultr hides two things daestro needs: its errors carry no HTTP status,
// and it decodes a success body only when Content-Type is exactly
// "application/json" (returning a nil result and a nil error otherwise). A
// wrapping http.RoundTripper (see transport.go) records the status,
// Retry-After and Vultr's message of every response and normalizes JSON
// content types, so errors get a class and nothing fails silently.
package vultr

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vultr/govultr/v3"
	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"

	"daestro/internal/cloud"
)

// ImageName is the operating system daestro agents run on; its numeric id
// is looked up once per Provider because Vultr takes ids, not names.
const ImageName = "Ubuntu 24.04 LTS x64"

// DefaultBaseURL is Vultr's public API.
const DefaultBaseURL = "https://api.vultr.com"

// HoursPerMonth converts a plan's monthly_cost to the hourly price placement
// compares, because govultr's Plan has no hourly field (the API's
// hourly_cost is not decoded). 730 is the average month; Vultr's quoted
// hourly rate may be rounded, or a little higher where billing is capped at
// fewer hours a month, so treat the result as an estimate.
const HoursPerMonth = 730

// perPage is the page size of list calls, the API's maximum.
const perPage = 500

// maxPages stops a list whose cursors never end, a server bug that would
// otherwise loop forever.
const maxPages = 1000

// Provider talks to one Vultr account.
type Provider struct {
	// client is the govultr client, built with its own retries off because
	// do() retries with our classification.
	client *govultr.Client
	// token is kept only to fail fast when it is empty.
	token string
	// cfg holds the options.
	cfg config

	// osMu guards osID.
	osMu sync.Mutex
	// osID caches the id of ImageName; 0 until looked up.
	osID int
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

// WithBaseURL points the client at another API endpoint, e.g. a fake in
// tests. govultr's paths are absolute ("/v2/instances"), so a path in u is
// ignored.
func WithBaseURL(u string) Option {
	return func(c *config) { c.baseURL = u }
}

// WithRetry bounds the retries of throttled (429) calls (a 5xx is tried
// once) as cloud.NewRetryConfig says. govultr's own retries are off, so
// these are all the attempts a call makes.
func WithRetry(attempts int, minWait, maxWait time.Duration) Option {
	return func(c *config) { c.retry = cloud.NewRetryConfig(attempts, minWait, maxWait) }
}

// WithHTTPClient sets the HTTP client underneath the bearer-token and
// classifying transports, for timeouts or proxies.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// New returns a Provider for the account owning the API key token.
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
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("vultr: base URL %q is not an absolute URL", cfg.baseURL)
	}
	base := cfg.httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := *cfg.httpClient
	hc.Transport = &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}),
		Base:   &transport{base: base},
	}
	client := govultr.NewClient(&hc)
	if err := client.SetBaseURL(cfg.baseURL); err != nil {
		return nil, fmt.Errorf("vultr: base URL %q: %w", cfg.baseURL, err)
	}
	// One attempt per govultr call: retrying inside go-retryablehttp would
	// multiply our attempts, ignore Retry-After's cap and repeat creates.
	client.SetRetryLimit(0)
	client.SetUserAgent("daestro " + client.UserAgent)
	return &Provider{client: client, token: token, cfg: cfg}, nil
}

// ValidateCredentials fetches the account, the cheapest authenticated call.
func (p *Provider) ValidateCredentials(ctx context.Context) error {
	return p.do(ctx, "check the account", func(ctx context.Context) error {
		a, _, err := p.client.Account.Get(ctx)
		return nonNil(a, err)
	})
}

// Account reads the token's account (GET /v2/account). Vultr shows no
// account ID, so the account's email stands for it: it is the account's
// login and the same for every API key of the account.
func (p *Provider) Account(ctx context.Context) (cloud.Account, error) {
	var a *govultr.Account
	err := p.do(ctx, "read the account", func(ctx context.Context) error {
		var err error
		a, _, err = p.client.Account.Get(ctx)
		return nonNil(a, err)
	})
	if err != nil {
		return cloud.Account{}, err
	}
	if a.Email == "" {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "Vultr answered GET /v2/account without the account's email"}
	}
	return cloud.Account{ID: a.Email, Name: a.Name}, nil
}

// Regions lists Vultr's regions. Vultr has no per-account availability
// flag; whether a plan can be created in a region is InstanceTypes' answer.
func (p *Provider) Regions(ctx context.Context) ([]cloud.Region, error) {
	var out []cloud.Region
	err := p.pages(ctx, "list regions", func(ctx context.Context, opt *govultr.ListOptions) (*govultr.Meta, error) {
		rs, meta, _, err := p.client.Region.List(ctx, opt)
		for _, r := range rs {
			out = append(out, cloud.Region{ID: r.ID, Name: regionName(r)})
		}
		return meta, err
	})
	return out, err
}

// InstanceTypes lists the plans of every type offered in region (all
// regions when region is empty). The hourly price is monthly_cost divided by
// HoursPerMonth. IPv6-only plans ("…-v6") are left out: an agent without a
// public IPv4 address cannot be reached from IPv4-only networks.
func (p *Provider) InstanceTypes(ctx context.Context, region string) ([]cloud.InstanceType, error) {
	var out []cloud.InstanceType
	err := p.pages(ctx, "list plans", func(ctx context.Context, opt *govultr.ListOptions) (*govultr.Meta, error) {
		ps, meta, _, err := p.client.Plan.List(ctx, "", opt)
		for _, pl := range ps {
			if strings.HasSuffix(pl.ID, "-v6") || (region != "" && !slices.Contains(pl.Locations, region)) {
				continue
			}
			out = append(out, cloud.InstanceType{
				ID:          pl.ID,
				VCPU:        pl.VCPUCount,
				MemoryMB:    pl.RAM,
				HourlyPrice: float64(pl.MonthlyCost) / HoursPerMonth,
			})
		}
		return meta, err
	})
	return out, err
}

// CreateInstance creates an instance from Ubuntu 24.04 LTS x64 with
// req.Name as label and hostname, req.UserData base64-encoded as Vultr
// wants, req.Tags and IPv6 enabled. A raw SSH public key is registered with
// the account first (or found among the registered keys) because Vultr
// instances only take registered keys; Vultr installs it for root.
func (p *Provider) CreateInstance(ctx context.Context, req cloud.CreateRequest) (cloud.Instance, error) {
	osID, err := p.ubuntuOSID(ctx)
	if err != nil {
		return cloud.Instance{}, err
	}
	tags := req.Tags
	if tags == nil {
		tags = []string{}
	}
	cr := &govultr.InstanceCreateReq{
		Region:          req.Region,
		Plan:            req.InstanceType,
		Label:           req.Name,
		Hostname:        req.Name,
		OsID:            osID,
		Tags:            tags,
		EnableIPv6:      govultr.BoolToBoolPtr(true),
		ActivationEmail: govultr.BoolToBoolPtr(false),
	}
	if req.UserData != "" {
		cr.UserData = base64.StdEncoding.EncodeToString([]byte(req.UserData))
	}
	if req.SSHPublicKey != "" {
		id, err := p.ensureKey(ctx, req.SSHPublicKey)
		if err != nil {
			return cloud.Instance{}, err
		}
		cr.SSHKeys = []string{id}
	}
	var v *govultr.Instance
	// Only a 429 is retried: it means the request was refused before any
	// work, while after a 5xx the instance may exist and a retry could start
	// (and bill) a second one. The caller can find an orphan by tag.
	err = p.do(ctx, "create the instance", func(ctx context.Context) error {
		var err error
		v, _, err = p.client.Instance.Create(ctx, cr)
		return nonNil(v, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	return instance(v), nil
}

// ubuntuOSID returns the id of ImageName, listing the operating systems on
// first use. Vultr ids are stable, so the cache lives as long as p.
func (p *Provider) ubuntuOSID(ctx context.Context) (int, error) {
	p.osMu.Lock()
	defer p.osMu.Unlock()
	if p.osID != 0 {
		return p.osID, nil
	}
	id := 0
	err := p.pages(ctx, "list operating systems", func(ctx context.Context, opt *govultr.ListOptions) (*govultr.Meta, error) {
		oses, meta, _, err := p.client.OS.List(ctx, opt)
		for _, o := range oses {
			if id == 0 && o.Name == ImageName {
				id = o.ID
			}
		}
		return meta, err
	})
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("Vultr no longer offers the %s image daestro agents run on: upgrade daestro", ImageName)}
	}
	p.osID = id
	return id, nil
}

// ensureKey returns the id of the registered key equal to pub (comments
// aside), registering pub when the account does not have it yet, so
// repeated creates reuse one key.
func (p *Provider) ensureKey(ctx context.Context, pub string) (string, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		return "", &cloud.Error{Kind: cloud.ErrInvalid, Message: "the SSH public key is not in OpenSSH authorized_keys format", Err: err}
	}
	find := func() (string, error) {
		id := ""
		err := p.pages(ctx, "list SSH keys", func(ctx context.Context, opt *govultr.ListOptions) (*govultr.Meta, error) {
			keys, meta, _, err := p.client.SSHKey.List(ctx, opt)
			for _, k := range keys {
				if id != "" {
					break
				}
				if kk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.SSHKey)); err == nil && string(kk.Marshal()) == string(pk.Marshal()) {
					id = k.ID
				}
			}
			return meta, err
		})
		return id, err
	}
	id, err := find()
	if err != nil || id != "" {
		return id, err
	}
	// The name only helps people recognize the key in the customer portal.
	sum := sha256.Sum256(pk.Marshal())
	name := "daestro-" + hex.EncodeToString(sum[:6])
	var k *govultr.SSHKey
	err = p.do(ctx, "register the SSH key", func(ctx context.Context) error {
		var err error
		k, _, err = p.client.SSHKey.Create(ctx, &govultr.SSHKeyReq{Name: name, SSHKey: strings.TrimSpace(pub)})
		return nonNil(k, err)
	})
	if err != nil {
		// A concurrent create may have registered the same key between the
		// lookup and here; use it if so.
		if id, ferr := find(); ferr == nil && id != "" {
			return id, nil
		}
		return "", err
	}
	return k.ID, nil
}

// Instance returns the instance with id.
func (p *Provider) Instance(ctx context.Context, id string) (cloud.Instance, error) {
	if err := checkID(id); err != nil {
		return cloud.Instance{}, err
	}
	var v *govultr.Instance
	err := p.do(ctx, "get instance "+id, func(ctx context.Context) error {
		var err error
		v, _, err = p.client.Instance.Get(ctx, id)
		return nonNil(v, err)
	})
	if err != nil {
		return cloud.Instance{}, err
	}
	return instance(v), nil
}

// DeleteInstance deletes the instance with id; a missing instance is success.
func (p *Provider) DeleteInstance(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		if errors.Is(err, cloud.ErrNotFound) {
			return nil
		}
		return err
	}
	err := p.do(ctx, "delete instance "+id, func(ctx context.Context) error {
		return p.client.Instance.Delete(ctx, id)
	})
	if errors.Is(err, cloud.ErrNotFound) {
		return nil
	}
	return err
}

// ListInstancesByTag lists the instances carrying tag. Vultr filters by the
// tag query parameter; the result is filtered again here because callers
// delete what this returns, and an API that ignored the filter would
// otherwise hand them every instance of the account. An empty tag is
// refused for the same reason.
func (p *Provider) ListInstancesByTag(ctx context.Context, tag string) ([]cloud.Instance, error) {
	if tag == "" {
		return nil, &cloud.Error{Kind: cloud.ErrInvalid, Message: "listing Vultr instances needs a tag: an empty tag would match every instance of the account"}
	}
	var out []cloud.Instance
	err := p.pages(ctx, "list instances tagged "+tag, func(ctx context.Context, opt *govultr.ListOptions) (*govultr.Meta, error) {
		opt.Tag = tag
		vs, meta, _, err := p.client.Instance.List(ctx, opt)
		for i := range vs {
			if slices.Contains(vs[i].Tags, tag) {
				out = append(out, instance(&vs[i]))
			}
		}
		return meta, err
	})
	return out, err
}

// pages calls list for every page, following meta.links.next; each page is
// retried on its own so a throttled third page does not refetch the first
// two. list must append only when its call succeeded, which govultr
// guarantees by returning no items with an error.
func (p *Provider) pages(ctx context.Context, what string, list func(context.Context, *govultr.ListOptions) (*govultr.Meta, error)) error {
	opt := &govultr.ListOptions{PerPage: perPage}
	for range maxPages {
		var meta *govultr.Meta
		err := p.do(ctx, what, func(ctx context.Context) error {
			page := *opt
			var err error
			meta, err = list(ctx, &page)
			return err
		})
		if err != nil {
			return err
		}
		if meta == nil || meta.Links == nil || meta.Links.Next == "" || meta.Links.Next == opt.Cursor {
			return nil
		}
		opt.Cursor = meta.Links.Next
	}
	return &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf("Vultr kept returning more pages to %s after %d pages: try again later", what, maxPages)}
}

// errEmpty stands for a success response govultr decoded nothing from.
var errEmpty = errors.New("vultr: the API answered with an empty body")

// nonNil turns govultr's nil result with a nil error, which the transport
// should already prevent, into an error rather than a nil dereference.
func nonNil[T any](v *T, err error) error {
	if err == nil && v == nil {
		return errEmpty
	}
	return err
}

// checkID refuses ids that cannot be Vultr's UUIDs before they are put in a
// URL path.
func checkID(id string) error {
	ok := id != ""
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			ok = false
			break
		}
	}
	if !ok {
		return &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("%q is not a Vultr instance id", id)}
	}
	return nil
}

// regionName is "City, Country", e.g. "New Jersey, US".
func regionName(r govultr.Region) string {
	if r.Country == "" {
		return r.City
	}
	return r.City + ", " + r.Country
}

// instance maps a Vultr instance to the provider-neutral shape. Vultr
// reports main_ip "0.0.0.0" until it assigned an address.
func instance(v *govultr.Instance) cloud.Instance {
	in := cloud.Instance{ID: v.ID, Status: status(v), Tags: v.Tags}
	if v.MainIP != "0.0.0.0" {
		in.PublicIPv4 = v.MainIP
	}
	if v.V6MainIP != "::" {
		in.PublicIPv6 = v.V6MainIP
	}
	return in
}

// status normalizes Vultr's three status fields. An instance is running
// only once status is "active" and server_status "ok": "active" alone
// comes while the OS is still installing and booting. A stopped or
// suspended instance counts as terminating: it can no longer run work but
// still exists and bills, so callers must still delete it. Vultr has no
// terminated state; a destroyed instance is simply not found.
func status(v *govultr.Instance) string {
	switch v.Status {
	case "pending", "resizing":
		return cloud.StatusPending
	case "active":
		switch {
		case v.PowerStatus == "stopped" && v.ServerStatus == "ok":
			return cloud.StatusTerminating
		case v.ServerStatus == "ok":
			return cloud.StatusRunning
		default:
			return cloud.StatusPending
		}
	default:
		return cloud.StatusTerminating
	}
}
