package ec2fake

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sdk is an AWS SDK v2 client on f in region that does not retry, so every
// error answer reaches the test.
func sdk(f *Server, region string) *ec2.Client {
	return ec2.NewFromConfig(awssdk.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: awssdk.String(f.URL),
		Retryer:      func() awssdk.Retryer { return awssdk.NopRetryer{} },
	})
}

// code is the EC2 error code of err.
func code(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	return ae.ErrorCode()
}

func TestDefaultVPCAndGroupWithTheSDK(t *testing.T) {
	f := New(t)
	c := sdk(f, "eu-west-1")
	ctx := context.Background()

	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{
		Filters: []types.Filter{{Name: awssdk.String("isDefault"), Values: []string{"true"}}},
	})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1, "one default VPC per region")
	v := vpcs.Vpcs[0]
	assert.Equal(t, DefaultVPCID("eu-west-1"), awssdk.ToString(v.VpcId))
	assert.True(t, awssdk.ToBool(v.IsDefault))
	assert.Equal(t, DefaultVPCCIDR, awssdk.ToString(v.CidrBlock))
	assert.Equal(t, types.VpcStateAvailable, v.State)
	assert.NotEqual(t, DefaultVPCID("us-east-1"), DefaultVPCID("eu-west-1"))

	none, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{
		Filters: []types.Filter{{Name: awssdk.String("isDefault"), Values: []string{"false"}}},
	})
	require.NoError(t, err)
	assert.Empty(t, none.Vpcs)

	groups, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}})
	require.NoError(t, err)
	require.Len(t, groups.SecurityGroups, 1)
	g := groups.SecurityGroups[0]
	assert.Equal(t, DefaultSecurityGroupID("eu-west-1"), awssdk.ToString(g.GroupId))
	assert.Equal(t, awssdk.ToString(v.VpcId), awssdk.ToString(g.VpcId))
	require.Len(t, g.IpPermissions, 1)
	in := g.IpPermissions[0]
	assert.Equal(t, "-1", awssdk.ToString(in.IpProtocol))
	assert.Nil(t, in.FromPort, "an all-protocols rule has no ports")
	require.Len(t, in.UserIdGroupPairs, 1, "EC2's default group admits its own members")
	assert.Equal(t, awssdk.ToString(g.GroupId), awssdk.ToString(in.UserIdGroupPairs[0].GroupId))
	assert.Empty(t, in.IpRanges)
	require.Len(t, g.IpPermissionsEgress, 1)
	assert.Equal(t, "0.0.0.0/0", awssdk.ToString(g.IpPermissionsEgress[0].IpRanges[0].CidrIp))

	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId})
	assert.Equal(t, "CannotDelete", code(t, err))

	f2 := New(t, WithoutDefaultVPC())
	vpcs, err = sdk(f2, "us-east-1").DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	require.NoError(t, err)
	assert.Empty(t, vpcs.Vpcs)
	_, err = sdk(f2, "us-east-1").CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: awssdk.String("x"), Description: awssdk.String("x"),
	})
	assert.Equal(t, "VPCIdNotSpecified", code(t, err))
}

