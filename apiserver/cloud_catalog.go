package apiserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"

	"daestro/internal/cloud"
	"daestro/internal/domain"
	"daestro/service"
)

// catalogTTL is how long a provider's regions and instance types are reused:
// they change rarely, and every listing spends the account's API rate limit.
const catalogTTL = 15 * time.Minute

// catalogTimeout bounds one listing at the provider, retries included, so a
// provider that hangs answers the API request with a 503 instead of holding it.
const catalogTimeout = 30 * time.Second

// cloudRegion and cloudInstanceType are the catalog as the API (and the
// console) shows it.
type (
	cloudRegion       = domain.CloudRegion
	cloudInstanceType = domain.CloudInstanceType
)

// cloudRegionList answers GET /v1/cloud-auths/{id}/regions. It has the shape
// of every list (items, next_token), on one page: providers have tens of
// regions, not thousands.
type cloudRegionList struct {
	Items     []cloudRegion `json:"items"`
	NextToken string        `json:"next_token"`
	// Provider is the cloud auth's provider.
	Provider string `json:"provider"`
	// CachedAt is when the list was read from the provider.
	CachedAt time.Time `json:"cached_at"`
}

// cloudInstanceTypeList answers GET /v1/cloud-auths/{id}/instance-types.
type cloudInstanceTypeList struct {
	Items     []cloudInstanceType `json:"items"`
	NextToken string              `json:"next_token"`
	// Provider is the cloud auth's provider.
	Provider string `json:"provider"`
	// Region is the region listed: the one asked for, or the cloud auth's default.
	Region string `json:"region"`
	// CachedAt is when the list was read from the provider.
	CachedAt time.Time `json:"cached_at"`
}

