package vultr_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vultr/govultr/v3"
	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/vultrfake"
	"daestro/internal/cloud/vultr"
	"daestro/internal/domain"
)

// testKey returns a fresh OpenSSH public key line.
func testKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))) + " daestro@test"
}

// newProvider points a Provider at f with fast retries so throttling tests
// take milliseconds.
func newProvider(t *testing.T, f *vultrfake.Server, token string, opts ...vultr.Option) *vultr.Provider {
	t.Helper()
	opts = append([]vultr.Option{
		vultr.WithBaseURL(f.URL),
		vultr.WithRetry(4, time.Millisecond, 20*time.Millisecond),
	}, opts...)
	p, err := vultr.New(token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

// create makes an instance with defaults for the fields a test does not
// care about.
func create(t *testing.T, p *vultr.Provider, name string, tags ...string) cloud.Instance {
	t.Helper()
	in, err := p.CreateInstance(context.Background(), cloud.CreateRequest{Name: name, Region: "ewr", InstanceType: "vc2-1c-1gb", Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestValidateCredentials(t *testing.T) {
	f := vultrfake.New(t)
	ctx := context.Background()
	if err := newProvider(t, f, vultrfake.Token).ValidateCredentials(ctx); err != nil {
		t.Fatalf("good key: %v", err)
	}

	err := newProvider(t, f, "WRONGKEY").ValidateCredentials(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) {
		t.Fatalf("bad key: got %v, want ErrUnauthorized", err)
	}
	if !strings.HasPrefix(err.Error(), "Vultr rejected this API key: ") || !strings.Contains(err.Error(), "Invalid API token") {
		t.Errorf("bad key message = %q", err.Error())
	}
	if n := count(f.Calls(), "GET /v2/account"); n != 2 {
		t.Errorf("GET /v2/account called %d times, want 2 (a 401 is not retried)", n)
	}

	err = newProvider(t, f, "").ValidateCredentials(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) || !strings.Contains(err.Error(), "Account → API") {
		t.Errorf("empty key: got %v, want ErrUnauthorized saying where to find a key", err)
	}
	if _, err := newProvider(t, f, "").Regions(ctx); !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("empty key, other call: got %v, want ErrUnauthorized", err)
	}
	if n := len(f.Calls()); n != 2 {
		t.Errorf("%d calls, want none for an empty key", n-2)
	}

	// The key's IP access control answers 403 on the real API.
	f.FailNext(1, http.StatusForbidden, "Unauthorized IP address: 198.51.100.7")
	err = newProvider(t, f, vultrfake.Token).ValidateCredentials(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) || !strings.Contains(err.Error(), "198.51.100.7") || !strings.Contains(err.Error(), "IP address") {
		t.Errorf("IP not allowed: %v", err)
	}
}

func TestValidatorForRegistry(t *testing.T) {
	f := vultrfake.New(t)
	reg := cloud.NewRegistry()
	reg.Register(cloud.Vultr, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return vultr.New(c.AccessToken,
			vultr.WithBaseURL(f.URL), vultr.WithRetry(2, time.Millisecond, time.Millisecond))
	})
	ctx := context.Background()

	v, err := reg.Validate(ctx, cloud.Vultr, cloud.Credentials{AccessToken: vultrfake.Token}, "")
	if err != nil || v.Status != cloud.ValidationValid {
		t.Fatalf("good key: %+v, %v", v, err)
	}
	_, err = reg.Validate(ctx, cloud.Vultr, cloud.Credentials{AccessToken: "nope"}, "")
	if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), "Vultr rejected this API key") {
		t.Fatalf("bad key: code %q message %q", domain.ErrorCode(err), domain.ErrorMessage(err))
	}
	f.FailServer(2)
	_, err = reg.Validate(ctx, cloud.Vultr, cloud.Credentials{AccessToken: vultrfake.Token}, "")
	if domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Fatalf("Vultr down: code %q (%v), want unavailable", domain.ErrorCode(err), err)
	}
}

