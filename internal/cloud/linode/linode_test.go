package linode_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/linodefake"
	"daestro/internal/cloud/linode"
	"daestro/internal/domain"
)

// Calls as the fake records them.
const (
	getProfile   = "GET /v4/profile"
	getRegions   = "GET /v4/regions"
	getTypes     = "GET /v4/linode/types"
	postInstance = "POST /v4/linode/instances"
	getInstances = "GET /v4/linode/instances"
)

// testKey returns a fresh OpenSSH public key line.
func testKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pk, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " daestro@test"
}

// newProvider points a Provider at f with fast retries so throttling tests
// take milliseconds.
func newProvider(t *testing.T, f *linodefake.Server, token string, opts ...linode.Option) *linode.Provider {
	t.Helper()
	opts = append([]linode.Option{
		linode.WithBaseURL(f.URL),
		linode.WithRetry(4, time.Millisecond, 20*time.Millisecond),
	}, opts...)
	p, err := linode.New(token, opts...)
	require.NoError(t, err)
	return p
}

// smallCreate is a valid create request without user data or key.
func smallCreate(name string) cloud.CreateRequest {
	return cloud.CreateRequest{Name: name, Region: "us-east", InstanceType: "g6-nanode-1", Tags: []string{"daestro"}}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	_, err := linode.New("t", linode.WithBaseURL("api.linode.com"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be an http or https URL")
}

func TestValidateCredentials(t *testing.T) {
	f := linodefake.New(t)
	ctx := context.Background()
	require.NoError(t, newProvider(t, f, linodefake.Token).ValidateCredentials(ctx))

	err := newProvider(t, f, "wrong").ValidateCredentials(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "Linode rejected this access token: create a personal access token")
	assert.Equal(t, 2, f.Count(getProfile), "a 401 is not retried")

	err = newProvider(t, f, "").ValidateCredentials(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Equal(t, 2, f.Count(getProfile), "an empty token fails without a call")

	// A token without the Linodes scope gets 403s from Linode.
	f.Fail(1, http.StatusForbidden, "Unauthorized")
	err = newProvider(t, f, linodefake.Token).ValidateCredentials(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "give the token read/write access to Linodes")
}

func TestValidatorForRegistry(t *testing.T) {
	f := linodefake.New(t)
	reg := cloud.NewRegistry()
	reg.Register(cloud.Linode, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return linode.New(c.AccessToken,
			linode.WithBaseURL(f.URL), linode.WithRetry(2, time.Millisecond, time.Millisecond))
	})
	ctx := context.Background()

	v, err := reg.Validate(ctx, cloud.Linode, cloud.Credentials{AccessToken: linodefake.Token}, "")
	require.NoError(t, err)
	assert.Equal(t, cloud.ValidationValid, v.Status)

	_, err = reg.Validate(ctx, cloud.Linode, cloud.Credentials{AccessToken: "nope"}, "")
	assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	assert.Contains(t, domain.ErrorMessage(err), "Linode rejected this access token")

	f.FailServer(2, http.StatusServiceUnavailable)
	_, err = reg.Validate(ctx, cloud.Linode, cloud.Credentials{AccessToken: linodefake.Token}, "")
	assert.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "Linode down: %v", err)
}

func TestRegionsNeedMetadata(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()

	regions, err := p.Regions(ctx)
	require.NoError(t, err)
	assert.Equal(t, []cloud.Region{
		{ID: "us-east", Name: "Newark, NJ"},
		{ID: "eu-central", Name: "Frankfurt, DE"},
		{ID: "id-cgk", Name: "Jakarta, ID"},
	}, regions, "ap-south has no Metadata service, so no user data: left out")

	// linodego's 15-minute cache is off: a second listing asks Linode again.
	_, err = p.Regions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, f.Count(getRegions))
}

func TestRegionsAllPages(t *testing.T) {
	f := linodefake.New(t, linodefake.WithPageSize(1))
	p := newProvider(t, f, linodefake.Token)
	regions, err := p.Regions(context.Background())
	require.NoError(t, err)
	assert.Len(t, regions, 3)
	assert.Equal(t, len(linodefake.Regions), f.Count(getRegions), "one call per page")
}

