package digitalocean_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
	"daestro/internal/cloud/digitalocean"
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
func newProvider(t *testing.T, f *dofake.Server, token string, opts ...digitalocean.Option) *digitalocean.Provider {
	t.Helper()
	opts = append([]digitalocean.Option{
		digitalocean.WithBaseURL(f.URL),
		digitalocean.WithRetry(4, time.Millisecond, 20*time.Millisecond),
	}, opts...)
	p, err := digitalocean.New(token, opts...)
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

func TestValidateCredentials(t *testing.T) {
	f := dofake.New(t)
	ctx := context.Background()
	if err := newProvider(t, f, dofake.Token).ValidateCredentials(ctx); err != nil {
		t.Fatalf("good token: %v", err)
	}

	err := newProvider(t, f, "dop_v1_wrong").ValidateCredentials(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) {
		t.Fatalf("bad token: got %v, want ErrUnauthorized", err)
	}
	if !strings.Contains(err.Error(), "DigitalOcean rejected this access token") {
		t.Errorf("bad token message = %q", err.Error())
	}
	if n := count(f.Calls(), "GET /v2/account"); n != 2 {
		t.Errorf("GET /v2/account called %d times, want 2 (a 401 is not retried)", n)
	}

	err = newProvider(t, f, "").ValidateCredentials(ctx)
	if !errors.Is(err, cloud.ErrUnauthorized) {
		t.Errorf("empty token: got %v, want ErrUnauthorized", err)
	}
}

func TestValidatorForRegistry(t *testing.T) {
	f := dofake.New(t)
	reg := cloud.NewRegistry()
	reg.Register(cloud.DigitalOcean, func(c cloud.Credentials, _ string) (cloud.Provider, error) {
		return digitalocean.New(c.AccessToken,
			digitalocean.WithBaseURL(f.URL), digitalocean.WithRetry(2, time.Millisecond, time.Millisecond))
	})
	ctx := context.Background()

	v, err := reg.Validate(ctx, cloud.DigitalOcean, cloud.Credentials{AccessToken: dofake.Token}, "")
	if err != nil || v.Status != cloud.ValidationValid {
		t.Fatalf("good token: %+v, %v", v, err)
	}
	_, err = reg.Validate(ctx, cloud.DigitalOcean, cloud.Credentials{AccessToken: "nope"}, "")
	if domain.ErrorCode(err) != domain.EINVALID || !strings.Contains(domain.ErrorMessage(err), "DigitalOcean rejected this access token") {
		t.Fatalf("bad token: code %q message %q", domain.ErrorCode(err), domain.ErrorMessage(err))
	}
	f.FailServer(2)
	_, err = reg.Validate(ctx, cloud.DigitalOcean, cloud.Credentials{AccessToken: dofake.Token}, "")
	if domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Fatalf("DigitalOcean down: code %q (%v), want unavailable", domain.ErrorCode(err), err)
	}
}

func TestRegionsAndInstanceTypes(t *testing.T) {
	f := dofake.New(t)
	p := newProvider(t, f, dofake.Token)
	ctx := context.Background()

	regions, err := p.Regions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range regions {
		ids = append(ids, r.ID)
	}
	if got := strings.Join(ids, ","); got != "nyc3,fra1" {
		t.Errorf("regions = %s, want nyc3,fra1 (unavailable sfo1 left out)", got)
	}
	if regions[0].Name != "New York 3" {
		t.Errorf("region name = %q", regions[0].Name)
	}

	types, err := p.InstanceTypes(ctx, "fra1")
	if err != nil {
		t.Fatal(err)
	}
	if len(types) != 2 {
		t.Fatalf("fra1 types = %+v, want the 2 sizes offered there", types)
	}
	want := cloud.InstanceType{ID: "s-2vcpu-4gb", VCPU: 2, MemoryMB: 4096, HourlyPrice: 0.03571}
	if types[1] != want {
		t.Errorf("type = %+v, want %+v", types[1], want)
	}
	nyc, err := p.InstanceTypes(ctx, "nyc3")
	if err != nil || len(nyc) != 3 {
		t.Errorf("nyc3 types = %+v, %v; want 3", nyc, err)
	}
}

