// Package aws implements cloud.Provider on Amazon EC2 with the official SDK,
// aws-sdk-go-v2.
//
// A Provider works in one region, the one given to New: EC2 is regional, and
// an instance id alone does not say where the instance lives, so Instance,
// DeleteInstance and ListInstancesByTag look only there, and CreateInstance
// refuses another region rather than start a machine the other methods could
// not find again. To cover an account, build one Provider per region (New
// does no I/O).
//
// Tags: EC2 tags are key/value pairs while daestro's are plain strings, so
// each string of CreateRequest.Tags becomes a tag with that key and the value
// "true" (TagValue), and the instance also gets a Name tag with
// CreateRequest.Name so people recognize it in the AWS console.
// Instance.Tags lists the keys whose value is "true", Name excluded, which
// are exactly the strings given at creation.
//
// Network: machines start in the region's default VPC with one of two
// security groups daestro keeps there (see securitygroups.go):
// daestro-agents, with no inbound rule, or, for a machine with an SSH key,
// daestro-agents-ssh, which admits TCP 22 from anywhere and nothing else.
// Both allow all outbound traffic. They are created on first use, tagged
// managed-by=daestro, and never deleted: they cost nothing and other
// machines may be using them.
//
// IAM: the access key needs ec2:DescribeRegions, ec2:DescribeInstanceTypes,
// ec2:DescribeImages, ec2:DescribeInstances, ec2:DescribeVpcs,
// ec2:DescribeSecurityGroups, ec2:CreateSecurityGroup,
// ec2:AuthorizeSecurityGroupIngress, ec2:RunInstances, ec2:CreateTags (for
// the tags given at creation) and ec2:TerminateInstances (IAMActions).
package aws

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"daestro/internal/cloud"
)

// Image lookup: the newest Ubuntu 24.04 LTS amd64 image Canonical publishes
// in the region. The owner matters: anyone can publish an AMI with this name.
const (
	// UbuntuOwner is Canonical's AWS account id.
	UbuntuOwner = "099720109477"
	// UbuntuImageName is the name pattern of Canonical's Ubuntu 24.04 amd64
	// server images on gp3 volumes.
	UbuntuImageName = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
)

// TagValue is the value of the EC2 tag each of CreateRequest.Tags becomes.
const TagValue = "true"

// NameTag is the EC2 tag holding CreateRequest.Name; it cannot be one of
// CreateRequest.Tags.
const NameTag = "Name"

// DefaultRegion is where the Validator checks keys when no region is given.
const DefaultRegion = "us-east-1"

// IAMActions are the EC2 actions the access key's IAM policy must allow,
// the list a user writes the policy from; errors for a denied call repeat
// it.
var IAMActions = []string{
	"ec2:DescribeRegions", "ec2:DescribeInstanceTypes", "ec2:DescribeImages", "ec2:DescribeInstances",
	"ec2:DescribeVpcs", "ec2:DescribeSecurityGroups", "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
	"ec2:RunInstances", "ec2:CreateTags", "ec2:TerminateInstances",
}

// liveStates are the states ListInstancesByTag reports: everything but
// terminated, since a stopped instance still bills for its volume.
var liveStates = []string{"pending", "running", "shutting-down", "stopping", "stopped"}

// Provider talks to EC2 in one region of one AWS account. It is safe for
// concurrent use.
type Provider struct {
	// client is the EC2 client; its retryer implements WithRetry.
	client *ec2.Client
	// sts is the STS client, for the account the key belongs to.
	sts *sts.Client
	// region is the region every call acts in, unless it names another.
	region string
	// accessKeyID and secretSet are kept only to fail fast on empty keys.
	accessKeyID string
	secretSet   bool
	// cfg holds the options.
	cfg config

	// mu guards images and groups.
	mu sync.Mutex
	// images caches the Ubuntu AMI id per region: one lookup per Provider
	// and region rather than one per machine.
	images map[string]string
	// groups caches the ids of daestro's security groups by region and
	// name (groupKey), for the same reason.
	groups map[string]string
}

var _ cloud.Provider = (*Provider)(nil)

// config is what the options set.
type config struct {
	// baseURL replaces EC2's endpoint when set.
	baseURL string
	// retry is WithRetry's bounds.
	retry cloud.RetryConfig
	// httpClient sends the requests.
	httpClient ec2.HTTPClient
}

// Option configures a Provider.
type Option func(*config)

