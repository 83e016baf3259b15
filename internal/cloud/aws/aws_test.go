package aws_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/aws"
	"daestro/internal/cloud/cloudtest/ec2fake"
	"daestro/internal/domain"
)

// newProvider points a Provider for us-east-1 at f with fast retries so
// throttling tests take milliseconds.
func newProvider(t *testing.T, f *ec2fake.Server, accessKeyID string, opts ...aws.Option) *aws.Provider {
	t.Helper()
	return newProviderIn(t, f, accessKeyID, "us-east-1", opts...)
}

func newProviderIn(t *testing.T, f *ec2fake.Server, accessKeyID, region string, opts ...aws.Option) *aws.Provider {
	t.Helper()
	opts = append([]aws.Option{
		aws.WithBaseURL(f.URL),
		aws.WithRetry(4, time.Millisecond, 20*time.Millisecond),
	}, opts...)
	p, err := aws.New(accessKeyID, ec2fake.SecretAccessKey, region, opts...)
	require.NoError(t, err)
	return p
}

func count(calls []string, action string) int {
	n := 0
	for _, c := range calls {
		if c == action {
			n++
		}
	}
	return n
}

// agent is a typical create request.
func agent(name string, tags ...string) cloud.CreateRequest {
	return cloud.CreateRequest{
		Name: name, Region: "us-east-1", InstanceType: "t3.medium",
		UserData: "#cloud-config\nruncmd:\n  - echo hi\n", Tags: tags,
	}
}

func TestValidateCredentials(t *testing.T) {
	f := ec2fake.New(t)
	ctx := context.Background()
	require.NoError(t, newProvider(t, f, ec2fake.AccessKeyID).ValidateCredentials(ctx), "good key")

	err := newProvider(t, f, "AKIAWRONGWRONGWRONG").ValidateCredentials(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "AWS rejected this access key")
	assert.Contains(t, err.Error(), "update the cloud auth")
	assert.Equal(t, 2, count(f.Calls(), "DescribeRegions"), "an AuthFailure is not retried")

	err = newProvider(t, f, "").ValidateCredentials(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Equal(t, 2, count(f.Calls(), "DescribeRegions"), "an empty key is refused without a call")

	// A valid key without the IAM permission is refused too, saying which.
	f.Deny("DescribeRegions")
	err = newProvider(t, f, ec2fake.AccessKeyID).ValidateCredentials(ctx)
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "does not allow ec2:DescribeRegions")
}

func TestValidatorForRegistry(t *testing.T) {
	f := ec2fake.New(t)
	reg := cloud.NewRegistry()
	reg.Register(cloud.AWS, aws.NewFactory(aws.WithBaseURL(f.URL), aws.WithRetry(2, time.Millisecond, time.Millisecond)))
	ctx := context.Background()
	good := cloud.Credentials{AccessKeyID: ec2fake.AccessKeyID, SecretAccessKey: ec2fake.SecretAccessKey}

	v, err := reg.Validate(ctx, cloud.AWS, good, "")
	require.NoError(t, err)
	assert.Equal(t, cloud.ValidationValid, v.Status)

	_, err = reg.Validate(ctx, cloud.AWS, cloud.Credentials{AccessKeyID: "AKIANOPENOPENOPE", SecretAccessKey: "x"}, "eu-west-1")
	assert.Equal(t, domain.EINVALID, domain.ErrorCode(err))
	assert.Contains(t, domain.ErrorMessage(err), "AWS rejected this access key")

	f.FailServer(2)
	_, err = reg.Validate(ctx, cloud.AWS, good, "")
	assert.Equal(t, domain.EUNAVAILABLE, domain.ErrorCode(err), "AWS down: %v", err)
}

func TestNewNeedsRegion(t *testing.T) {
	_, err := aws.New(ec2fake.AccessKeyID, ec2fake.SecretAccessKey, "")
	require.ErrorIs(t, err, cloud.ErrInvalid)
}

