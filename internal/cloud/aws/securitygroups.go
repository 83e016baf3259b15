package aws

import (
	"context"
	"fmt"
	"slices"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"daestro/internal/cloud"
)

// The security groups daestro launches its machines with, one pair per
// region, in the region's default VPC. Without them EC2 would attach the
// VPC's default group, which admits everything from its other members and
// nothing from outside, so a queue's SSH key could never be used.
const (
	// GroupName is the group of machines without an SSH key: no inbound
	// rule at all; outbound is open (EC2's default for a new group), which
	// the agent needs to reach the daestro server and pull images.
	GroupName = "daestro-agents"
	// SSHGroupName is the group of machines with an SSH key: TCP 22 in from
	// any IPv4 and IPv6 address and nothing else; outbound open.
	SSHGroupName = "daestro-agents-ssh"
	// ManagedByTag, with the value ManagedByValue, marks the groups daestro
	// created. A group of the same name without it belongs to someone else;
	// daestro does not launch into it, since it cannot vouch for its rules.
	ManagedByTag   = "managed-by"
	ManagedByValue = "daestro"
)

// groupSpec is one of daestro's security groups.
type groupSpec struct {
	// name and description are the group's.
	name        string
	description string
	// ingress are the inbound rules it must have, one peer each so one
	// that exists already does not fail the others (EC2 refuses a whole
	// AuthorizeSecurityGroupIngress when any of its rules exists).
	ingress []types.IpPermission
	// purpose completes "…, which …" in error messages.
	purpose string
}

var (
	agentGroup = groupSpec{
		name:        GroupName,
		description: "daestro agent machines: no inbound traffic",
		purpose:     "keeps machines without an SSH key closed to inbound traffic",
	}
	sshGroup = groupSpec{
		name:        SSHGroupName,
		description: "daestro agent machines with an SSH key: SSH (TCP 22) in, nothing else",
		ingress:     []types.IpPermission{sshFrom("0.0.0.0/0", false), sshFrom("::/0", true)},
		purpose:     "lets SSH (TCP 22) reach machines started with an SSH key",
	}
)

// sshFrom is the rule admitting SSH from cidr.
func sshFrom(cidr string, v6 bool) types.IpPermission {
	p := types.IpPermission{IpProtocol: awssdk.String("tcp"), FromPort: awssdk.Int32(22), ToPort: awssdk.Int32(22)}
	desc := awssdk.String("SSH with the job queue's key")
	if v6 {
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: awssdk.String(cidr), Description: desc}}
	} else {
		p.IpRanges = []types.IpRange{{CidrIp: awssdk.String(cidr), Description: desc}}
	}
	return p
}

// securityGroup returns the id of the group a machine gets in region: the
// SSH group when it has an SSH key, else the closed one. The id comes from
// the cache when the group was resolved before; otherwise the group is
// looked up by name in the default VPC and created when missing, and any
// inbound rule it lacks is added. Every step tolerates a concurrent daestro
// doing the same: a create that finds the name taken
// (InvalidGroup.Duplicate, also what a create retried after a lost answer
// gets) looks the group up instead, and a rule that exists already
// (InvalidPermission.Duplicate) counts as added.
func (p *Provider) securityGroup(ctx context.Context, region string, ssh bool) (string, error) {
	spec := agentGroup
	if ssh {
		spec = sshGroup
	}
	key := groupKey(region, spec.name)
	p.mu.Lock()
	id, ok := p.groups[key]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	vpc, err := p.defaultVPC(ctx, region)
	if err != nil {
		return "", err
	}
	g, err := p.findGroup(ctx, region, vpc, spec)
	if err != nil {
		return "", err
	}
	if g == nil {
		if g, err = p.createGroup(ctx, region, vpc, spec); err != nil {
			return "", err
		}
	}
	if err := p.openIngress(ctx, region, g, spec); err != nil {
		return "", err
	}
	id = awssdk.ToString(g.GroupId)
	p.mu.Lock()
	p.groups[key] = id
	p.mu.Unlock()
	return id, nil
}

// forgetGroup drops the cached id of region's group for a machine with or
// without an SSH key, after EC2 said it does not exist.
func (p *Provider) forgetGroup(region string, ssh bool) {
	name := GroupName
	if ssh {
		name = SSHGroupName
	}
	p.mu.Lock()
	delete(p.groups, groupKey(region, name))
	p.mu.Unlock()
}

func groupKey(region, name string) string { return region + "\x00" + name }

// defaultVPC returns the id of region's default VPC, the one RunInstances
// launches into when given no subnet.
func (p *Provider) defaultVPC(ctx context.Context, region string) (string, error) {
	out, err := p.client.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{
		Filters: []types.Filter{{Name: awssdk.String("isDefault"), Values: []string{"true"}}},
	}, inRegion(region))
	if err != nil {
		return "", p.fail(ctx, op{what: "look up the default VPC of " + region, action: "DescribeVpcs", region: region}, err)
	}
	for _, v := range out.Vpcs {
		if awssdk.ToBool(v.IsDefault) {
			return awssdk.ToString(v.VpcId), nil
		}
	}
	return "", noDefaultVPC(region, nil)
}