// listCloudRegions lists the regions the cloud auth's account can create
// machines in.
func (s *Server) listCloudRegions(c *gin.Context) {
	refresh, err := refreshParam(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.cloudRegions(c.Request.Context(), project(c).ID, c.Param("id"), refresh)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

// cloudRegions is the region list of a cloud auth of the project.
func (s *Server) cloudRegions(ctx context.Context, projectID, authID string, refresh bool) (cloudRegionList, error) {
	acct, err := s.cloudAccount(ctx, projectID, authID)
	if err != nil {
		return cloudRegionList{}, err
	}
	e, err := s.catalogRegions(ctx, acct, refresh)
	if err != nil {
		return cloudRegionList{}, err
	}
	out := cloudRegionList{Items: make([]cloudRegion, 0, len(e.regions)), Provider: acct.auth.Provider, CachedAt: e.at}
	for _, r := range e.regions {
		out.Items = append(out.Items, cloudRegion{ID: r.ID, Name: r.Name})
	}
	return out, nil
}

// listCloudInstanceTypes lists the instance types of one region; region
// defaults to the cloud auth's default region.
func (s *Server) listCloudInstanceTypes(c *gin.Context) {
	refresh, err := refreshParam(c)
	if err != nil {
		writeError(c, err)
		return
	}
	out, err := s.cloudInstanceTypes(c.Request.Context(), project(c).ID, c.Param("id"), c.Query("region"), refresh)
	if err != nil {
		writeError(c, err)
		return
	}
	writeData(c, http.StatusOK, out)
}

// cloudInstanceTypes is the instance type list of one region of a cloud
// auth of the project (its default region when region is empty).
func (s *Server) cloudInstanceTypes(ctx context.Context, projectID, authID, region string, refresh bool) (cloudInstanceTypeList, error) {
	// The cloud auth first: another project's id is a 404 whatever the query says.
	acct, err := s.cloudAccount(ctx, projectID, authID)
	if err != nil {
		return cloudInstanceTypeList{}, err
	}
	if region == "" {
		region = acct.auth.DefaultRegion
	}
	if err := checkRegionParam(acct.auth, region); err != nil {
		return cloudInstanceTypeList{}, err
	}
	if err := s.checkRegion(ctx, acct, region, refresh); err != nil {
		return cloudInstanceTypeList{}, err
	}
	e, err := s.catalogTypes(ctx, acct, region, refresh)
	if err != nil {
		return cloudInstanceTypeList{}, err
	}
	out := cloudInstanceTypeList{Items: make([]cloudInstanceType, 0, len(e.types)), Provider: acct.auth.Provider, Region: region, CachedAt: e.at}
	for _, t := range e.types {
		out.Items = append(out.Items, cloudInstanceType{ID: t.ID, VCPU: t.VCPU, MemoryMB: t.MemoryMB, HourlyPrice: t.HourlyPrice})
	}
	return out, nil
}

// catalog is the Server as service.CloudCatalog: the cached provider lists
// the API serves, for the service's compute environment checks and the console's pickers.
type catalog struct{ s *Server }

var _ service.CloudCatalog = catalog{}

// Regions implements service.CloudCatalog.
func (c catalog) Regions(ctx context.Context, projectID, authID string) ([]domain.CloudRegion, error) {
	l, err := c.s.cloudRegions(ctx, projectID, authID, false)
	return l.Items, err
}

// InstanceTypes implements service.CloudCatalog.
func (c catalog) InstanceTypes(ctx context.Context, projectID, authID, region string) ([]domain.CloudInstanceType, error) {
	l, err := c.s.cloudInstanceTypes(ctx, projectID, authID, region, false)
	return l.Items, err
}

// Forget implements service.CloudCatalog.
func (c catalog) Forget(authID string) { c.s.catalog.drop(authID) }

// EnvSize implements service.CloudCatalog.
func (c catalog) EnvSize(ctx context.Context, projectID string, in domain.ComputeEnvInput) (domain.InstanceSize, error) {
	return c.s.cloudEnvSize(ctx, projectID, in)
}

// refreshParam reads ?refresh=true, which bypasses the catalog cache.
func refreshParam(c *gin.Context) (bool, error) {
	v := c.Query("refresh")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, domain.Errorf(domain.EINVALID, "refresh: %q must be true or false", v)
	}
	return b, nil
}

// checkRegionParam checks ?region= before it goes to the provider.
func checkRegionParam(ca domain.CloudAuth, region string) error {
	switch {
	case region == "":
		return domain.Errorf(domain.EINVALID, "region: is required (e.g. ?region=nyc3): GET /v1/cloud-auths/%s/regions lists them", ca.ID)
	case len(region) > 128:
		return domain.Errorf(domain.EINVALID, "region: is %d characters long; the limit is 128", len(region))
	case strings.IndexFunc(region, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return domain.Errorf(domain.EINVALID, "region: %q must not contain spaces or control characters", region)
	}
	return nil
}

// cloudAccount is a cloud auth with its decrypted credentials, what a
// provider is opened with.
type cloudAccount struct {
	auth  domain.CloudAuth
	creds cloud.Credentials
}

// cloudAccount reads the project's cloud auth id (404 when it is not the project's).
func (s *Server) cloudAccount(ctx context.Context, projectID, id string) (cloudAccount, error) {
	ca, creds, err := s.store.CloudAuthCredentials(ctx, projectID, id)
	return cloudAccount{auth: ca, creds: creds}, err
}

// checkRegion returns an EINVALID error naming region when the account
// cannot create machines there. A region missing from a cached list is looked
// up again before it is refused: it may be new since.
func (s *Server) checkRegion(ctx context.Context, acct cloudAccount, region string, refresh bool) error {
	for {
		e, err := s.catalogRegions(ctx, acct, refresh)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(e.regions, func(r cloud.Region) bool { return r.ID == region }) {
			return nil
		}
		if e.fresh {
			return domain.Errorf(domain.EINVALID, "region: %q is not a %s region this account can use: see GET /v1/cloud-auths/%s/regions",
				region, cloud.DisplayName(acct.auth.Provider), acct.auth.ID)
		}
		refresh = true
	}
}

// instanceSize looks instanceType up in region's catalog, refreshing a
// cached one before refusing the type.
func (s *Server) instanceSize(ctx context.Context, acct cloudAccount, region, instanceType string) (domain.InstanceSize, error) {
	refresh := false
	for {
		e, err := s.catalogTypes(ctx, acct, region, refresh)
		if err != nil {
			return domain.InstanceSize{}, err
		}
		if i := slices.IndexFunc(e.types, func(t cloud.InstanceType) bool { return t.ID == instanceType }); i >= 0 {
			t := e.types[i]
			return domain.InstanceSize{VCPU: t.VCPU, MemoryMB: t.MemoryMB, HourlyPrice: t.HourlyPrice}, nil
		}
		if e.fresh {
			return domain.InstanceSize{}, domain.Errorf(domain.EINVALID, "instance_type: %q is not offered by %s in region %s: see GET /v1/cloud-auths/%s/instance-types?region=%s",
				instanceType, cloud.DisplayName(acct.auth.Provider), region, acct.auth.ID, region)
		}
		refresh = true
	}
}

// catalogRegions returns the account's regions, sorted by id, from the
// cache unless refresh.
func (s *Server) catalogRegions(ctx context.Context, acct cloudAccount, refresh bool) (catalogEntry, error) {
	key := catalogKey{authID: acct.auth.ID, version: acct.auth.UpdatedAt.UnixNano()}
	return s.catalog.get(ctx, key, refresh, func(ctx context.Context) (catalogEntry, error) {
		p, err := s.openProvider(acct)
		if err != nil {
			return catalogEntry{}, err
		}
		rs, err := p.Regions(ctx)
		if err != nil {
			return catalogEntry{}, providerError(ctx, acct.auth.Provider, "list regions", err)
		}
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b cloud.Region) int { return cmp.Compare(a.ID, b.ID) })
		return catalogEntry{regions: rs}, nil
	})
}