func TestRegionsAndInstanceTypes(t *testing.T) {
	f := ec2fake.New(t, ec2fake.WithPageSize(2))
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	regions, err := p.Regions(ctx)
	require.NoError(t, err)
	assert.Equal(t, []cloud.Region{
		{ID: "us-east-1", Name: "US East (N. Virginia)"},
		{ID: "eu-west-1", Name: "Europe (Ireland)"},
		{ID: "ap-southeast-2", Name: "Asia Pacific (Sydney)"},
	}, regions)

	types, err := p.InstanceTypes(ctx, "")
	require.NoError(t, err)
	var ids []string
	for _, it := range types {
		ids = append(ids, it.ID)
	}
	assert.Equal(t, []string{"c6i.xlarge", "m5.large", "r6i.2xlarge", "t3.medium", "t3.micro"}, ids,
		"the region's x86_64 types, sorted; the arm64 m7g.large cannot boot the amd64 image")
	assert.Contains(t, types, cloud.InstanceType{ID: "t3.medium", VCPU: 2, MemoryMB: 4096, HourlyPrice: 0})
	assert.Equal(t, 3, count(f.Calls(), "DescribeInstanceTypes"), "5 types in pages of 2")

	// Another region is asked in that region.
	types, err = p.InstanceTypes(ctx, "ap-southeast-2")
	require.NoError(t, err)
	assert.Equal(t, []cloud.InstanceType{{ID: "t3.medium", VCPU: 2, MemoryMB: 4096}, {ID: "t3.micro", VCPU: 2, MemoryMB: 1024}}, types)
}

func TestInstanceLifecycle(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	req := agent("daestro-agent-1", "daestro", "env-42")
	req.SSHPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9 daestro@test"
	in, err := p.CreateInstance(ctx, req)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(in.ID, "i-"), in.ID)
	assert.Equal(t, cloud.StatusPending, in.Status)
	assert.Empty(t, in.PublicIPv4, "no address before it runs")
	assert.Equal(t, []string{"daestro", "env-42"}, in.Tags)

	runs := f.Runs()
	require.Len(t, runs, 1)
	r := runs[0]
	assert.Equal(t, ec2fake.ImageID("us-east-1", ec2fake.NobleAMD64), r.ImageID,
		"the newest Canonical Ubuntu 24.04 amd64 image: not an older build, the arm64 one or a look-alike from another account")
	assert.Equal(t, "t3.medium", r.InstanceType)
	assert.Equal(t, 1, r.MinCount)
	assert.Equal(t, 1, r.MaxCount)
	decoded, err := base64.StdEncoding.DecodeString(r.UserDataBase64)
	require.NoError(t, err, "user data is sent base64-encoded")
	assert.Equal(t, req.UserData, string(decoded))
	assert.Equal(t, []ec2fake.Tag{{Key: "Name", Value: "daestro-agent-1"}, {Key: "daestro", Value: "true"}, {Key: "env-42", Value: "true"}}, r.Tags)
	assert.Equal(t, aws.ClientToken("daestro-agent-1"), r.ClientToken)
	assert.LessOrEqual(t, len(r.ClientToken), 64)
	assert.Empty(t, r.KeyName, "the SSH key travels in the user data")
	assert.Equal(t, "terminate", r.ShutdownBehavior)
	assert.Equal(t, "required", r.MetadataHTTPTokens, "IMDSv2 only")
	assert.Equal(t, "1", r.MetadataHopLimit, "containers, one hop further, cannot reach the metadata service")

	got, err := p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusPending, got.Status, "first describe")
	got, err = p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusRunning, got.Status, "second describe")
	assert.True(t, strings.HasPrefix(got.PublicIPv4, "203.0.113."), got.PublicIPv4)
	assert.Empty(t, got.PublicIPv6, "the default VPC has no IPv6")

	// Another machine reuses the cached image lookup.
	other, err := p.CreateInstance(ctx, agent("daestro-agent-2", "daestro", "env-7"))
	require.NoError(t, err)
	assert.Equal(t, 1, count(f.Calls(), "DescribeImages"))

	list, err := p.ListInstancesByTag(ctx, "env-42")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, in.ID, list[0].ID)
	assert.Equal(t, []string{"daestro", "env-42"}, list[0].Tags)
	list, err = p.ListInstancesByTag(ctx, "daestro")
	require.NoError(t, err)
	assert.Len(t, list, 2)
	list, err = p.ListInstancesByTag(ctx, "env*")
	require.NoError(t, err)
	assert.Empty(t, list, "a tag is matched literally, not as a wildcard")

	require.NoError(t, p.DeleteInstance(ctx, in.ID))
	got, err = p.Instance(ctx, in.ID)
	require.NoError(t, err, "EC2 lists a terminated instance for a while")
	assert.Equal(t, cloud.StatusTerminating, got.Status)
	got, err = p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusTerminated, got.Status)
	assert.Empty(t, got.PublicIPv4)
	require.NoError(t, p.DeleteInstance(ctx, in.ID), "deleting again succeeds")

	list, err = p.ListInstancesByTag(ctx, "daestro")
	require.NoError(t, err)
	require.Len(t, list, 1, "terminated machines are not listed")
	assert.Equal(t, other.ID, list[0].ID)
}