func TestRegionsAndInstanceTypes(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()

	regions, err := p.Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []cloud.Region{{ID: "ewr", Name: "New Jersey, US"}, {ID: "fra", Name: "Frankfurt, DE"}, {ID: "sgp", Name: "Singapore, SG"}}
	if fmt.Sprint(regions) != fmt.Sprint(want) {
		t.Errorf("regions = %v, want %v", regions, want)
	}

	types, err := p.InstanceTypes(ctx, "fra")
	if err != nil {
		t.Fatal(err)
	}
	wantTypes := []cloud.InstanceType{
		{ID: "vc2-1c-1gb", VCPU: 1, MemoryMB: 1024, HourlyPrice: 5.0 / 730},
		{ID: "vc2-2c-4gb", VCPU: 2, MemoryMB: 4096, HourlyPrice: 20.0 / 730},
	}
	if fmt.Sprint(types) != fmt.Sprint(wantTypes) {
		t.Errorf("fra types = %v, want %v", types, wantTypes)
	}

	ewr, err := p.InstanceTypes(ctx, "ewr")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range ewr {
		ids = append(ids, it.ID)
	}
	if got := strings.Join(ids, ","); got != "vc2-1c-1gb,vc2-2c-4gb,vhf-4c-16gb" {
		t.Errorf("ewr types = %s, want every type offered there but the IPv6-only plan", got)
	}
}

func TestListsFollowCursors(t *testing.T) {
	f := vultrfake.New(t, vultrfake.WithMaxPerPage(1))
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()

	regions, err := p.Regions(ctx)
	if err != nil || len(regions) != 3 {
		t.Fatalf("regions = %v, %v; want all 3 across pages", regions, err)
	}
	if n := count(f.Calls(), "GET /v2/regions"); n != 3 {
		t.Errorf("GET /v2/regions %d times, want 3 pages", n)
	}

	// The Ubuntu image is on the fourth page of the OS list.
	for i := range 5 {
		create(t, p, fmt.Sprintf("vm-%d", i), "env-7")
	}
	create(t, p, "other", "env-8")
	if c := f.Creates()[0]; c.OsID != vultrfake.UbuntuOSID {
		t.Errorf("os_id = %d, want %d", c.OsID, vultrfake.UbuntuOSID)
	}
	list, err := p.ListInstancesByTag(ctx, "env-7")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Errorf("list by tag = %d instances, want 5", len(list))
	}
	// One instance a page, the fifth answering with no next cursor.
	if n := count(f.Calls(), "GET /v2/instances"); n != 5 {
		t.Errorf("GET /v2/instances %d times, want 5 pages", n)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()

	key := testKey(t)
	req := cloud.CreateRequest{
		Name: "daestro-agent-1", Region: "ewr", InstanceType: "vc2-2c-4gb",
		UserData: "#cloud-config\nruncmd:\n  - echo hi\n", Tags: []string{"daestro", "env-42"},
		SSHPublicKey: key,
	}
	in, err := p.CreateInstance(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || in.Status != cloud.StatusPending || in.PublicIPv4 != "" || in.PublicIPv6 != "" {
		t.Errorf("created = %+v, want an id, pending, no IP yet (Vultr says 0.0.0.0)", in)
	}

	creates := f.Creates()
	if len(creates) != 1 {
		t.Fatalf("creates = %d", len(creates))
	}
	c := creates[0]
	if c.OsID != vultrfake.UbuntuOSID || c.Plan != "vc2-2c-4gb" || c.Region != "ewr" || c.Label != req.Name || c.Hostname != req.Name {
		t.Errorf("create body = %+v", c)
	}
	if c.EnableIPv6 == nil || !*c.EnableIPv6 {
		t.Errorf("enable_ipv6 = %v, want true", c.EnableIPv6)
	}
	ud, err := base64.StdEncoding.DecodeString(c.UserData)
	if err != nil || string(ud) != req.UserData {
		t.Errorf("user_data = %q (decodes to %q, %v), want the script base64-encoded", c.UserData, ud, err)
	}
	if strings.Join(c.Tags, ",") != "daestro,env-42" {
		t.Errorf("tags = %v", c.Tags)
	}
	keys := f.Keys()
	if len(keys) != 1 || len(c.SSHKeyIDs) != 1 || c.SSHKeyIDs[0] != keys[0].ID || !strings.HasPrefix(keys[0].Name, "daestro-") {
		t.Errorf("sshkey_id = %v, registered keys = %v: want the registered key's id", c.SSHKeyIDs, keys)
	}

	// A second create with the same key (another comment) reuses the
	// registered one and the cached OS id.
	fields := strings.Fields(key)
	if _, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "other", Region: "fra", InstanceType: "vc2-1c-1gb", Tags: []string{"other"}, SSHPublicKey: fields[0] + " " + fields[1] + " someone@else"}); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if n := count(calls, "POST /v2/ssh-keys"); n != 1 {
		t.Errorf("key registered %d times, want once", n)
	}
	if n := count(calls, "GET /v2/os"); n != 1 {
		t.Errorf("OS list fetched %d times, want once (cached)", n)
	}
	if c2 := f.Creates()[1]; len(c2.SSHKeyIDs) != 1 || c2.SSHKeyIDs[0] != keys[0].ID || c2.UserData != "" {
		t.Errorf("second create = %+v, want the same key id and no user_data", c2)
	}

	// pending → active but still booting (not running yet) → running.
	for i, want := range []string{cloud.StatusPending, cloud.StatusPending, cloud.StatusRunning} {
		got, err := p.Instance(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want {
			t.Errorf("get %d status = %q, want %q", i+1, got.Status, want)
		}
		if want == cloud.StatusRunning && (!strings.HasPrefix(got.PublicIPv4, "203.0.113.") || !strings.HasPrefix(got.PublicIPv6, "2001:db8:")) {
			t.Errorf("running instance = %+v, want public IPv4 and IPv6", got)
		}
	}

	list, err := p.ListInstancesByTag(ctx, "env-42")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != in.ID || strings.Join(list[0].Tags, ",") != "daestro,env-42" {
		t.Errorf("list by tag = %+v, want only %s", list, in.ID)
	}

	if err := p.DeleteInstance(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteInstance(ctx, in.ID); err != nil {
		t.Errorf("deleting again: %v, want success", err)
	}
	if _, err := p.Instance(ctx, in.ID); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}
	if list, err := p.ListInstancesByTag(ctx, "env-42"); err != nil || len(list) != 0 {
		t.Errorf("list after delete = %+v, %v", list, err)
	}
	if f.Instances() != 1 {
		t.Errorf("%d instances left, want the other one", f.Instances())
	}
}

