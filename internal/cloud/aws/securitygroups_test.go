package aws_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/aws"
	"daestro/internal/cloud/cloudtest/ec2fake"
)

// withKey is agent(name) for a queue with an SSH key.
func withKey(name string) cloud.CreateRequest {
	req := agent(name, "daestro")
	req.SSHPublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9 daestro@test"
	return req
}

// someoneElse is an EC2 client on f that is not daestro's provider: another
// tool or person acting on the same account.
func someoneElse(f *ec2fake.Server) *ec2.Client {
	return ec2.NewFromConfig(awssdk.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(ec2fake.AccessKeyID, ec2fake.SecretAccessKey, ""),
		BaseEndpoint: awssdk.String(f.URL),
	})
}

// groupOf returns the security group the last launch got, which must be
// exactly one.
func groupOf(t *testing.T, f *ec2fake.Server) ec2fake.SecurityGroup {
	t.Helper()
	runs := f.Runs()
	require.NotEmpty(t, runs)
	ids := runs[len(runs)-1].SecurityGroupIDs
	require.Len(t, ids, 1, "one security group per machine")
	for _, g := range f.SecurityGroups("us-east-1") {
		if g.ID == ids[0] {
			return g
		}
	}
	t.Fatalf("the machine's security group %s does not exist", ids[0])
	return ec2fake.SecurityGroup{}
}

// sshRules are the inbound rules of the SSH group: port 22, nothing else.
var sshRules = []ec2fake.Rule{
	{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "0.0.0.0/0", Description: "SSH with the job queue's key"},
	{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: "::/0", Description: "SSH with the job queue's key"},
}

var allOut = []ec2fake.Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"}}

func TestMachineWithSSHKeyGetsOnlyPort22(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	_, err := p.CreateInstance(ctx, withKey("with-key"))
	require.NoError(t, err)
	g := groupOf(t, f)
	assert.Equal(t, aws.SSHGroupName, g.Name)
	assert.Equal(t, ec2fake.DefaultVPCID("us-east-1"), g.VpcID, "the VPC the machine launches into")
	assert.Equal(t, sshRules, g.Ingress, "SSH from anywhere, IPv4 and IPv6, and no other inbound rule")
	assert.Equal(t, allOut, g.Egress, "the agent reaches the server and registries")
	assert.Contains(t, g.Tags, ec2fake.Tag{Key: aws.ManagedByTag, Value: aws.ManagedByValue}, "recognisable as daestro's")
	assert.Contains(t, g.Tags, ec2fake.Tag{Key: "Name", Value: aws.SSHGroupName}, "named in the console")
	assert.NotEqual(t, ec2fake.DefaultSecurityGroupID("us-east-1"), g.ID)
}

func TestMachineWithoutSSHKeyGetsNoInbound(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	_, err := p.CreateInstance(ctx, agent("no-key", "daestro"))
	require.NoError(t, err)
	g := groupOf(t, f)
	assert.Equal(t, aws.GroupName, g.Name)
	assert.Empty(t, g.Ingress, "nothing may come in, not even from other machines of the group")
	assert.Equal(t, allOut, g.Egress)
	assert.Contains(t, g.Tags, ec2fake.Tag{Key: aws.ManagedByTag, Value: aws.ManagedByValue})
	assert.Zero(t, count(f.Calls(), "AuthorizeSecurityGroupIngress"))
}

func TestSecurityGroupsAreCreatedOnceAndCached(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	var ids []string
	for i := range 3 {
		_, err := p.CreateInstance(ctx, agent(fmt.Sprintf("plain-%d", i)))
		require.NoError(t, err)
		ids = append(ids, groupOf(t, f).ID)
		_, err = p.CreateInstance(ctx, withKey(fmt.Sprintf("keyed-%d", i)))
		require.NoError(t, err)
		ids = append(ids, groupOf(t, f).ID)
	}
	assert.Equal(t, []string{ids[0], ids[1], ids[0], ids[1], ids[0], ids[1]}, ids, "every machine of a kind shares its group")
	assert.NotEqual(t, ids[0], ids[1])
	calls := f.Calls()
	assert.Equal(t, 2, count(calls, "CreateSecurityGroup"), "one per group")
	assert.Equal(t, 2, count(calls, "DescribeSecurityGroups"), "later machines use the cached ids")
	assert.Equal(t, 2, count(calls, "DescribeVpcs"))
	assert.Equal(t, 2, count(calls, "AuthorizeSecurityGroupIngress"), "22 from IPv4 and from IPv6, once")
	assert.Len(t, f.SecurityGroups("us-east-1"), 3, "the VPC's default group and daestro's two")
}