// WithBaseURL points the client at another EC2 endpoint, e.g. a fake in
// tests. The region still picks the signing scope.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithRetry bounds the retries of throttled (RequestLimitExceeded) calls (a
// 5xx or a network error is tried once): at most attempts tries, waiting from minWait
// doubling up to maxWait between them, with jitter. A Retry-After or
// x-amz-retry-after header overrides the wait but is capped at maxWait so a
// hostile header cannot stall a workflow.
func WithRetry(attempts int, minWait, maxWait time.Duration) Option {
	return func(c *config) { c.retry = cloud.NewRetryConfig(attempts, minWait, maxWait) }
}

// WithHTTPClient sets the HTTP client, for timeouts or proxies.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// New returns a Provider for the account owning the access key, acting in
// region. It reads no shared config files, environment variables or
// instance metadata: the key given is the only credential used.
func New(accessKeyID, secretAccessKey, region string, opts ...Option) (*Provider, error) {
	if region == "" {
		return nil, &cloud.Error{Kind: cloud.ErrInvalid, Message: "no AWS region given: choose one such as " + DefaultRegion}
	}
	cfg := config{
		retry:      cloud.NewRetryConfig(5, time.Second, 20*time.Second),
		httpClient: awshttp.NewBuildableClient().WithTimeout(60 * time.Second),
	}
	for _, o := range opts {
		o(&cfg)
	}
	ac := awssdk.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		HTTPClient:  cfg.httpClient,
		Retryer:     func() awssdk.Retryer { return newRetryer(cfg) },
	}
	if cfg.baseURL != "" {
		ac.BaseEndpoint = awssdk.String(cfg.baseURL)
	}
	return &Provider{
		client:      ec2.NewFromConfig(ac),
		sts:         sts.NewFromConfig(ac),
		region:      region,
		accessKeyID: accessKeyID,
		secretSet:   secretAccessKey != "",
		cfg:         cfg,
		images:      map[string]string{},
		groups:      map[string]string{},
	}, nil
}

// Region returns the region the Provider acts in.
func (p *Provider) Region() string { return p.region }

// ValidateCredentials lists the regions, the cheapest call every EC2 user
// may make.
func (p *Provider) ValidateCredentials(ctx context.Context) error {
	if p.accessKeyID == "" || !p.secretSet {
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no AWS access key given: create one under IAM → Users → Security credentials and enter both the access key id and the secret access key"}
	}
	_, err := p.client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	return p.fail(ctx, op{what: "check the access key", action: "DescribeRegions", region: p.region}, err)
}

// Account asks STS whose key this is (GetCallerIdentity, which no IAM
// policy can deny): the account's 12-digit ID, and the key's ARN as its name.
func (p *Provider) Account(ctx context.Context) (cloud.Account, error) {
	if p.accessKeyID == "" || !p.secretSet {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no AWS access key given: enter both the access key id and the secret access key"}
	}
	out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return cloud.Account{}, p.fail(ctx, op{what: "read the key's account", action: "GetCallerIdentity", region: p.region}, err)
	}
	if awssdk.ToString(out.Account) == "" {
		return cloud.Account{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: "AWS STS answered GetCallerIdentity without an account ID"}
	}
	return cloud.Account{ID: awssdk.ToString(out.Account), Name: awssdk.ToString(out.Arn)}, nil
}

// Regions lists the regions enabled for the account.
func (p *Provider) Regions(ctx context.Context) ([]cloud.Region, error) {
	out, err := p.client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, p.fail(ctx, op{what: "list regions", action: "DescribeRegions", region: p.region}, err)
	}
	var rs []cloud.Region
	for _, r := range out.Regions {
		id := awssdk.ToString(r.RegionName)
		rs = append(rs, cloud.Region{ID: id, Name: cmp.Or(regionNames[id], id)})
	}
	return rs, nil
}