func TestSecurityGroupLifecycleWithTheSDK(t *testing.T) {
	f := New(t)
	c := sdk(f, "us-east-1")
	ctx := context.Background()
	vpc := DefaultVPCID("us-east-1")

	created, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: awssdk.String("daestro-agents-ssh"), Description: awssdk.String("SSH (TCP 22) in, nothing else"),
		VpcId: awssdk.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{
			{Key: awssdk.String("managed-by"), Value: awssdk.String("daestro")},
		}}},
	})
	require.NoError(t, err)
	id := awssdk.ToString(created.GroupId)
	assert.Regexp(t, `^sg-[0-9a-f]{17}$`, id)
	assert.Equal(t, []types.Tag{{Key: awssdk.String("managed-by"), Value: awssdk.String("daestro")}}, created.Tags)

	_, err = c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: awssdk.String("daestro-agents-ssh"), Description: awssdk.String("again"),
	})
	assert.Equal(t, "InvalidGroup.Duplicate", code(t, err), "the name is taken in the (default) VPC")

	ssh := types.IpPermission{
		IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22),
		IpRanges:   []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0"), Description: awssdk.String("ssh")}},
		Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: awssdk.String("::/0")}},
	}
	auth, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: created.GroupId, IpPermissions: []types.IpPermission{ssh},
	})
	require.NoError(t, err)
	assert.True(t, awssdk.ToBool(auth.Return))
	require.Len(t, auth.SecurityGroupRules, 2)
	assert.Equal(t, "0.0.0.0/0", awssdk.ToString(auth.SecurityGroupRules[0].CidrIpv4))
	assert.Equal(t, "::/0", awssdk.ToString(auth.SecurityGroupRules[1].CidrIpv6))
	assert.Equal(t, int32(22), awssdk.ToInt32(auth.SecurityGroupRules[1].FromPort))
	assert.False(t, awssdk.ToBool(auth.SecurityGroupRules[0].IsEgress))

	// A request holding one existing rule adds none of its rules.
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: created.GroupId, IpPermissions: []types.IpPermission{{
			IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22),
			IpRanges: []types.IpRange{{CidrIp: awssdk.String("10.0.0.0/8")}, {CidrIp: awssdk.String("0.0.0.0/0")}},
		}},
	})
	assert.Equal(t, "InvalidPermission.Duplicate", code(t, err))

	found, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: awssdk.String("group-name"), Values: []string{"daestro-agents-ssh"}},
		{Name: awssdk.String("vpc-id"), Values: []string{vpc}},
	}})
	require.NoError(t, err)
	require.Len(t, found.SecurityGroups, 1)
	g := found.SecurityGroups[0]
	assert.Equal(t, id, awssdk.ToString(g.GroupId))
	assert.Equal(t, "SSH (TCP 22) in, nothing else", awssdk.ToString(g.Description))
	assert.Equal(t, OwnerID, awssdk.ToString(g.OwnerId))
	require.Len(t, g.IpPermissions, 1, "the rules of one port range show as one permission")
	p := g.IpPermissions[0]
	assert.Equal(t, "tcp", awssdk.ToString(p.IpProtocol))
	assert.Equal(t, int32(22), awssdk.ToInt32(p.FromPort))
	assert.Equal(t, int32(22), awssdk.ToInt32(p.ToPort))
	assert.Equal(t, []types.IpRange{{CidrIp: awssdk.String("0.0.0.0/0"), Description: awssdk.String("ssh")}}, p.IpRanges)
	assert.Equal(t, []types.Ipv6Range{{CidrIpv6: awssdk.String("::/0")}}, p.Ipv6Ranges)
	require.Len(t, g.IpPermissionsEgress, 1, "a new group sends anywhere")
	assert.Equal(t, "-1", awssdk.ToString(g.IpPermissionsEgress[0].IpProtocol))
	assert.Equal(t, []types.Tag{{Key: awssdk.String("managed-by"), Value: awssdk.String("daestro")}}, g.Tags)

	other, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: awssdk.String("group-name"), Values: []string{"daestro-agents-ssh"}},
		{Name: awssdk.String("vpc-id"), Values: []string{"vpc-00000000000000000"}},
	}})
	require.NoError(t, err)
	assert.Empty(t, other.SecurityGroups, "filters combine")
	elsewhere, err := sdk(f, "eu-west-1").DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: awssdk.String("group-name"), Values: []string{"daestro-agents-ssh"}},
	}})
	require.NoError(t, err)
	assert.Empty(t, elsewhere.SecurityGroups, "groups are regional")

	// A launch gets the group, in the instance and in the recorded request.
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: awssdk.String(ImageID("us-east-1", NobleAMD64)), InstanceType: types.InstanceTypeT3Medium,
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), SecurityGroupIds: []string{id},
	})
	require.NoError(t, err)
	require.Len(t, run.Instances, 1)
	assert.Equal(t, []types.GroupIdentifier{{GroupId: awssdk.String(id), GroupName: awssdk.String("daestro-agents-ssh")}},
		run.Instances[0].SecurityGroups)
	assert.Equal(t, vpc, awssdk.ToString(run.Instances[0].VpcId))
	assert.Equal(t, []string{id}, f.Runs()[0].SecurityGroupIDs)
	desc, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{awssdk.ToString(run.Instances[0].InstanceId)}})
	require.NoError(t, err)
	assert.Equal(t, run.Instances[0].SecurityGroups, desc.Reservations[0].Instances[0].SecurityGroups)

	// A group in use cannot be deleted; once its machine is gone it can.
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: created.GroupId})
	assert.Equal(t, "DependencyViolation", code(t, err))
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{awssdk.ToString(run.Instances[0].InstanceId)}})
	require.NoError(t, err)
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: created.GroupId})
	require.NoError(t, err)
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{id}})
	assert.Equal(t, "InvalidGroup.NotFound", code(t, err))
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: awssdk.String(ImageID("us-east-1", NobleAMD64)), InstanceType: types.InstanceTypeT3Medium,
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), SecurityGroupIds: []string{id},
	})
	assert.Equal(t, "InvalidGroup.NotFound", code(t, err), "a launch with a deleted group")
	assert.Equal(t, 0, f.Instances())
}