func TestInstanceTypes(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()

	types, err := p.InstanceTypes(ctx, "us-east")
	require.NoError(t, err)
	assert.Equal(t, []cloud.InstanceType{
		{ID: "g6-nanode-1", VCPU: 1, MemoryMB: 1024, HourlyPrice: 0.0075},
		{ID: "g6-standard-2", VCPU: 2, MemoryMB: 4096, HourlyPrice: 0.036},
		{ID: "g6-dedicated-4", VCPU: 4, MemoryMB: 8192, HourlyPrice: 0.108},
	}, types, "exact prices, not float32 noise")

	jakarta, err := p.InstanceTypes(ctx, "id-cgk")
	require.NoError(t, err)
	require.Len(t, jakarta, 3)
	assert.Equal(t, 0.043, jakarta[1].HourlyPrice, "the regional price applies in id-cgk")
	assert.Equal(t, 0.108, jakarta[2].HourlyPrice, "no regional price: the default applies")
}

func TestInstanceLifecycle(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()

	key := testKey(t)
	userData := "#cloud-config\nruncmd:\n  - echo héllo\n"
	req := cloud.CreateRequest{
		Name: "daestro agent/42", Region: "us-east", InstanceType: "g6-standard-2",
		UserData: userData, Tags: []string{"daestro", "env-42"}, SSHPublicKey: key,
	}
	in, err := p.CreateInstance(ctx, req)
	require.NoError(t, err)
	assert.NotEmpty(t, in.ID)
	assert.Equal(t, cloud.StatusPending, in.Status)
	assert.Equal(t, []string{"daestro", "env-42"}, in.Tags)

	creates := f.Creates()
	require.Len(t, creates, 1)
	c := creates[0]
	assert.Equal(t, "linode/ubuntu24.04", c.Image)
	assert.Equal(t, "us-east", c.Region)
	assert.Equal(t, "g6-standard-2", c.Type)
	assert.Equal(t, "daestro-agent-42", c.Label, "name sanitized to Linode's label rules")
	assert.Equal(t, []string{"daestro", "env-42"}, c.Tags)
	assert.Equal(t, []string{key}, c.AuthorizedKeys)
	require.NotNil(t, c.Booted)
	assert.True(t, *c.Booted)
	assert.GreaterOrEqual(t, len(c.RootPass), 32, "a long random root password")
	require.NotNil(t, c.Metadata)
	assert.NotEqual(t, userData, c.Metadata.UserData, "user data goes base64-encoded")
	id, err := strconv.Atoi(in.ID)
	require.NoError(t, err)
	got, ok := f.UserData(id)
	require.True(t, ok)
	assert.Equal(t, userData, got, "the fake decoded exactly the script")

	// A second create gets a different root password.
	other, err := p.CreateInstance(ctx, smallCreate("other"))
	require.NoError(t, err)
	creates = f.Creates()
	require.Len(t, creates, 2)
	assert.NotEqual(t, creates[0].RootPass, creates[1].RootPass)
	assert.Nil(t, creates[1].Metadata, "no user data, no metadata object")
	assert.Empty(t, creates[1].AuthorizedKeys)

	first, err := p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusPending, first.Status)
	second, err := p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusRunning, second.Status)
	assert.True(t, strings.HasPrefix(second.PublicIPv4, "203.0.113."), "public IPv4 %q", second.PublicIPv4)
	assert.Equal(t, fmt.Sprintf("2001:db8::%x", id), second.PublicIPv6, "IPv6 without the /128")

	list, err := p.ListInstancesByTag(ctx, "env-42")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, in.ID, list[0].ID)
	assert.Equal(t, []string{`{"tags":"env-42"}`}, f.Filters(), "the tag filter travels in X-Filter")

	all, err := p.ListInstancesByTag(ctx, "daestro")
	require.NoError(t, err)
	assert.Len(t, all, 2)

	require.NoError(t, p.DeleteInstance(ctx, in.ID))
	require.NoError(t, p.DeleteInstance(ctx, in.ID), "deleting again succeeds")
	_, err = p.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrNotFound)
	list, err = p.ListInstancesByTag(ctx, "env-42")
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Equal(t, 1, f.Instances())
	require.NoError(t, p.DeleteInstance(ctx, other.ID))

	_, err = p.Instance(ctx, "not-a-number")
	require.ErrorIs(t, err, cloud.ErrNotFound)
}