// InstanceTypes lists the on-demand x86_64 instance types of region (the
// Provider's when empty), sorted by id; arm64 types are left out because
// the Ubuntu image CreateInstance uses is amd64. HourlyPrice is 0: EC2 does
// not report prices (the Pricing API is a separate service with its own
// permissions), so placement must not rank AWS types by it.
func (p *Provider) InstanceTypes(ctx context.Context, region string) ([]cloud.InstanceType, error) {
	region = cmp.Or(region, p.region)
	o := op{what: "list instance types in " + region, action: "DescribeInstanceTypes", region: region}
	pages := ec2.NewDescribeInstanceTypesPaginator(p.client, &ec2.DescribeInstanceTypesInput{
		MaxResults: awssdk.Int32(100),
		Filters: []types.Filter{
			{Name: awssdk.String("processor-info.supported-architecture"), Values: []string{"x86_64"}},
			{Name: awssdk.String("supported-usage-class"), Values: []string{"on-demand"}},
		},
	})
	var out []cloud.InstanceType
	for pages.HasMorePages() {
		// Each page is retried on its own, so a throttled third page does
		// not refetch the first two.
		page, err := pages.NextPage(ctx, inRegion(region))
		if err != nil {
			return nil, p.fail(ctx, o, err)
		}
		for _, t := range page.InstanceTypes {
			it := cloud.InstanceType{ID: string(t.InstanceType)}
			if t.VCpuInfo != nil {
				it.VCPU = int(awssdk.ToInt32(t.VCpuInfo.DefaultVCpus))
			}
			if t.MemoryInfo != nil {
				it.MemoryMB = int(awssdk.ToInt64(t.MemoryInfo.SizeInMiB))
			}
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b cloud.InstanceType) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// CreateInstance launches one instance of the newest Ubuntu 24.04 amd64
// image into the region's default VPC.
//
// The launch's ClientToken is derived from req.Name, so a create retried
// after a lost answer (by the SDK or by a retried activity) returns the
// instance of the first attempt instead of starting a second one. The flip
// side: EC2 remembers a token for at least 7 days, so every machine needs a
// name of its own; reusing a name returns the old, possibly terminated,
// instance, which CreateInstance reports as an error.
//
// req.SSHPublicKey is not registered with EC2 (no key pair): the cloud-init
// user data daestro sends installs the key for the daestro user itself.
// What the key decides here is the security group: daestro-agents-ssh
// (TCP 22 in, nothing else) with a key, daestro-agents (nothing in)
// without; see securitygroups.go. When EC2 says the cached group does not
// exist (someone deleted it), the group is looked up or created afresh and
// the launch repeated once with the same ClientToken, so it still cannot
// start a second machine.
//
// Instances terminate rather than stop when the agent powers them off, so a
// halted machine does not keep billing for its volume.
func (p *Provider) CreateInstance(ctx context.Context, req cloud.CreateRequest) (cloud.Instance, error) {
	region := cmp.Or(req.Region, p.region)
	if region != p.region {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf(
			"this AWS provider works in %s but the machine was requested in %s: use a provider built for %s, so the machine can be found and deleted there later", p.region, region, region)}
	}
	if req.Name == "" {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrInvalid, Message: "the machine has no name: AWS machines need one, it keeps a retried create from starting a second machine"}
	}
	tags, err := instanceTags(req)
	if err != nil {
		return cloud.Instance{}, err
	}
	image, err := p.ubuntuImage(ctx, region)
	if err != nil {
		return cloud.Instance{}, err
	}
	ssh := req.SSHPublicKey != ""
	group, err := p.securityGroup(ctx, region, ssh)
	if err != nil {
		return cloud.Instance{}, err
	}
	in := &ec2.RunInstancesInput{
		ImageId:                           awssdk.String(image),
		InstanceType:                      types.InstanceType(req.InstanceType),
		MinCount:                          awssdk.Int32(1),
		MaxCount:                          awssdk.Int32(1),
		ClientToken:                       awssdk.String(ClientToken(req.Name)),
		InstanceInitiatedShutdownBehavior: types.ShutdownBehaviorTerminate,
		SecurityGroupIds:                  []string{group},
		TagSpecifications:                 []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags}},
		// IMDSv2 only, one hop: a job container (one hop further than the
		// host) cannot read the instance's metadata or its user data.
		MetadataOptions: &types.InstanceMetadataOptionsRequest{
			HttpEndpoint:            types.InstanceMetadataEndpointStateEnabled,
			HttpTokens:              types.HttpTokensStateRequired,
			HttpPutResponseHopLimit: awssdk.Int32(1),
		},
	}
	if req.UserData != "" {
		// EC2 wants user data base64-encoded and does not encode it itself.
		in.UserData = awssdk.String(base64.StdEncoding.EncodeToString([]byte(req.UserData)))
	}
	o := op{what: fmt.Sprintf("start a %s machine in %s", req.InstanceType, region), action: "RunInstances",
		region: region, instanceType: req.InstanceType, name: req.Name}
	out, err := p.client.RunInstances(ctx, in)
	if isCode(err, "InvalidGroup.NotFound") {
		// The cached group was deleted behind our back. A refused launch
		// started nothing, and the repeat keeps the ClientToken.
		p.forgetGroup(region, ssh)
		if group, err = p.securityGroup(ctx, region, ssh); err != nil {
			return cloud.Instance{}, err
		}
		in.SecurityGroupIds = []string{group}
		out, err = p.client.RunInstances(ctx, in)
		if isCode(err, "InvalidGroup.NotFound") {
			p.forgetGroup(region, ssh)
		}
	}
	if err != nil {
		if isCode(err, "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable") {
			// Canonical deregistered the cached image; look it up afresh next time.
			p.mu.Lock()
			delete(p.images, region)
			p.mu.Unlock()
		}
		return cloud.Instance{}, p.fail(ctx, o, err)
	}
	if len(out.Instances) == 0 {
		return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf("AWS accepted the request to %s but returned no machine: list the machines by tag before trying again", o.what)}
	}
	got := instance(out.Instances[0])
	if got.Status == cloud.StatusTerminating || got.Status == cloud.StatusTerminated {
		// Only a repeated ClientToken yields a machine that is already
		// going away: the name was used before.
		return got, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf(
			"a machine named %q was already started in %s (%s) and is %s now: AWS remembers a name for at least 7 days, so give the new machine a name of its own",
			req.Name, region, got.ID, got.Status)}
	}
	return got, nil
}