func TestGoneMachines(t *testing.T) {
	f := ec2fake.New(t, ec2fake.WithTerminatedVisibleFor(time.Millisecond))
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	in, err := p.CreateInstance(ctx, agent("gone"))
	require.NoError(t, err)
	require.NoError(t, p.DeleteInstance(ctx, in.ID))
	time.Sleep(5 * time.Millisecond)
	_, err = p.Instance(ctx, in.ID)
	require.ErrorIs(t, err, cloud.ErrNotFound)
	assert.Equal(t, 4, count(f.Calls(), "DescribeInstances"), "not found is retried before it is believed")
	require.NoError(t, p.DeleteInstance(ctx, in.ID), "a machine that is gone counts as deleted")

	_, err = p.Instance(ctx, "i-0123456789abcdef0")
	require.ErrorIs(t, err, cloud.ErrNotFound)

	before := len(f.Calls())
	_, err = p.Instance(ctx, "")
	require.ErrorIs(t, err, cloud.ErrInvalid, "an empty id would list every instance")
	require.ErrorIs(t, p.DeleteInstance(ctx, "droplet-1"), cloud.ErrInvalid)
	assert.Len(t, f.Calls(), before)

	_, err = p.Instance(ctx, "i-nothex")
	require.ErrorIs(t, err, cloud.ErrInvalid)
}

// TestEventualConsistency: right after RunInstances EC2 may not know the new
// id; a delete then must not take "not found" for "already gone" and leak
// the machine.
func TestEventualConsistency(t *testing.T) {
	f := ec2fake.New(t, ec2fake.WithEventualConsistency(2))
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	in, err := p.CreateInstance(ctx, agent("fresh-1"))
	require.NoError(t, err)
	got, err := p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, in.ID, got.ID)

	in, err = p.CreateInstance(ctx, agent("fresh-2"))
	require.NoError(t, err)
	require.NoError(t, p.DeleteInstance(ctx, in.ID))
	assert.Equal(t, 1, f.Instances(), "the second machine was terminated, not leaked")
}

func TestIPv6AndRunningAfterDelay(t *testing.T) {
	f := ec2fake.New(t, ec2fake.WithIPv6(), ec2fake.WithRunningAfter(50*time.Millisecond))
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()
	in, err := p.CreateInstance(ctx, agent("v6"))
	require.NoError(t, err)
	got, err := p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusPending, got.Status)
	got, err = p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusPending, got.Status, "still before the delay")
	time.Sleep(60 * time.Millisecond)
	got, err = p.Instance(ctx, in.ID)
	require.NoError(t, err)
	assert.Equal(t, cloud.StatusRunning, got.Status)
	assert.True(t, strings.HasPrefix(got.PublicIPv6, "2001:db8:"), got.PublicIPv6)
}