// noDefaultVPC is the error for a region without a default VPC.
func noDefaultVPC(region string, err error) error {
	return &cloud.Error{Kind: cloud.ErrInvalid, Err: err, Message: fmt.Sprintf(
		"AWS region %s has no default VPC, which daestro starts machines in: create one (VPC console → Your VPCs → Actions → Create default VPC)", region)}
}

// findGroup returns spec's group in vpc, nil when there is none. A group
// of that name daestro did not create is an error.
func (p *Provider) findGroup(ctx context.Context, region, vpc string, spec groupSpec) (*types.SecurityGroup, error) {
	out, err := p.client.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []types.Filter{
			{Name: awssdk.String("group-name"), Values: []string{spec.name}},
			{Name: awssdk.String("vpc-id"), Values: []string{vpc}},
		},
	}, inRegion(region))
	if err != nil {
		return nil, p.fail(ctx, op{what: fmt.Sprintf("look up the %s security group in %s, which %s", spec.name, region, spec.purpose),
			action: "DescribeSecurityGroups", region: region}, err)
	}
	// Names are unique within a VPC; the filter is a pattern, so compare.
	i := slices.IndexFunc(out.SecurityGroups, func(g types.SecurityGroup) bool { return awssdk.ToString(g.GroupName) == spec.name })
	if i < 0 {
		return nil, nil
	}
	g := out.SecurityGroups[i]
	if !slices.ContainsFunc(g.Tags, func(t types.Tag) bool {
		return awssdk.ToString(t.Key) == ManagedByTag && awssdk.ToString(t.Value) == ManagedByValue
	}) {
		return nil, &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf(
			"the security group %s (%s) in the default VPC of %s was not created by daestro (it has no %s=%s tag), so daestro will not start machines in it: delete or rename it and daestro creates its own",
			spec.name, awssdk.ToString(g.GroupId), region, ManagedByTag, ManagedByValue)}
	}
	return &g, nil
}

// createGroup creates spec's group in vpc, or finds it when another
// process (or a lost answer to this one) created it first.
func (p *Provider) createGroup(ctx context.Context, region, vpc string, spec groupSpec) (*types.SecurityGroup, error) {
	o := op{what: fmt.Sprintf("create the %s security group in %s, which %s", spec.name, region, spec.purpose),
		action: "CreateSecurityGroup", region: region}
	out, err := p.client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:   awssdk.String(spec.name),
		Description: awssdk.String(spec.description),
		VpcId:       awssdk.String(vpc),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{
			{Key: awssdk.String(NameTag), Value: awssdk.String(spec.name)},
			{Key: awssdk.String(ManagedByTag), Value: awssdk.String(ManagedByValue)},
		}}},
	}, inRegion(region))
	switch {
	case err == nil:
		// A new group has no inbound rule.
		return &types.SecurityGroup{GroupId: out.GroupId, GroupName: awssdk.String(spec.name), VpcId: awssdk.String(vpc)}, nil
	case isCode(err, "InvalidGroup.Duplicate"):
		g, err := p.findGroup(ctx, region, vpc, spec)
		if err != nil {
			return nil, err
		}
		if g == nil {
			// EC2's listings lag its writes: the group exists but is not
			// listed yet.
			return nil, &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf(
				"AWS says the %s security group exists in %s but does not list it yet: try again in a few seconds", spec.name, region)}
		}
		return g, nil
	default:
		return nil, p.fail(ctx, o, err)
	}
}

// openIngress adds the rules of spec that g lacks. Rules someone added to
// the group by hand are left alone.
func (p *Provider) openIngress(ctx context.Context, region string, g *types.SecurityGroup, spec groupSpec) error {
	for _, want := range spec.ingress {
		if slices.ContainsFunc(g.IpPermissions, func(have types.IpPermission) bool { return covers(have, want) }) {
			continue
		}
		_, err := p.client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId:       g.GroupId,
			IpPermissions: []types.IpPermission{want},
		}, inRegion(region))
		if err != nil && !isCode(err, "InvalidPermission.Duplicate") {
			return p.fail(ctx, op{what: fmt.Sprintf("open SSH (TCP 22) in the %s security group in %s, which %s", spec.name, region, spec.purpose),
				action: "AuthorizeSecurityGroupIngress", region: region}, err)
		}
	}
	return nil
}

// covers reports whether have admits the protocol, ports and peer of want,
// a rule with one peer.
func covers(have, want types.IpPermission) bool {
	if awssdk.ToString(have.IpProtocol) != awssdk.ToString(want.IpProtocol) ||
		awssdk.ToInt32(have.FromPort) != awssdk.ToInt32(want.FromPort) || awssdk.ToInt32(have.ToPort) != awssdk.ToInt32(want.ToPort) {
		return false
	}
	for _, r := range want.IpRanges {
		if !slices.ContainsFunc(have.IpRanges, func(h types.IpRange) bool { return awssdk.ToString(h.CidrIp) == awssdk.ToString(r.CidrIp) }) {
			return false
		}
	}
	for _, r := range want.Ipv6Ranges {
		if !slices.ContainsFunc(have.Ipv6Ranges, func(h types.Ipv6Range) bool { return awssdk.ToString(h.CidrIpv6) == awssdk.ToString(r.CidrIpv6) }) {
			return false
		}
	}
	return true
}