// ClientToken is the RunInstances idempotency token of the machine named
// name: a hash, because tokens are at most 64 ASCII characters and names
// need not be.
func ClientToken(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "daestro-" + hex.EncodeToString(sum[:20])
}

// instanceTags maps req to EC2 tags, see the package comment.
func instanceTags(req cloud.CreateRequest) ([]types.Tag, error) {
	tags := []types.Tag{{Key: awssdk.String(NameTag), Value: awssdk.String(req.Name)}}
	seen := map[string]bool{}
	for _, t := range req.Tags {
		switch {
		case t == NameTag:
			return nil, &cloud.Error{Kind: cloud.ErrInvalid, Message: `"Name" cannot be a machine tag on AWS: it holds the machine's name there; choose another tag`}
		case strings.HasPrefix(strings.ToLower(t), "aws:"):
			return nil, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("%q cannot be a machine tag on AWS: tags starting with \"aws:\" are reserved; choose another tag", t)}
		case seen[t]:
			continue
		}
		seen[t] = true
		tags = append(tags, types.Tag{Key: awssdk.String(t), Value: awssdk.String(TagValue)})
	}
	return tags, nil
}

// ubuntuImage returns the id of the newest Ubuntu 24.04 amd64 image in
// region, from the cache when it was looked up before.
func (p *Provider) ubuntuImage(ctx context.Context, region string) (string, error) {
	p.mu.Lock()
	id, ok := p.images[region]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	out, err := p.client.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners: []string{UbuntuOwner},
		Filters: []types.Filter{
			{Name: awssdk.String("name"), Values: []string{UbuntuImageName}},
			{Name: awssdk.String("architecture"), Values: []string{"x86_64"}},
			{Name: awssdk.String("state"), Values: []string{"available"}},
		},
	}, inRegion(region))
	if err != nil {
		return "", p.fail(ctx, op{what: "look up the Ubuntu 24.04 image in " + region, action: "DescribeImages", region: region}, err)
	}
	var newest types.Image
	for _, im := range out.Images {
		// CreationDate is ISO 8601 in UTC, so strings order like times.
		if awssdk.ToString(im.CreationDate) > awssdk.ToString(newest.CreationDate) {
			newest = im
		}
	}
	if newest.ImageId == nil {
		return "", &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("AWS lists no Ubuntu 24.04 image from Canonical in %s: choose another region", region)}
	}
	id = *newest.ImageId
	p.mu.Lock()
	p.images[region] = id
	p.mu.Unlock()
	return id, nil
}

// Instance returns the instance with id. EC2 keeps listing a terminated
// instance for about an hour, as StatusTerminated; after that it is
// ErrNotFound. Right after a launch EC2 may not know the id yet, so a
// not-found answer is retried like throttling before it is believed.
func (p *Provider) Instance(ctx context.Context, id string) (cloud.Instance, error) {
	if err := checkID(id); err != nil {
		return cloud.Instance{}, err
	}
	o := op{what: "get machine " + id, action: "DescribeInstances", region: p.region}
	out, err := p.client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, retryNotFound)
	if err != nil {
		return cloud.Instance{}, p.fail(ctx, o, err)
	}
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			if awssdk.ToString(in.InstanceId) == id {
				return instance(in), nil
			}
		}
	}
	return cloud.Instance{}, &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("AWS has no machine %s in %s", id, p.region)}
}