// TestConcurrentCreatesMakeOneGroup: several daestro workers (each with its
// own provider, so no shared cache) start machines at once.
func TestConcurrentCreatesMakeOneGroup(t *testing.T) {
	f := ec2fake.New(t)
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		p := newProvider(t, f, ec2fake.AccessKeyID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.CreateInstance(ctx, withKey(fmt.Sprintf("racer-%d", i)))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var ssh []ec2fake.SecurityGroup
	for _, g := range f.SecurityGroups("us-east-1") {
		if g.Name == aws.SSHGroupName {
			ssh = append(ssh, g)
		}
	}
	require.Len(t, ssh, 1, "one group, however many workers raced to create it")
	assert.Equal(t, sshRules, ssh[0].Ingress, "each rule once")
	for _, r := range f.Runs() {
		assert.Equal(t, []string{ssh[0].ID}, r.SecurityGroupIDs)
	}
	assert.Equal(t, n, f.Instances())
}

func TestGroupMadeByAnotherProcessIsReused(t *testing.T) {
	f := ec2fake.New(t)
	ctx := context.Background()

	_, err := newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(ctx, withKey("first"))
	require.NoError(t, err)
	first := groupOf(t, f)

	// Another daestro process (or this one after a restart) has no cache.
	_, err = newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(ctx, withKey("second"))
	require.NoError(t, err)
	assert.Equal(t, first.ID, groupOf(t, f).ID)
	assert.Equal(t, 1, count(f.Calls(), "CreateSecurityGroup"), "found, not duplicated")
	assert.Equal(t, 2, count(f.Calls(), "AuthorizeSecurityGroupIngress"), "its rules were there already")
}

// TestHalfMadeGroupIsCompleted: a daestro process created the SSH group
// and stopped before opening port 22.
func TestHalfMadeGroupIsCompleted(t *testing.T) {
	f := ec2fake.New(t)
	ctx := context.Background()
	_, err := someoneElse(f).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: awssdk.String(aws.SSHGroupName), Description: awssdk.String("made earlier"),
		VpcId: awssdk.String(ec2fake.DefaultVPCID("us-east-1")),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{
			{Key: awssdk.String(aws.ManagedByTag), Value: awssdk.String(aws.ManagedByValue)},
		}}},
	})
	require.NoError(t, err)
	calls := len(f.Calls())

	_, err = newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(ctx, withKey("after-crash"))
	require.NoError(t, err)
	assert.Equal(t, sshRules, groupOf(t, f).Ingress, "port 22 opened now")
	assert.Zero(t, count(f.Calls()[calls:], "CreateSecurityGroup"))
}

func TestLostCreateSecurityGroupAnswerMakesNoSecondGroup(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	f.LoseAnswers("CreateSecurityGroup", 1)

	// The lost answer fails this call (it is not repeated within it); the
	// caller's retry policy repeats the create, which finds the group the
	// lost call made instead of making a second one.
	_, err := p.CreateInstance(context.Background(), agent("lost"))
	require.ErrorIs(t, err, cloud.ErrUnavailable)
	assert.Zero(t, f.Instances())
	_, err = p.CreateInstance(context.Background(), agent("lost"))
	require.NoError(t, err)
	assert.Equal(t, 1, f.Instances())
	assert.Equal(t, aws.GroupName, groupOf(t, f).Name)
	assert.Len(t, f.SecurityGroups("us-east-1"), 2, "the default group and one daestro-agents")
}

func TestForeignGroupOfTheSameNameIsNotUsed(t *testing.T) {
	f := ec2fake.New(t)
	ctx := context.Background()
	other := someoneElse(f)
	out, err := other.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: awssdk.String(aws.GroupName), Description: awssdk.String("web servers"),
	})
	require.NoError(t, err)
	_, err = other.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: out.GroupId, IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(80), ToPort: awssdk.Int32(80),
		CidrIp: awssdk.String("0.0.0.0/0"),
	})
	require.NoError(t, err)

	_, err = newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(ctx, agent("careful"))
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Equal(t, fmt.Sprintf("the security group daestro-agents (%s) in the default VPC of us-east-1 was not created by daestro "+
		"(it has no managed-by=daestro tag), so daestro will not start machines in it: delete or rename it and daestro creates its own",
		*out.GroupId), err.Error())
	assert.Zero(t, count(f.Calls(), "RunInstances"), "no machine behind someone else's port 80")
}