func TestCreateIsIdempotentByName(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	a, err := p.CreateInstance(ctx, agent("spawn-1", "daestro"))
	require.NoError(t, err)
	b, err := p.CreateInstance(ctx, agent("spawn-1", "daestro"))
	require.NoError(t, err)
	assert.Equal(t, a.ID, b.ID, "a repeated create returns the first machine")
	assert.Equal(t, 1, f.Instances())

	// The answer to a create is lost: the call is tried once and says so;
	// the caller's retry policy repeats it with the same token and gets
	// the machine the lost call started.
	f.LoseAnswers("RunInstances", 1)
	_, err = p.CreateInstance(ctx, agent("spawn-2", "daestro"))
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "cannot start a second machine")
	assert.Equal(t, 3, count(f.Calls(), "RunInstances"), "a lost answer is not repeated within the call")
	c, err := p.CreateInstance(ctx, agent("spawn-2", "daestro"))
	require.NoError(t, err)
	assert.Equal(t, 2, f.Instances(), "one machine for spawn-2, not two")
	assert.Equal(t, 4, count(f.Calls(), "RunInstances"))

	// Same name, other settings.
	req := agent("spawn-2", "daestro")
	req.InstanceType = "m5.large"
	_, err = p.CreateInstance(ctx, req)
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Contains(t, err.Error(), "a name of its own")

	// A name reused after its machine was terminated.
	require.NoError(t, p.DeleteInstance(ctx, c.ID))
	_, err = p.CreateInstance(ctx, agent("spawn-2", "daestro"))
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Contains(t, err.Error(), "already started")
	assert.Equal(t, 1, f.Instances())
}

func TestCreateChecksItsInput(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	req := agent("elsewhere")
	req.Region = "eu-west-1"
	_, err := p.CreateInstance(ctx, req)
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Contains(t, err.Error(), "use a provider built for eu-west-1")

	_, err = p.CreateInstance(ctx, agent(""))
	require.ErrorIs(t, err, cloud.ErrInvalid)
	_, err = p.CreateInstance(ctx, agent("x", "Name"))
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Empty(t, f.Calls(), "refused before any call")

	req = agent("huge")
	req.InstanceType = "t3.huge"
	_, err = p.CreateInstance(ctx, req)
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Contains(t, err.Error(), "t3.huge")
	assert.Equal(t, 1, count(f.Calls(), "RunInstances"), "a refused request is not retried")
}

func TestThrottlingIsRetried(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	f.Throttle(2)
	_, err := p.Regions(ctx)
	require.NoError(t, err, "after 2 throttled calls")
	assert.Equal(t, 3, count(f.Calls(), "DescribeRegions"))

	f.Throttle(3)
	in, err := p.CreateInstance(ctx, agent("throttled"))
	require.NoError(t, err)
	assert.NotEmpty(t, in.ID)
	assert.Equal(t, 1, f.Instances())

	// A server error is not throttling: it is tried once, for the
	// caller's retry policy to repeat.
	before := count(f.Calls(), "DescribeRegions")
	f.FailServer(1)
	_, err = p.Regions(ctx)
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "(InternalError)")
	assert.Equal(t, before+1, count(f.Calls(), "DescribeRegions"))
	_, err = p.Regions(ctx)
	require.NoError(t, err, "the repeat after the server error")
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	f := ec2fake.New(t)
	ctx := context.Background()

	// The hint (30ms) is above the backoff (1ms), so it is what is waited.
	p := newProvider(t, f, ec2fake.AccessKeyID, aws.WithRetry(4, time.Millisecond, time.Second))
	f.ThrottleWithRetryAfter(2, 30*time.Millisecond)
	start := time.Now()
	_, err := p.Regions(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)

	// A 10s hint is capped at the 20ms maximum wait.
	p = newProvider(t, f, ec2fake.AccessKeyID)
	f.ThrottleWithRetryAfter(1, 10*time.Second)
	start = time.Now()
	_, err = p.Regions(ctx)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestThrottledForeverIsUnavailable(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	f.Throttle(10)
	_, err := p.Regions(ctx)
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "RequestLimitExceeded after 4 attempts")
	assert.Equal(t, 4, count(f.Calls(), "DescribeRegions"))

	f2 := ec2fake.New(t)
	f2.FailServer(10)
	_, err = newProvider(t, f2, ec2fake.AccessKeyID).ListInstancesByTag(ctx, "daestro")
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Contains(t, err.Error(), "(InternalError)", "a server error is tried once")
	assert.Equal(t, 1, count(f2.Calls(), "DescribeInstances"))
}