func TestRunInstancesSecurityGroups(t *testing.T) {
	f := New(t)
	run := func(groups ...string) (int, string) {
		form := url.Values{
			"Action": {"RunInstances"}, "ImageId": {ImageID("us-east-1", NobleAMD64)}, "InstanceType": {"t3.micro"},
			"MinCount": {"1"}, "MaxCount": {"1"},
		}
		for i, g := range groups {
			form.Set("SecurityGroupId."+strconv.Itoa(i+1), g)
		}
		status, _, body := call(t, f, AccessKeyID, "us-east-1", form)
		return status, body
	}

	status, body := run()
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "<groupId>"+DefaultSecurityGroupID("us-east-1")+"</groupId><groupName>default</groupName>",
		"without a group EC2 attaches the default VPC's default group")
	assert.Empty(t, f.Runs()[0].SecurityGroupIDs, "none was asked for")

	status, body = run("sg-0123456789abcdef0")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "InvalidGroup.NotFound", errorCode(t, body))
	assert.Contains(t, body, "does not exist in VPC")
	assert.Contains(t, body, DefaultVPCID("us-east-1"))

	status, body = run("web")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "InvalidGroupId.Malformed", errorCode(t, body))
	assert.Equal(t, 1, f.Instances(), "refused launches start nothing")
	assert.Equal(t, []string{"sg-0123456789abcdef0"}, f.Runs()[1].SecurityGroupIDs, "recorded as sent")

	status, body = callEast(t, f, url.Values{
		"Action": {"RunInstances"}, "ImageId": {ImageID("us-east-1", NobleAMD64)}, "InstanceType": {"t3.micro"},
		"MinCount": {"1"}, "MaxCount": {"1"}, "SecurityGroupId.1": {DefaultSecurityGroupID("eu-west-1")},
	})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "InvalidGroup.NotFound", errorCode(t, body), "another region's group is unknown here")
}

// callEast is call in us-east-1 with the fake's key, for the status and body.
func callEast(t *testing.T, f *Server, form url.Values) (int, string) {
	t.Helper()
	status, _, body := call(t, f, AccessKeyID, "us-east-1", form)
	return status, body
}