// DeleteInstance terminates the instance with id; one that is already
// terminated or unknown counts as deleted. A not-found answer is retried
// first, because right after a launch EC2 may not know the id yet and
// believing it at once would leave the machine running.
func (p *Provider) DeleteInstance(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	_, err := p.client.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}, retryNotFound)
	err = p.fail(ctx, op{what: "delete machine " + id, action: "TerminateInstances", region: p.region}, err)
	if errors.Is(err, cloud.ErrNotFound) {
		return nil
	}
	return err
}

// ListInstancesByTag lists the instances of the Provider's region carrying
// tag (as a tag key, see the package comment) that are not terminated.
// EC2's listings are eventually consistent: an instance launched a moment
// ago may be missing.
func (p *Provider) ListInstancesByTag(ctx context.Context, tag string) ([]cloud.Instance, error) {
	o := op{what: "list machines tagged " + tag, action: "DescribeInstances", region: p.region}
	pages := ec2.NewDescribeInstancesPaginator(p.client, &ec2.DescribeInstancesInput{
		MaxResults: awssdk.Int32(1000),
		Filters: []types.Filter{
			{Name: awssdk.String("tag-key"), Values: []string{escapeFilter(tag)}},
			{Name: awssdk.String("instance-state-name"), Values: liveStates},
		},
	})
	out := []cloud.Instance{}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, p.fail(ctx, o, err)
		}
		for _, r := range page.Reservations {
			for _, in := range r.Instances {
				out = append(out, instance(in))
			}
		}
	}
	return out, nil
}

// escapeFilter escapes EC2's filter wildcards so tag matches literally.
func escapeFilter(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
}

// checkID refuses an empty id, which EC2 would read as "every instance".
func checkID(id string) error {
	if !strings.HasPrefix(id, "i-") {
		return &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("%q is not an EC2 instance id: those look like i-0123456789abcdef0", id)}
	}
	return nil
}

// inRegion makes one call act in region.
func inRegion(region string) func(*ec2.Options) {
	return func(o *ec2.Options) { o.Region = region }
}

// retryNotFound makes one call retry InvalidInstanceID.NotFound, which EC2
// answers for a while after a launch.
func retryNotFound(o *ec2.Options) {
	o.Retryer = retry.AddWithErrorCodes(o.Retryer, "InvalidInstanceID.NotFound")
}

// instance maps an EC2 instance to the provider-neutral shape.
func instance(in types.Instance) cloud.Instance {
	out := cloud.Instance{
		ID:         awssdk.ToString(in.InstanceId),
		Status:     status(in.State),
		PublicIPv4: awssdk.ToString(in.PublicIpAddress),
		PublicIPv6: awssdk.ToString(in.Ipv6Address),
		Tags:       []string{},
	}
	if out.PublicIPv6 == "" {
		out.PublicIPv6 = ipv6(in.NetworkInterfaces)
	}
	for _, t := range in.Tags {
		if k := awssdk.ToString(t.Key); k != NameTag && awssdk.ToString(t.Value) == TagValue {
			out.Tags = append(out.Tags, k)
		}
	}
	slices.Sort(out.Tags)
	return out
}

// ipv6 returns the primary IPv6 address of the network interfaces, else
// the first one.
func ipv6(nis []types.InstanceNetworkInterface) string {
	first := ""
	for _, ni := range nis {
		for _, a := range ni.Ipv6Addresses {
			if awssdk.ToBool(a.IsPrimaryIpv6) {
				return awssdk.ToString(a.Ipv6Address)
			}
			first = cmp.Or(first, awssdk.ToString(a.Ipv6Address))
		}
	}
	return first
}

// status normalizes EC2 instance states. Stopping and stopped count as
// terminating: the machine can no longer run work but still exists and
// bills for its volume, so callers must still delete it.
func status(s *types.InstanceState) string {
	if s == nil {
		return cloud.StatusPending
	}
	// The high byte of the code is internal to EC2.
	switch awssdk.ToInt32(s.Code) & 0xff {
	case 0:
		return cloud.StatusPending
	case 16:
		return cloud.StatusRunning
	case 48:
		return cloud.StatusTerminated
	default: // 32 shutting-down, 64 stopping, 80 stopped
		return cloud.StatusTerminating
	}
}

// NewFactory returns the function the registry opens AWS accounts with
// (assignable to cloud.Factory): a Provider for creds bound to region, using
// opts.
func NewFactory(opts ...Option) func(creds cloud.Credentials, region string) (cloud.Provider, error) {
	return func(creds cloud.Credentials, region string) (cloud.Provider, error) {
		// An account-level call (validate, list regions) of a cloud auth
		// without a default region goes to DefaultRegion.
		p, err := New(creds.AccessKeyID, creds.SecretAccessKey, cmp.Or(region, DefaultRegion), opts...)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}