func TestBadInputNeverReachesTheURL(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()
	if _, err := p.Instance(ctx, "../account"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("get with a path in the id: %v, want ErrNotFound", err)
	}
	if err := p.DeleteInstance(ctx, ""); err != nil {
		t.Errorf("delete of an empty id: %v, want success (nothing to delete)", err)
	}
	if _, err := p.ListInstancesByTag(ctx, ""); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("list with an empty tag: %v, want ErrInvalid", err)
	}
	if _, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "ewr", InstanceType: "vc2-1c-1gb", SSHPublicKey: "not a key"}); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("create with a bad key: %v, want ErrInvalid", err)
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("%d calls (%v), want only the OS lookup", n, f.Calls())
	}
}

func TestStatusWithDelay(t *testing.T) {
	f := vultrfake.New(t, vultrfake.WithReadyAfter(300*time.Millisecond))
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()
	in := create(t, p, "a")
	if got, _ := p.Instance(ctx, in.ID); got.Status != cloud.StatusPending {
		t.Errorf("before the delay: %q", got.Status)
	}
	time.Sleep(310 * time.Millisecond)
	if got, _ := p.Instance(ctx, in.ID); got.Status != cloud.StatusRunning || got.PublicIPv4 == "" {
		t.Errorf("after the delay: %+v", got)
	}
}

func TestRateLimitIsRetried(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()
	// Look the OS up first so the throttled calls are the creates.
	create(t, p, "warm-up")

	// Retry-After 1s exceeds the test's 20ms max wait, which caps it: the
	// test proves the header is honoured without waiting a whole second.
	f.RateLimit(2, 1)
	start := time.Now()
	in, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "ewr", InstanceType: "vc2-1c-1gb"})
	if err != nil {
		t.Fatalf("create after 2×429: %v", err)
	}
	if in.ID == "" || f.Instances() != 2 {
		t.Errorf("created %+v, instances %d", in, f.Instances())
	}
	if n := count(f.Calls(), "POST /v2/instances"); n != 1+3 {
		t.Errorf("POST /v2/instances %d times, want 1+3", n)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("retried after %v, want the capped Retry-After (20ms) twice", d)
	}

	// With a cap above the header, Retry-After is what the client waits.
	p = newProvider(t, f, vultrfake.Token, vultr.WithRetry(3, time.Millisecond, 5*time.Second))
	f.RateLimit(1, 1)
	start = time.Now()
	if _, err := p.Regions(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, want Retry-After: 1 honoured", d)
	}
}