func TestCreateSecurityGroupChecksItsInput(t *testing.T) {
	f := New(t)
	for _, c := range []struct {
		form url.Values
		code string
	}{
		{url.Values{"GroupDescription": {"d"}}, "MissingParameter"},
		{url.Values{"GroupName": {"g"}}, "MissingParameter"},
		{url.Values{"GroupName": {"default"}, "GroupDescription": {"d"}}, "InvalidGroup.Reserved"},
		{url.Values{"GroupName": {"sg-12"}, "GroupDescription": {"d"}}, "InvalidParameterValue"},
		{url.Values{"GroupName": {"g"}, "GroupDescription": {"SSH — in"}}, "InvalidParameterValue"},
		{url.Values{"GroupName": {"g"}, "GroupDescription": {"d"}, "VpcId": {"vpc-00000000000000000"}}, "InvalidVpcID.NotFound"},
		{url.Values{"GroupName": {"g"}, "GroupDescription": {"d"}, "TagSpecification.1.ResourceType": {"instance"},
			"TagSpecification.1.Tag.1.Key": {"k"}, "TagSpecification.1.Tag.1.Value": {"v"}}, "InvalidParameterValue"},
	} {
		c.form.Set("Action", "CreateSecurityGroup")
		status, body := callEast(t, f, c.form)
		assert.Equal(t, http.StatusBadRequest, status, "%v", c.form)
		assert.Equal(t, c.code, errorCode(t, body), "%v: %s", c.form, body)
	}
	assert.Len(t, f.SecurityGroups("us-east-1"), 1, "only the default group")
}

func TestAuthorizeIngressChecksItsInput(t *testing.T) {
	f := New(t)
	status, body := callEast(t, f, url.Values{"Action": {"CreateSecurityGroup"}, "GroupName": {"g"}, "GroupDescription": {"d"}})
	require.Equal(t, http.StatusOK, status, body)
	id := f.SecurityGroups("us-east-1")[1].ID
	for _, c := range []struct {
		form url.Values
		code string
	}{
		{url.Values{"GroupId": {"sg-0123456789abcdef0"}, "IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"22"},
			"IpPermissions.1.ToPort": {"22"}, "IpPermissions.1.IpRanges.1.CidrIp": {"0.0.0.0/0"}}, "InvalidGroup.NotFound"},
		{url.Values{"GroupId": {id}, "IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"22"},
			"IpPermissions.1.ToPort": {"21"}, "IpPermissions.1.IpRanges.1.CidrIp": {"0.0.0.0/0"}}, "InvalidParameterValue"},
		{url.Values{"GroupId": {id}, "IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"22"},
			"IpPermissions.1.ToPort": {"22"}, "IpPermissions.1.IpRanges.1.CidrIp": {"::/0"}}, "InvalidParameterValue"},
		{url.Values{"GroupId": {id}, "IpPermissions.1.IpProtocol": {"tcp"}, "IpPermissions.1.FromPort": {"22"},
			"IpPermissions.1.ToPort": {"22"}}, "MissingParameter"},
		{url.Values{"GroupId": {id}, "IpPermissions.1.IpProtocol": {"gre"}, "IpPermissions.1.IpRanges.1.CidrIp": {"0.0.0.0/0"}}, "InvalidParameterValue"},
		{url.Values{"IpPermissions.1.IpProtocol": {"-1"}, "IpPermissions.1.IpRanges.1.CidrIp": {"0.0.0.0/0"}}, "MissingParameter"},
	} {
		c.form.Set("Action", "AuthorizeSecurityGroupIngress")
		status, body := callEast(t, f, c.form)
		assert.Equal(t, http.StatusBadRequest, status, "%v", c.form)
		assert.Equal(t, c.code, errorCode(t, body), "%v: %s", c.form, body)
	}
	assert.Empty(t, f.SecurityGroups("us-east-1")[1].Ingress)

	// The flat legacy form works too, and its repeat is a duplicate.
	legacy := url.Values{"Action": {"AuthorizeSecurityGroupIngress"}, "GroupName": {"g"}, "IpProtocol": {"tcp"},
		"FromPort": {"80"}, "ToPort": {"80"}, "CidrIp": {"0.0.0.0/0"}}
	status, body = callEast(t, f, legacy)
	require.Equal(t, http.StatusOK, status, body)
	status, body = callEast(t, f, legacy)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "InvalidPermission.Duplicate", errorCode(t, body))
	assert.Equal(t, []Rule{{Protocol: "tcp", FromPort: 80, ToPort: 80, CIDR: "0.0.0.0/0"}}, f.SecurityGroups("us-east-1")[1].Ingress)
}