// catalogTypes returns region's instance types, smallest first, from the
// cache unless refresh.
func (s *Server) catalogTypes(ctx context.Context, acct cloudAccount, region string, refresh bool) (catalogEntry, error) {
	key := catalogKey{authID: acct.auth.ID, version: acct.auth.UpdatedAt.UnixNano(), types: true, region: region}
	return s.catalog.get(ctx, key, refresh, func(ctx context.Context) (catalogEntry, error) {
		p, err := s.openProvider(acct)
		if err != nil {
			return catalogEntry{}, err
		}
		ts, err := p.InstanceTypes(ctx, region)
		if err != nil {
			return catalogEntry{}, providerError(ctx, acct.auth.Provider, "list the instance types of region "+region, err)
		}
		ts = slices.Clone(ts)
		slices.SortFunc(ts, func(a, b cloud.InstanceType) int {
			return cmp.Or(cmp.Compare(a.VCPU, b.VCPU), cmp.Compare(a.MemoryMB, b.MemoryMB),
				cmp.Compare(a.HourlyPrice, b.HourlyPrice), cmp.Compare(a.ID, b.ID))
		})
		return catalogEntry{types: ts}, nil
	})
}

// openProvider opens the account's provider through the registry; a provider
// without a factory is the registry's EUNAVAILABLE "not configured" error.
func (s *Server) openProvider(acct cloudAccount) (cloud.Provider, error) {
	p, err := s.clouds.Open(acct.auth.Provider, acct.creds, acct.auth.DefaultRegion)
	var de *domain.Error
	if err != nil && !errors.As(err, &de) {
		return nil, domain.Errorf(domain.EINVALID, "cannot use cloud auth '%s' with %s: %s", acct.auth.Name, cloud.DisplayName(acct.auth.Provider), err.Error())
	}
	return p, err
}