func TestListByTagAllPages(t *testing.T) {
	f := linodefake.New(t, linodefake.WithPageSize(2))
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	for i := range 5 {
		_, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: fmt.Sprintf("vm-%d", i), Region: "eu-central", InstanceType: "g6-nanode-1", Tags: []string{"pool-a"}})
		require.NoError(t, err)
	}
	_, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "vm-b", Region: "eu-central", InstanceType: "g6-nanode-1", Tags: []string{"pool-b"}})
	require.NoError(t, err)

	list, err := p.ListInstancesByTag(ctx, "pool-a")
	require.NoError(t, err)
	assert.Len(t, list, 5)
	assert.Equal(t, 3, f.Count(getInstances), "5 Linodes at 2 a page")
}

func TestStatusWithDelay(t *testing.T) {
	f := linodefake.New(t, linodefake.WithRunningAfter(50*time.Millisecond))
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	in, err := p.CreateInstance(ctx, smallCreate("a"))
	require.NoError(t, err)
	got, err := p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusPending, got.Status, "before the delay")
	time.Sleep(60 * time.Millisecond)
	got, err = p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusRunning, got.Status, "after the delay")
}

func TestRateLimitIsRetried(t *testing.T) {
	f := linodefake.New(t)
	// Retry-After 1s exceeds the test's 20ms max wait, which caps it: the
	// waits are the cap, not the 1ms and 2ms backoff, which shows the
	// header was read, without waiting a whole second.
	p := newProvider(t, f, linodefake.Token)
	f.RateLimit(2, 1)
	start := time.Now()
	in, err := p.CreateInstance(context.Background(), smallCreate("a"))
	require.NoError(t, err, "create after 2×429")
	assert.NotEmpty(t, in.ID)
	assert.Equal(t, 1, f.Instances())
	assert.Equal(t, 3, f.Count(postInstance))
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond, "the capped Retry-After (20ms) twice")
}

func TestThrottledForeverIsUnavailable(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	f.RateLimit(10, 0)
	_, err := p.Regions(context.Background())
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "HTTP 429 after 4 attempts")
	assert.Contains(t, err.Error(), "status.linode.com")
	assert.Equal(t, 4, f.Count(getRegions), "WithRetry bounds the attempts, not linodego's 1000 retries")
}