func TestThrottledForeverIsUnavailable(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	f.RateLimit(10, 0)
	_, err := p.Regions(context.Background())
	if !errors.Is(err, cloud.ErrUnavailable) {
		t.Fatalf("after 429s: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "HTTP 429 after 4 attempts") || !strings.Contains(err.Error(), "try again later") {
		t.Errorf("message = %q", err.Error())
	}
	if n := count(f.Calls(), "GET /v2/regions"); n != 4 {
		t.Errorf("GET /v2/regions %d times, want 4 (govultr's own retries off)", n)
	}
}

// TestServerErrorsAreTriedOnce: a 5xx is not throttling, so the call is not
// repeated within itself; it says Vultr did not answer, and the caller's
// retry policy (the activity's) repeats it.
func TestServerErrorsAreTriedOnce(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()
	create(t, p, "warm-up")

	f.FailServer(1)
	_, err := p.Regions(ctx)
	if !errors.Is(err, cloud.ErrUnavailable) {
		t.Fatalf("after a 500: %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "did not answer the request to list regions (HTTP 500)") {
		t.Errorf("message = %q", err.Error())
	}
	if n := count(f.Calls(), "GET /v2/regions"); n != 1 {
		t.Errorf("GET /v2/regions %d times, want 1", n)
	}
	if _, err := p.Regions(ctx); err != nil {
		t.Fatalf("the repeat after the 500: %v", err)
	}

	// Nor is a create: the instance may exist already, which the caller
	// looks for by its tag before creating again.
	f2 := vultrfake.New(t)
	p2 := newProvider(t, f2, vultrfake.Token)
	create(t, p2, "warm-up")
	f2.FailServer(1)
	_, err = p2.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "ewr", InstanceType: "vc2-1c-1gb"})
	if !errors.Is(err, cloud.ErrUnavailable) {
		t.Errorf("create after 500: %v, want ErrUnavailable", err)
	}
	if n := count(f2.Calls(), "POST /v2/instances"); n != 2 {
		t.Errorf("POST /v2/instances %d times, want 2 (the failed one once)", n)
	}
}

func TestUnreachableAPIIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p, err := vultr.New(vultrfake.Token, vultr.WithBaseURL(url), vultr.WithRetry(3, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Regions(context.Background())
	if !errors.Is(err, cloud.ErrUnavailable) || strings.Contains(err.Error(), "attempts") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable API: %v, want ErrUnavailable naming the network error", err)
	}
	if _, err := vultr.New(vultrfake.Token, vultr.WithBaseURL("api.vultr.com")); err == nil {
		t.Error("a base URL without a scheme was accepted")
	}
}

func TestInstanceLimitIsQuota(t *testing.T) {
	f := vultrfake.New(t, vultrfake.WithInstanceLimit(1))
	p := newProvider(t, f, vultrfake.Token)
	create(t, p, "a")
	_, err := p.CreateInstance(context.Background(), cloud.CreateRequest{Name: "b", Region: "ewr", InstanceType: "vc2-1c-1gb"})
	if !errors.Is(err, cloud.ErrQuota) {
		t.Fatalf("over the limit: %v, want ErrQuota", err)
	}
	if !strings.Contains(err.Error(), "instance limit of 1") || !strings.Contains(err.Error(), "raise") {
		t.Errorf("message = %q", err.Error())
	}
	if n := count(f.Calls(), "POST /v2/instances"); n != 2 {
		t.Errorf("POST /v2/instances %d times, want 2 (quota is not retried)", n)
	}
}