// providerError turns a failed listing into the error the API answers with:
// the provider's own sentence, a 400 when the user can fix it (credentials,
// limits) and a 503 otherwise.
func providerError(ctx context.Context, provider, what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return domain.Errorf(domain.EUNAVAILABLE, "could not %s with %s: it did not answer within %s; try again later",
			what, cloud.DisplayName(provider), catalogTimeout)
	}
	err = cloud.UserError(provider, what, err)
	// A listing the provider cannot find is about the request, not about a
	// daestro resource: a 404 would read as "no such cloud auth".
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.Errorf(domain.EINVALID, "%s", domain.ErrorMessage(err))
	}
	return err
}

// catalogKey names one cached listing: an account's regions, or the
// instance types of one of its regions.
type catalogKey struct {
	// authID is the cloud auth.
	authID string
	// version is the cloud auth's updated_at: an update made through
	// another API server process changes it, so this process never answers
	// from a listing made with credentials that were replaced since.
	version int64
	// types is false for the region list, true for region's instance types.
	types  bool
	region string
}

// catalogEntry is one listing and when it was read from the provider.
type catalogEntry struct {
	regions []cloud.Region
	types   []cloud.InstanceType
	// at is when the provider answered; the API shows it as cached_at.
	at time.Time
	// fresh says the listing was read for this request, not from the cache.
	fresh bool
}

// catalogCache keeps provider listings per cloud auth for ttl. Entries are
// shared between requests and never modified after they are stored.
type catalogCache struct {
	// ttl is how long an entry is served.
	ttl time.Duration
	// now is the clock, replaced in tests.
	now func() time.Time

	// mu guards entries.
	mu sync.Mutex
	// entries are the stored listings.
	entries map[catalogKey]catalogEntry
	// reads makes concurrent misses of one key one provider call.
	reads singleflight.Group
}

func newCatalogCache(ttl time.Duration, now func() time.Time) *catalogCache {
	return &catalogCache{ttl: ttl, now: now, entries: map[catalogKey]catalogEntry{}}
}

// get returns key's listing: the stored one while it is younger than ttl
// (unless refresh), else the one fetch reads, which is then stored. fetch
// runs detached from ctx's cancellation, under catalogTimeout, so a client
// that hangs up does not fail the other requests waiting for the same listing.
func (cc *catalogCache) get(ctx context.Context, key catalogKey, refresh bool, fetch func(context.Context) (catalogEntry, error)) (catalogEntry, error) {
	cc.mu.Lock()
	if e, ok := cc.entries[key]; ok && !refresh && cc.now().Sub(e.at) < cc.ttl {
		cc.mu.Unlock()
		return e, nil
	}
	cc.mu.Unlock()
	detached := context.WithoutCancel(ctx)
	ch := cc.reads.DoChan(fmt.Sprintf("%+v", key), func() (any, error) {
		fctx, cancel := context.WithTimeout(detached, catalogTimeout)
		defer cancel()
		e, err := fetch(fctx)
		if err != nil {
			return catalogEntry{}, err
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		e.at = cc.now()
		cc.prune()
		stored := e
		stored.fresh = false
		cc.entries[key] = stored
		e.fresh = true
		return e, nil
	})
	select {
	case r := <-ch:
		return r.Val.(catalogEntry), r.Err
	case <-ctx.Done():
		return catalogEntry{}, ctx.Err()
	}
}

// prune drops expired entries, including those of cloud auths updated or
// deleted through another process; cc.mu is held.
func (cc *catalogCache) prune() {
	now := cc.now()
	for k, e := range cc.entries {
		if now.Sub(e.at) >= cc.ttl {
			delete(cc.entries, k)
		}
	}
}

// drop forgets every listing of cloud auth authID, after its credentials
// changed or it was deleted.
func (cc *catalogCache) drop(authID string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for k := range cc.entries {
		if k.authID == authID {
			delete(cc.entries, k)
		}
	}
}