// TestTransientFailuresAreTriedOnce: a 5xx, a 408 or a proxy's page is not
// throttling, so the call is not repeated within itself; it says Linode did
// not answer, and the caller's retry policy (the activity's) repeats it.
func TestTransientFailuresAreTriedOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(f *linodefake.Server, n int)
	}{
		{"503", func(f *linodefake.Server, n int) { f.FailServer(n, http.StatusServiceUnavailable) }},
		{"500", func(f *linodefake.Server, n int) { f.FailServer(n, http.StatusInternalServerError) }},
		{"408", func(f *linodefake.Server, n int) { f.Fail(n, http.StatusRequestTimeout, "Please try again") }},
		{"502 from a proxy", func(f *linodefake.Server, n int) {
			f.FailRaw(n, http.StatusBadGateway, "text/html", "<html>Bad Gateway</html>")
		}},
		{"400 from a proxy", func(f *linodefake.Server, n int) {
			f.FailRaw(n, http.StatusBadRequest, "text/html", "<html>400 Bad Request</html>")
		}},
		{"500 without errors array", func(f *linodefake.Server, n int) {
			f.FailRaw(n, http.StatusInternalServerError, "application/json", `{}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := linodefake.New(t)
			p := newProvider(t, f, linodefake.Token)
			ctx := context.Background()
			in, err := p.CreateInstance(ctx, smallCreate("a"))
			require.NoError(t, err)

			tc.inject(f, 1)
			_, err = p.Instance(ctx, in.ID)
			require.ErrorIs(t, err, cloud.ErrUnavailable)
			assert.Contains(t, err.Error(), "did not answer the request to get Linode "+in.ID)
			_, err = p.Instance(ctx, in.ID)
			require.NoError(t, err, "the repeat after the failure")

			tc.inject(f, 1)
			require.ErrorIs(t, p.DeleteInstance(ctx, in.ID), cloud.ErrUnavailable)
			assert.Equal(t, 1, f.Instances())
			require.NoError(t, p.DeleteInstance(ctx, in.ID), "the repeat after the failure")
			assert.Equal(t, 0, f.Instances())
		})
	}
}

// TestBusyIsRetried: "Linode busy." is refused before any work, like a
// 429, so it is repeated within the call.
func TestBusyIsRetried(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	in, err := p.CreateInstance(ctx, smallCreate("a"))
	require.NoError(t, err)

	f.Busy(2)
	_, err = p.Instance(ctx, in.ID)
	require.NoError(t, err, "get after 2 busy answers")
	f.Busy(2)
	require.NoError(t, p.DeleteInstance(ctx, in.ID), "delete after 2 busy answers")
	assert.Equal(t, 0, f.Instances())

	f.Busy(10)
	_, err = p.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "HTTP 400 Linode busy after 4 attempts")
}

func TestCreateNotRepeatedAfterAmbiguousFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(f *linodefake.Server)
	}{
		{"500", func(f *linodefake.Server) { f.FailServer(1, http.StatusInternalServerError) }},
		{"503", func(f *linodefake.Server) { f.FailServer(1, http.StatusServiceUnavailable) }},
		{"408", func(f *linodefake.Server) { f.Fail(1, http.StatusRequestTimeout, "Please try again") }},
		{"HTML page", func(f *linodefake.Server) { f.FailRaw(1, http.StatusOK, "text/html", "<html>ok?</html>") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := linodefake.New(t)
			p := newProvider(t, f, linodefake.Token)
			tc.inject(f)
			_, err := p.CreateInstance(context.Background(), smallCreate("a"))
			require.ErrorIs(t, err, cloud.ErrUnavailable)
			assert.Contains(t, err.Error(), "did not answer the request to create the Linode")
			assert.Equal(t, 1, f.Count(postInstance))
		})
	}
}

func TestMaintenanceIsNotRetried(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	f.Maintenance(10)
	_, err := p.Regions(context.Background())
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "maintenance")
	assert.Equal(t, 1, f.Count(getRegions))
}

func TestErrorWithoutErrorsArrayIsNotSuccess(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	// linodego on its own would report this as a Linode with id 0.
	f.FailRaw(1, http.StatusNotFound, "application/json", `{}`)
	_, err := p.Instance(context.Background(), "123")
	require.ErrorIs(t, err, cloud.ErrNotFound)
}

func TestAccountLimitIsQuota(t *testing.T) {
	f := linodefake.New(t, linodefake.WithInstanceLimit(1))
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	_, err := p.CreateInstance(ctx, smallCreate("a"))
	require.NoError(t, err)
	_, err = p.CreateInstance(ctx, smallCreate("b"))
	require.ErrorIs(t, err, cloud.ErrQuota)
	assert.Contains(t, err.Error(), "Account Limit reached")
	assert.Contains(t, err.Error(), "open a support ticket in Linode Cloud Manager")
	assert.Equal(t, 2, f.Count(postInstance), "quota is not retried")
}

func TestSoldOutIsCapacity(t *testing.T) {
	f := linodefake.New(t)
	f.SoldOut("us-east", "g6-dedicated-4")
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	_, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "us-east", InstanceType: "g6-dedicated-4"})
	require.ErrorIs(t, err, cloud.ErrCapacity)
	assert.Contains(t, err.Error(), "try another type or region")
	assert.Equal(t, 1, f.Count(postInstance))

	_, err = p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "eu-central", InstanceType: "g6-dedicated-4"})
	require.NoError(t, err, "the same type elsewhere")
}

func TestInvalidRequests(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  cloud.CreateRequest
		want string
	}{
		{"unknown type", cloud.CreateRequest{Name: "a", Region: "us-east", InstanceType: "g9-huge"}, "[type] A valid plan type by that ID was not found"},
		{"unknown region", cloud.CreateRequest{Name: "a", Region: "mars-1", InstanceType: "g6-nanode-1"}, "[region] Region is not valid"},
		{"user data without Metadata", cloud.CreateRequest{Name: "a", Region: "ap-south", InstanceType: "g6-nanode-1", UserData: "#!/bin/sh"}, "[metadata]"},
		{"bad SSH key", cloud.CreateRequest{Name: "a", Region: "us-east", InstanceType: "g6-nanode-1", SSHPublicKey: "not a key"}, "[authorized_keys]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.CreateInstance(ctx, tc.req)
			require.ErrorIs(t, err, cloud.ErrInvalid)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "HTTP 400")
		})
	}
	assert.Equal(t, 4, f.Count(postInstance), "none retried")
}

func TestWrongTokenOnEveryCall(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, "wrong")
	ctx := context.Background()
	_, err := p.Regions(ctx)
	assert.ErrorIs(t, err, cloud.ErrUnauthorized)
	_, err = p.InstanceTypes(ctx, "us-east")
	assert.ErrorIs(t, err, cloud.ErrUnauthorized)
	_, err = p.CreateInstance(ctx, smallCreate("a"))
	assert.ErrorIs(t, err, cloud.ErrUnauthorized)
	_, err = p.Instance(ctx, "1")
	assert.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.ErrorIs(t, p.DeleteInstance(ctx, "1"), cloud.ErrUnauthorized, "a rejected delete is not success")
	_, err = p.ListInstancesByTag(ctx, "daestro")
	assert.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Len(t, f.Calls(), 6, "none retried")
	assert.Equal(t, 1, f.Count(getTypes))
}

func TestCancellationStopsRetries(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token, linode.WithRetry(100, time.Second, time.Second))
	f.RateLimit(100, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Regions(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "returned promptly on cancellation")
	assert.Equal(t, 1, f.Count(getRegions))

	// A slow response is abandoned too.
	f2 := linodefake.New(t)
	f2.SetLatency(5 * time.Second)
	p2 := newProvider(t, f2, linodefake.Token)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start = time.Now()
	require.ErrorIs(t, p2.ValidateCredentials(ctx2), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
}

func TestHTTPClientTimeout(t *testing.T) {
	f := linodefake.New(t)
	f.SetLatency(time.Second)
	p := newProvider(t, f, linodefake.Token,
		linode.WithHTTPClient(&http.Client{Timeout: 20 * time.Millisecond}),
		linode.WithRetry(2, time.Millisecond, time.Millisecond))
	err := p.ValidateCredentials(context.Background())
	require.ErrorIs(t, err, cloud.ErrUnavailable, "a timed-out call is reported unavailable, for the caller to repeat")
	assert.Equal(t, 1, f.Count(getProfile), "a timeout is not throttling: tried once")
}

// TestSameNameTwiceRefused pins what makes a blind re-create safe on Linode:
// labels are unique in an account, so a second create with the same name is
// refused instead of starting a second machine.
func TestSameNameTwiceRefused(t *testing.T) {
	f := linodefake.New(t)
	p := newProvider(t, f, linodefake.Token)
	ctx := context.Background()
	_, err := p.CreateInstance(ctx, smallCreate("daestro-agent-7"))
	require.NoError(t, err)
	_, err = p.CreateInstance(ctx, smallCreate("daestro-agent-7"))
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Contains(t, err.Error(), "[label] Label must be unique")
	assert.Equal(t, 1, f.Instances())
}