func TestCapacityAndInvalidRequests(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	ctx := context.Background()

	f.SetSoldOut("vc2-2c-4gb", "fra", true)
	_, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "fra", InstanceType: "vc2-2c-4gb"})
	if !errors.Is(err, cloud.ErrCapacity) || !strings.Contains(err.Error(), "try another plan or region") {
		t.Errorf("sold out: %v, want ErrCapacity", err)
	}
	_, err = p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "sgp", InstanceType: "vhf-4c-16gb"})
	if !errors.Is(err, cloud.ErrCapacity) {
		t.Errorf("plan not offered in the region: %v, want ErrCapacity", err)
	}
	_, err = p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "ewr", InstanceType: "huge"})
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "Invalid plan") || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("unknown plan: %v, want ErrInvalid with Vultr's message", err)
	}
	if n := count(f.Calls(), "POST /v2/instances"); n != 3 {
		t.Errorf("POST /v2/instances %d times, want 3 (none retried)", n)
	}
	if f.Instances() != 0 {
		t.Errorf("%d instances created", f.Instances())
	}
}

func TestUnauthorizedMidSession(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token)
	in := create(t, p, "a")
	f.FailNext(1, http.StatusUnauthorized, "Invalid API token.")
	if _, err := p.Instance(context.Background(), in.ID); !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("revoked key: %v, want ErrUnauthorized", err)
	}
	f.FailNext(1, http.StatusUnauthorized, "Invalid API token.")
	if err := p.DeleteInstance(context.Background(), in.ID); !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("revoked key on delete: %v, want ErrUnauthorized, not a silent success", err)
	}
}

func TestCancellationStopsRetries(t *testing.T) {
	f := vultrfake.New(t)
	p := newProvider(t, f, vultrfake.Token, vultr.WithRetry(100, time.Second, time.Second))
	f.RateLimit(100, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Regions(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("returned after %v, want promptly on cancellation", d)
	}
	if n := count(f.Calls(), "GET /v2/regions"); n != 1 {
		t.Errorf("GET /v2/regions %d times, want 1", n)
	}

	// A slow response is abandoned too.
	f2 := vultrfake.New(t)
	f2.SetLatency(5 * time.Second)
	p2 := newProvider(t, f2, vultrfake.Token)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start = time.Now()
	if err := p2.ValidateCredentials(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %v, want promptly on cancellation", d)
	}
}

// TestContentTypeTrap pins the govultr behaviour the transport exists for,
// then shows the Provider is immune to it.
func TestContentTypeTrap(t *testing.T) {
	f := vultrfake.New(t)
	f.SetContentType("application/json; charset=utf-8")
	ctx := context.Background()

	// govultr alone: a nil account and a nil error.
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: vultrfake.Token}))
	raw := govultr.NewClient(hc)
	if err := raw.SetBaseURL(f.URL); err != nil {
		t.Fatal(err)
	}
	raw.SetRetryLimit(0)
	if a, _, err := raw.Account.Get(ctx); a != nil || err != nil {
		t.Errorf("govultr alone answered a charset response with (%v, %v), want (nil, nil): if govultr fixed the trap, the transport's Content-Type repair is redundant and this check can go", a, err)
	}

	// The Provider repairs the header and reads the body.
	p := newProvider(t, f, vultrfake.Token)
	regions, err := p.Regions(ctx)
	if err != nil || len(regions) != 3 {
		t.Errorf("regions with a charset = %v, %v; want all 3", regions, err)
	}
	in, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "ewr", InstanceType: "vc2-1c-1gb"})
	if err != nil || in.ID == "" {
		t.Errorf("create with a charset = %+v, %v", in, err)
	}

	// A body that is not JSON at all is an error, not an empty success.
	f.SetContentType("text/html")
	regions, err = p.Regions(ctx)
	if !errors.Is(err, cloud.ErrUnavailable) || !strings.Contains(err.Error(), `"text/html"`) {
		t.Errorf("regions as HTML = %v, %v; want ErrUnavailable naming the content type", regions, err)
	}
	_, err = p.CreateInstance(ctx, cloud.CreateRequest{Name: "b", Region: "ewr", InstanceType: "vc2-1c-1gb"})
	if !errors.Is(err, cloud.ErrUnavailable) || !strings.Contains(err.Error(), "list the machines by tag") {
		t.Errorf("create answered with HTML: %v, want ErrUnavailable saying how to find what it left", err)
	}
	if n := count(f.Calls(), "POST /v2/instances"); n != 2 {
		t.Errorf("POST /v2/instances %d times, want 2 (not repeated)", n)
	}
}