func TestNoCapacityFailsFast(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID, aws.WithRetry(5, 200*time.Millisecond, time.Second))
	ctx := context.Background()

	f.NoCapacity(5)
	start := time.Now()
	_, err := p.CreateInstance(ctx, agent("sold-out"))
	require.ErrorIs(t, err, cloud.ErrCapacity)
	assert.Contains(t, err.Error(), "AWS has no capacity for t3.medium in us-east-1 right now")
	assert.Contains(t, err.Error(), "try another instance type or region")
	assert.Equal(t, 1, count(f.Calls(), "RunInstances"), "capacity is not retried")
	assert.Less(t, time.Since(start), 150*time.Millisecond, "no backoff either")

	// A type the region does not offer at all is the same for the caller.
	f2 := ec2fake.New(t)
	sydney := newProviderIn(t, f2, ec2fake.AccessKeyID, "ap-southeast-2")
	req := agent("compute")
	req.Region, req.InstanceType = "ap-southeast-2", "c6i.xlarge"
	_, err = sydney.CreateInstance(ctx, req)
	require.ErrorIs(t, err, cloud.ErrCapacity)
}

func TestLimitsAreQuota(t *testing.T) {
	f := ec2fake.New(t, ec2fake.WithVCPULimit(4))
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	for _, name := range []string{"a", "b"} {
		_, err := p.CreateInstance(ctx, agent(name))
		require.NoError(t, err)
	}
	_, err := p.CreateInstance(ctx, agent("c"))
	require.ErrorIs(t, err, cloud.ErrQuota)
	assert.Contains(t, err.Error(), "raise the limit in Service Quotas")
	assert.Contains(t, err.Error(), "vCPU limit of 4")
	assert.Equal(t, 3, count(f.Calls(), "RunInstances"), "a limit is not retried")

	f.InstanceLimitExceeded(1)
	_, err = p.CreateInstance(ctx, agent("d"))
	require.ErrorIs(t, err, cloud.ErrQuota)
	f.VcpuLimitExceeded(1)
	_, err = p.CreateInstance(ctx, agent("e"))
	require.ErrorIs(t, err, cloud.ErrQuota)
}

func TestAuthFailuresAreUnauthorized(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	f.FailAuth(1)
	_, err := p.ListInstancesByTag(ctx, "daestro")
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Equal(t, 1, count(f.Calls(), "DescribeInstances"))

	f.Deny("RunInstances")
	_, err = p.CreateInstance(ctx, agent("denied"))
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "does not allow ec2:RunInstances")
}

func TestCancellationStopsRetries(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID, aws.WithRetry(100, time.Second, time.Second))
	f.Throttle(100)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Regions(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "returns promptly on cancellation")
	assert.Equal(t, 1, count(f.Calls(), "DescribeRegions"))

	// A slow answer is abandoned too.
	f2 := ec2fake.New(t)
	f2.SetLatency(5 * time.Second)
	p2 := newProvider(t, f2, ec2fake.AccessKeyID)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start = time.Now()
	require.ErrorIs(t, p2.ValidateCredentials(ctx2), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestFactory(t *testing.T) {
	f := ec2fake.New(t)
	open := aws.NewFactory(aws.WithBaseURL(f.URL))
	p, err := open(cloud.Credentials{AccessKeyID: ec2fake.AccessKeyID, SecretAccessKey: ec2fake.SecretAccessKey}, "eu-west-1")
	require.NoError(t, err)
	types, err := p.InstanceTypes(context.Background(), "")
	require.NoError(t, err)
	assert.Len(t, types, 3, "eu-west-1's x86_64 types: the provider works in the region it was opened for")

	// A cloud auth without a default region: account-level calls go to
	// AWS's default region.
	p, err = open(cloud.Credentials{AccessKeyID: ec2fake.AccessKeyID, SecretAccessKey: ec2fake.SecretAccessKey}, "")
	require.NoError(t, err)
	assert.Equal(t, aws.DefaultRegion, p.(*aws.Provider).Region())
}