func TestInstanceLifecycle(t *testing.T) {
	f := dofake.New(t)
	p := newProvider(t, f, dofake.Token)
	ctx := context.Background()

	key := testKey(t)
	req := cloud.CreateRequest{
		Name: "daestro-agent-1", Region: "nyc3", InstanceType: "s-2vcpu-4gb",
		UserData: "#cloud-config\nruncmd:\n  - echo hi\n", Tags: []string{"daestro", "env-42"},
		SSHPublicKey: key,
	}
	in, err := p.CreateInstance(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || in.Status != cloud.StatusPending || in.PublicIPv4 != "" {
		t.Errorf("created = %+v, want an id, pending, no IP yet", in)
	}

	creates := f.Creates()
	if len(creates) != 1 {
		t.Fatalf("creates = %d", len(creates))
	}
	c := creates[0]
	if c.Image != "ubuntu-24-04-x64" || c.Size != "s-2vcpu-4gb" || c.Region != "nyc3" || c.Name != req.Name {
		t.Errorf("create body = %+v", c)
	}
	if c.UserData != req.UserData {
		t.Errorf("user_data = %q, want it verbatim as plain text", c.UserData)
	}
	if strings.Join(c.Tags, ",") != "daestro,env-42" {
		t.Errorf("tags = %v", c.Tags)
	}
	if keys := f.Keys(); len(keys) != 1 || len(c.SSHKeys) != 1 || c.SSHKeys[0] != keys[0] {
		t.Errorf("ssh_keys = %v, registered keys = %v: want the registered key's fingerprint", c.SSHKeys, keys)
	}

	// A second create with the same key reuses the registered one.
	if _, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "other", Region: "fra1", InstanceType: "s-1vcpu-1gb", Tags: []string{"other"}, SSHPublicKey: key}); err != nil {
		t.Fatal(err)
	}
	if n := count(f.Calls(), "POST /v2/account/keys"); n != 1 {
		t.Errorf("key registered %d times, want once", n)
	}

	got, err := p.Instance(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != cloud.StatusPending {
		t.Errorf("first get status = %q, want pending", got.Status)
	}
	got, err = p.Instance(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != cloud.StatusRunning || !strings.HasPrefix(got.PublicIPv4, "203.0.113.") || got.PublicIPv6 == "" {
		t.Errorf("second get = %+v, want running with public IPs", got)
	}

	list, err := p.ListInstancesByTag(ctx, "env-42")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != in.ID {
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
	if list, _ := p.ListInstancesByTag(ctx, "env-42"); len(list) != 0 {
		t.Errorf("list after delete = %+v", list)
	}
}

func TestStatusWithDelay(t *testing.T) {
	f := dofake.New(t, dofake.WithActiveAfter(50*time.Millisecond))
	p := newProvider(t, f, dofake.Token)
	ctx := context.Background()
	in, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "nyc3", InstanceType: "c-4"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Instance(ctx, in.ID); got.Status != cloud.StatusPending {
		t.Errorf("before the delay: %q", got.Status)
	}
	time.Sleep(60 * time.Millisecond)
	if got, _ := p.Instance(ctx, in.ID); got.Status != cloud.StatusRunning {
		t.Errorf("after the delay: %q", got.Status)
	}
}

func TestRateLimitIsRetried(t *testing.T) {
	f := dofake.New(t)
	// Retry-After 1s exceeds the test's 20ms max wait, which caps it: the
	// test proves the header is honoured without waiting a whole second.
	p := newProvider(t, f, dofake.Token)
	f.RateLimit(2, 1)
	start := time.Now()
	in, err := p.CreateInstance(context.Background(), cloud.CreateRequest{Name: "a", Region: "nyc3", InstanceType: "c-4"})
	if err != nil {
		t.Fatalf("create after 2×429: %v", err)
	}
	if in.ID == "" || f.Droplets() != 1 {
		t.Errorf("created %+v, droplets %d", in, f.Droplets())
	}
	if n := count(f.Calls(), "POST /v2/droplets"); n != 3 {
		t.Errorf("POST /v2/droplets %d times, want 3", n)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("retried after %v, want the capped Retry-After (20ms) twice", d)
	}

	// With a cap above the header, Retry-After is what the client waits.
	p = newProvider(t, f, dofake.Token, digitalocean.WithRetry(3, time.Millisecond, 5*time.Second))
	f.RateLimit(1, 1)
	start = time.Now()
	if _, err := p.Regions(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %v, want Retry-After: 1 honoured", d)
	}
}

func TestDropletLimitIsQuota(t *testing.T) {
	f := dofake.New(t, dofake.WithDropletLimit(1))
	p := newProvider(t, f, dofake.Token)
	ctx := context.Background()
	if _, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "nyc3", InstanceType: "c-4"}); err != nil {
		t.Fatal(err)
	}
	_, err := p.CreateInstance(ctx, cloud.CreateRequest{Name: "b", Region: "nyc3", InstanceType: "c-4"})
	if !errors.Is(err, cloud.ErrQuota) {
		t.Fatalf("over the limit: %v, want ErrQuota", err)
	}
	if !strings.Contains(err.Error(), "droplet limit") {
		t.Errorf("message = %q", err.Error())
	}
	if n := count(f.Calls(), "POST /v2/droplets"); n != 2 {
		t.Errorf("POST /v2/droplets %d times, want 2 (quota is not retried)", n)
	}
}

func TestUnknownSizeIsPermanent(t *testing.T) {
	f := dofake.New(t)
	p := newProvider(t, f, dofake.Token)
	_, err := p.CreateInstance(context.Background(), cloud.CreateRequest{Name: "a", Region: "nyc3", InstanceType: "huge"})
	if !errors.Is(err, cloud.ErrCapacity) {
		t.Fatalf("unknown size: %v, want ErrCapacity (try another size)", err)
	}
}

// TestServerErrorsAreTriedOnce: a 5xx is not throttling, so the call is
// not repeated within itself; it says DigitalOcean did not answer, and the
// caller's retry policy (the activity's) repeats it.
func TestServerErrorsAreTriedOnce(t *testing.T) {
	f := dofake.New(t)
	p := newProvider(t, f, dofake.Token)
	ctx := context.Background()

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

	// Nor is a create: the droplet may exist already, which the caller
	// looks for by its tag before creating again.
	f.FailServer(1)
	_, err = p.CreateInstance(ctx, cloud.CreateRequest{Name: "a", Region: "nyc3", InstanceType: "c-4"})
	if !errors.Is(err, cloud.ErrUnavailable) {
		t.Errorf("create after 500: %v, want ErrUnavailable", err)
	}
	if n := count(f.Calls(), "POST /v2/droplets"); n != 1 {
		t.Errorf("POST /v2/droplets %d times, want 1", n)
	}
}

func TestCancellationStopsRetries(t *testing.T) {
	f := dofake.New(t)
	p := newProvider(t, f, dofake.Token, digitalocean.WithRetry(100, time.Second, time.Second))
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
	f2 := dofake.New(t)
	f2.SetLatency(5 * time.Second)
	p2 := newProvider(t, f2, dofake.Token)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := p2.ValidateCredentials(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v, want the context's error", err)
	}
}