func TestSecurityGroupPermissionErrorsSayWhatToAllow(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	f.Deny("CreateSecurityGroup")
	_, err := p.CreateInstance(ctx, withKey("denied"))
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Equal(t, "AWS did not let this access key create the daestro-agents-ssh security group in us-east-1, "+
		"which lets SSH (TCP 22) reach machines started with an SSH key: its IAM policy does not allow ec2:CreateSecurityGroup; "+
		"add it to the policy (daestro needs ec2:DescribeRegions, ec2:DescribeInstanceTypes, ec2:DescribeImages, ec2:DescribeInstances, "+
		"ec2:DescribeVpcs, ec2:DescribeSecurityGroups, ec2:CreateSecurityGroup, ec2:AuthorizeSecurityGroupIngress, ec2:RunInstances, "+
		"ec2:CreateTags and ec2:TerminateInstances)", err.Error())
	assert.Equal(t, 1, count(f.Calls(), "CreateSecurityGroup"), "a denial is not retried")
	assert.Zero(t, count(f.Calls(), "RunInstances"), "no machine SSH could not reach")

	for _, action := range []string{"DescribeVpcs", "DescribeSecurityGroups", "AuthorizeSecurityGroupIngress"} {
		f := ec2fake.New(t)
		f.Deny(action)
		_, err := newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(ctx, withKey("denied"))
		require.ErrorIs(t, err, cloud.ErrUnauthorized, action)
		assert.Contains(t, err.Error(), "does not allow ec2:"+action+";")
		assert.Zero(t, count(f.Calls(), "RunInstances"), action)
	}

	// Tagging on create is a permission of its own; EC2's message names it.
	f = ec2fake.New(t)
	f.Inject("CreateSecurityGroup", 1, http.StatusForbidden, "UnauthorizedOperation",
		"You are not authorized to perform this operation. User: arn:aws:iam::111122223333:user/daestro is not authorized to perform: "+
			"ec2:CreateTags on resource: arn:aws:ec2:us-east-1:111122223333:security-group/* because no identity-based policy allows the ec2:CreateTags action.")
	_, err = newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(ctx, agent("untagged"))
	require.ErrorIs(t, err, cloud.ErrUnauthorized)
	assert.Contains(t, err.Error(), "its IAM policy does not allow ec2:CreateTags;")
}

func TestDeletedGroupIsRecreated(t *testing.T) {
	f := ec2fake.New(t)
	p := newProvider(t, f, ec2fake.AccessKeyID)
	ctx := context.Background()

	in, err := p.CreateInstance(ctx, withKey("before"))
	require.NoError(t, err)
	old := groupOf(t, f)
	require.NoError(t, p.DeleteInstance(ctx, in.ID))
	_, err = someoneElse(f).DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: awssdk.String(old.ID)})
	require.NoError(t, err, "someone cleans up the account")

	_, err = p.CreateInstance(ctx, withKey("after"))
	require.NoError(t, err, "the provider notices and makes the group again")
	g := groupOf(t, f)
	assert.NotEqual(t, old.ID, g.ID)
	assert.Equal(t, aws.SSHGroupName, g.Name)
	assert.Equal(t, sshRules, g.Ingress)
	runs := f.Runs()
	require.Len(t, runs, 3, "the first machine, the refused launch with the stale group, the repeat")
	assert.Equal(t, []string{old.ID}, runs[1].SecurityGroupIDs)
	assert.Equal(t, runs[1].ClientToken, runs[2].ClientToken, "the repeat is the same launch")
	assert.Equal(t, 1, f.Instances(), "one machine for the second create")

	// The new id is cached.
	_, err = p.CreateInstance(ctx, withKey("later"))
	require.NoError(t, err)
	assert.Equal(t, g.ID, groupOf(t, f).ID)
	assert.Equal(t, 2, count(f.Calls(), "CreateSecurityGroup"))
}

func TestNoDefaultVPC(t *testing.T) {
	f := ec2fake.New(t, ec2fake.WithoutDefaultVPC())
	_, err := newProvider(t, f, ec2fake.AccessKeyID).CreateInstance(context.Background(), agent("nowhere"))
	require.ErrorIs(t, err, cloud.ErrInvalid)
	assert.Contains(t, err.Error(), "has no default VPC")
	assert.Contains(t, err.Error(), "Create default VPC")
	assert.Zero(t, count(f.Calls(), "CreateSecurityGroup"))
}
