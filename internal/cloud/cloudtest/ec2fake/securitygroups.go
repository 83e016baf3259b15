package ec2fake

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// VPCs and security groups. Every region has one default VPC
// (DefaultVPCID, 172.31.0.0/16, no IPv6) holding its "default" security
// group (DefaultSecurityGroupID), whose rules are EC2's: all inbound from
// the group itself, all outbound. A group created by CreateSecurityGroup
// starts, as on EC2, with no inbound rule and all outbound IPv4 traffic
// allowed. RunInstances without SecurityGroupId.N attaches the default
// group, as EC2 does for a launch into the default VPC.

// DefaultVPCCIDR is the IPv4 range of every default VPC, EC2's.
const DefaultVPCCIDR = "172.31.0.0/16"

// DefaultVPCID returns the id of region's default VPC.
func DefaultVPCID(region string) string { return "vpc-" + hashID("vpc", region) }

// DefaultSecurityGroupID returns the id of the "default" security group of
// region's default VPC.
func DefaultSecurityGroupID(region string) string { return "sg-" + hashID("default-sg", region) }

func hashID(kind, region string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + region))
	return hex.EncodeToString(sum[:])[:17]
}

// SecurityGroup is a security group as the fake holds it.
type SecurityGroup struct {
	// ID, Name, Description and VpcID are EC2's groupId, groupName,
	// groupDescription and vpcId.
	ID          string
	Name        string
	Description string
	VpcID       string
	// Tags are the tags given at creation, in order.
	Tags []Tag
	// Ingress and Egress are the inbound and outbound rules, in the order
	// they were added.
	Ingress []Rule
	Egress  []Rule
}

// Rule is one security group rule: one protocol and port range and one
// peer.
type Rule struct {
	// Protocol is "tcp", "udp", "icmp", "icmpv6" or "-1" for all.
	Protocol string
	// FromPort and ToPort are the port range (ICMP type and code); -1 when
	// Protocol is "-1".
	FromPort int
	ToPort   int
	// CIDR is the IPv4 or IPv6 peer range; empty when SourceGroupID is set.
	CIDR string
	// SourceGroupID is the peer security group, for rules that admit
	// traffic from the members of a group.
	SourceGroupID string
	// Description is the rule's description, possibly empty.
	Description string
}

// vpc is one VPC of the fake account.
type vpc struct {
	// id, region and cidr are where and what it is.
	id     string
	region string
	cidr   string
	// isDefault marks the region's default VPC.
	isDefault bool
}

// group is one security group of the fake account.
type group struct {
	SecurityGroup
	// region is where it lives.
	region string
	// ruleIDs are the sgr-… ids of Ingress, then Egress, by rule.
	ruleIDs map[Rule]string
}

// WithoutDefaultVPC leaves every region without a default VPC (and so
// without its default security group), as in an account where someone
// deleted them: CreateSecurityGroup without VpcId and RunInstances answer
// VPCIdNotSpecified.
func WithoutDefaultVPC() Option { return func(s *Server) { s.noDefaultVPC = true } }

// SecurityGroups returns the security groups of region, in creation order,
// the default VPC's "default" group first.
func (s *Server) SecurityGroups(region string) []SecurityGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SecurityGroup
	for _, g := range s.groups {
		if g.region == region {
			c := g.SecurityGroup
			c.Tags, c.Ingress, c.Egress = slices.Clone(c.Tags), slices.Clone(c.Ingress), slices.Clone(c.Egress)
			out = append(out, c)
		}
	}
	return out
}

// addDefaultVPCs gives every region its default VPC and default group.
func (s *Server) addDefaultVPCs() {
	for _, r := range regions {
		v := &vpc{id: DefaultVPCID(r.name), region: r.name, cidr: DefaultVPCCIDR, isDefault: true}
		s.vpcs = append(s.vpcs, v)
		id := DefaultSecurityGroupID(r.name)
		g := &group{region: r.name, ruleIDs: map[Rule]string{}, SecurityGroup: SecurityGroup{
			ID: id, Name: "default", Description: "default VPC security group", VpcID: v.id,
		}}
		s.addRule(g, false, Rule{Protocol: "-1", FromPort: -1, ToPort: -1, SourceGroupID: id})
		s.addRule(g, true, Rule{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"})
		s.groups = append(s.groups, g)
	}
}

// addRule adds r to g's inbound or outbound rules and returns its id.
func (s *Server) addRule(g *group, egress bool, r Rule) string {
	s.seq++
	id := fmt.Sprintf("sgr-%017x", 0x5e0000000000000+uint64(s.seq))
	g.ruleIDs[r] = id
	if egress {
		g.Egress = append(g.Egress, r)
	} else {
		g.Ingress = append(g.Ingress, r)
	}
	return id
}

// defaultVPC returns region's default VPC, nil when it has none.
func (s *Server) defaultVPC(region string) *vpc {
	i := slices.IndexFunc(s.vpcs, func(v *vpc) bool { return v.region == region && v.isDefault })
	if i < 0 {
		return nil
	}
	return s.vpcs[i]
}

func noDefaultVPC() *apiError {
	return errorf(http.StatusBadRequest, "VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.")
}

// groupIDRE is the shape of a security group id.
var groupIDRE = regexp.MustCompile(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)

// groupByID returns the group of region with id, or EC2's error for a
// malformed or unknown id.
func (s *Server) groupByID(region, id string) (*group, *apiError) {
	if !groupIDRE.MatchString(id) {
		return nil, errorf(http.StatusBadRequest, "InvalidGroupId.Malformed", "Invalid id: %q (expecting \"sg-...\")", id)
	}
	i := slices.IndexFunc(s.groups, func(g *group) bool { return g.region == region && g.ID == id })
	if i < 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist", id)
	}
	return s.groups[i], nil
}

// groupByName returns the group named name in region's default VPC, which
// is where EC2 looks a name up.
func (s *Server) groupByName(region, name string) (*group, *apiError) {
	v := s.defaultVPC(region)
	if v == nil {
		return nil, noDefaultVPC()
	}
	i := slices.IndexFunc(s.groups, func(g *group) bool { return g.VpcID == v.id && g.Name == name })
	if i < 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, v.id)
	}
	return s.groups[i], nil
}

// groupFromForm returns the group a GroupId or, failing that, GroupName
// parameter names.
func (s *Server) groupFromForm(req *request) (*group, *apiError) {
	if id := req.form.Get("GroupId"); id != "" {
		return s.groupByID(req.region, id)
	}
	if name := req.form.Get("GroupName"); name != "" {
		return s.groupByName(req.region, name)
	}
	return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter groupName or groupId")
}

func (s *Server) describeVpcs(req *request) (any, *apiError) {
	filters, err := parseFilters(req.form, "isDefault", "vpc-id", "state", "cidr", "cidr-block-association.cidr-block", "owner-id")
	if err != nil {
		return nil, err
	}
	ids := list(req.form, "VpcId")
	for _, id := range ids {
		if !slices.ContainsFunc(s.vpcs, func(v *vpc) bool { return v.region == req.region && v.id == id }) {
			return nil, errorf(http.StatusBadRequest, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id)
		}
	}
	var matched []*vpc
	for _, v := range s.vpcs {
		if v.region != req.region || (len(ids) > 0 && !slices.Contains(ids, v.id)) {
			continue
		}
		values := map[string][]string{
			"isDefault": {strconv.FormatBool(v.isDefault)}, "vpc-id": {v.id}, "state": {"available"},
			"cidr": {v.cidr}, "cidr-block-association.cidr-block": {v.cidr}, "owner-id": {OwnerID},
		}
		if filters.match(values) {
			matched = append(matched, v)
		}
	}
	page, next, err := s.paginate(req, len(matched), 5, 1000)
	if err != nil {
		return nil, err
	}
	out := xmlDescribeVpcs{Xmlns: xmlns, RequestID: req.id, NextToken: next}
	for _, v := range matched[page.from:page.to] {
		out.Vpcs = append(out.Vpcs, xmlVpc{
			VpcID: v.id, OwnerID: OwnerID, State: "available", CidrBlock: v.cidr, DhcpOptionsID: "dopt-" + v.id[4:],
			InstanceTenancy: "default", IsDefault: v.isDefault,
			CidrAssociations: []xmlCidrAssociation{{AssociationID: "vpc-cidr-assoc-" + v.id[4:], CidrBlock: v.cidr, State: "associated"}},
		})
	}
	return out, nil
}

func (s *Server) describeSecurityGroups(req *request) (any, *apiError) {
	filters, err := parseFilters(req.form, "group-name", "group-id", "vpc-id", "description", "owner-id", "tag-key", "tag:*")
	if err != nil {
		return nil, err
	}
	ids, names := list(req.form, "GroupId"), list(req.form, "GroupName")
	if len(ids)+len(names) > 0 && req.form.Get("MaxResults") != "" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterCombination",
			"The parameter groupIds or groupNames cannot be used with the parameter maxResults")
	}
	var candidates []*group
	switch {
	case len(ids)+len(names) > 0:
		for _, id := range ids {
			g, err := s.groupByID(req.region, id)
			if err != nil {
				return nil, err
			}
			candidates = append(candidates, g)
		}
		for _, n := range names {
			g, err := s.groupByName(req.region, n)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(candidates, g) {
				candidates = append(candidates, g)
			}
		}
	default:
		for _, g := range s.groups {
			if g.region == req.region {
				candidates = append(candidates, g)
			}
		}
	}
	var matched []*group
	for _, g := range candidates {
		values := map[string][]string{
			"group-name": {g.Name}, "group-id": {g.ID}, "vpc-id": {g.VpcID}, "description": {g.Description}, "owner-id": {OwnerID},
		}
		for _, t := range g.Tags {
			values["tag-key"] = append(values["tag-key"], t.Key)
			values["tag:"+t.Key] = []string{t.Value}
		}
		if filters.match(values) {
			matched = append(matched, g)
		}
	}
	page, next, err := s.paginate(req, len(matched), 5, 1000)
	if err != nil {
		return nil, err
	}
	out := xmlDescribeSecurityGroups{Xmlns: xmlns, RequestID: req.id, NextToken: next}
	for _, g := range matched[page.from:page.to] {
		out.Groups = append(out.Groups, renderGroup(g))
	}
	return out, nil
}

// renderGroup is g's XML: rules sharing protocol and ports form one
// permission, as EC2 shows them.
func renderGroup(g *group) xmlSecurityGroup {
	x := xmlSecurityGroup{
		OwnerID: OwnerID, GroupID: g.ID, GroupName: g.Name, Description: g.Description, VpcID: g.VpcID,
		Arn:     fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", g.region, OwnerID, g.ID),
		Ingress: permissions(g.Ingress), Egress: permissions(g.Egress),
	}
	for _, t := range g.Tags {
		x.Tags = append(x.Tags, xmlTag(t))
	}
	return x
}

func permissions(rules []Rule) []xmlIPPermission {
	var out []xmlIPPermission
	for _, r := range rules {
		i := slices.IndexFunc(out, func(p xmlIPPermission) bool {
			return p.Protocol == r.Protocol && ports(p.FromPort) == r.FromPort && ports(p.ToPort) == r.ToPort
		})
		if i < 0 {
			p := xmlIPPermission{Protocol: r.Protocol}
			if r.Protocol != "-1" {
				p.FromPort, p.ToPort = &r.FromPort, &r.ToPort
			}
			out = append(out, p)
			i = len(out) - 1
		}
		p := &out[i]
		switch {
		case r.SourceGroupID != "":
			p.Groups = append(p.Groups, xmlGroupPair{UserID: OwnerID, GroupID: r.SourceGroupID, Description: r.Description})
		case strings.Contains(r.CIDR, ":"):
			p.IPv6Ranges = append(p.IPv6Ranges, xmlIPv6Range{CIDR: r.CIDR, Description: r.Description})
		default:
			p.IPRanges = append(p.IPRanges, xmlIPRange{CIDR: r.CIDR, Description: r.Description})
		}
	}
	return out
}

// ports reads an optional port of a rendered permission, -1 when absent.
func ports(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// groupTextRE is what EC2 accepts in a VPC security group's name and
// description.
var groupTextRE = regexp.MustCompile(`^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$`)

func (s *Server) createSecurityGroup(req *request) (any, *apiError) {
	f := req.form
	name, desc := f.Get("GroupName"), f.Get("GroupDescription")
	switch {
	case name == "":
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter groupName")
	case desc == "":
		return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter groupDescription")
	case len(name) > 255 || !groupTextRE.MatchString(name):
		return nil, invalidParameter("Invalid value '%s' for groupName. Valid characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$* and at most 255 of them.", name)
	case len(desc) > 255 || !groupTextRE.MatchString(desc):
		return nil, invalidParameter("Invalid value '%s' for GroupDescription. Character sets beyond ASCII are not supported.", desc)
	case strings.HasPrefix(name, "sg-"):
		return nil, invalidParameter("Group names may not be in the format sg-*.")
	case name == "default":
		return nil, errorf(http.StatusBadRequest, "InvalidGroup.Reserved", "The security group 'default' is reserved")
	}
	var v *vpc
	if id := f.Get("VpcId"); id != "" {
		i := slices.IndexFunc(s.vpcs, func(v *vpc) bool { return v.region == req.region && v.id == id })
		if i < 0 {
			return nil, errorf(http.StatusBadRequest, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id)
		}
		v = s.vpcs[i]
	} else if v = s.defaultVPC(req.region); v == nil {
		return nil, noDefaultVPC()
	}
	tags, err := tagSpecification(f, "security-group", "security-group")
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(s.groups, func(g *group) bool { return g.VpcID == v.id && g.Name == name }) {
		return nil, errorf(http.StatusBadRequest, "InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, v.id)
	}
	s.seq++
	g := &group{region: req.region, ruleIDs: map[Rule]string{}, SecurityGroup: SecurityGroup{
		ID: fmt.Sprintf("sg-%017x", 0x5a0000000000000+uint64(s.seq)), Name: name, Description: desc, VpcID: v.id, Tags: tags,
	}}
	s.addRule(g, true, Rule{Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: "0.0.0.0/0"})
	s.groups = append(s.groups, g)
	out := xmlCreateSecurityGroup{Xmlns: xmlns, RequestID: req.id, Return: true, GroupID: g.ID,
		Arn: fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", g.region, OwnerID, g.ID)}
	for _, t := range tags {
		out.Tags = append(out.Tags, xmlTag(t))
	}
	return out, nil
}

func (s *Server) authorizeSecurityGroupIngress(req *request) (any, *apiError) {
	g, err := s.groupFromForm(req)
	if err != nil {
		return nil, err
	}
	rules, err := s.ruleParams(req)
	if err != nil {
		return nil, err
	}
	// EC2 adds all of a request's rules or none: one that exists fails the
	// whole call.
	for i, r := range rules {
		if slices.ContainsFunc(g.Ingress, func(o Rule) bool { return sameRule(o, r) }) ||
			slices.ContainsFunc(rules[:i], func(o Rule) bool { return sameRule(o, r) }) {
			return nil, errorf(http.StatusBadRequest, "InvalidPermission.Duplicate",
				"the specified rule \"peer: %s, %s, from port: %d, to port: %d, ALLOW\" already exists",
				cmp.Or(r.CIDR, r.SourceGroupID), strings.ToUpper(r.Protocol), r.FromPort, r.ToPort)
		}
	}
	out := xmlAuthorizeIngress{Xmlns: xmlns, RequestID: req.id, Return: true}
	for _, r := range rules {
		id := s.addRule(g, false, r)
		x := xmlGroupRule{RuleID: id, GroupID: g.ID, GroupOwnerID: OwnerID, Protocol: r.Protocol,
			FromPort: r.FromPort, ToPort: r.ToPort, Description: r.Description}
		switch {
		case r.SourceGroupID != "":
			x.Referenced = &xmlReferencedGroup{GroupID: r.SourceGroupID, UserID: OwnerID}
		case strings.Contains(r.CIDR, ":"):
			x.CidrIPv6 = r.CIDR
		default:
			x.CidrIPv4 = r.CIDR
		}
		out.Rules = append(out.Rules, x)
	}
	return out, nil
}

// sameRule reports whether a and b admit the same traffic; descriptions do
// not count, as on EC2.
func sameRule(a, b Rule) bool {
	a.Description, b.Description = "", ""
	return a == b
}

// ruleParams reads the rules of an ingress request: IpPermissions.N, or the
// flat legacy parameters (IpProtocol, FromPort, ToPort, CidrIp).
func (s *Server) ruleParams(req *request) ([]Rule, *apiError) {
	f := req.form
	if f.Get("IpPermissions.1.IpProtocol") == "" {
		if f.Get("IpProtocol") == "" {
			return nil, errorf(http.StatusBadRequest, "MissingParameter", "No inbound rule given: IpPermissions or IpProtocol with CidrIp is required")
		}
		proto, from, to, err := protocolPorts(f.Get("IpProtocol"), f.Get("FromPort"), f.Get("ToPort"))
		if err != nil {
			return nil, err
		}
		cidr, err := cidrParam(f.Get("CidrIp"), false)
		if err != nil {
			return nil, err
		}
		return []Rule{{Protocol: proto, FromPort: from, ToPort: to, CIDR: cidr}}, nil
	}
	var out []Rule
	for i := 1; ; i++ {
		p := fmt.Sprintf("IpPermissions.%d.", i)
		if f.Get(p+"IpProtocol") == "" {
			break
		}
		proto, from, to, err := protocolPorts(f.Get(p+"IpProtocol"), f.Get(p+"FromPort"), f.Get(p+"ToPort"))
		if err != nil {
			return nil, err
		}
		before := len(out)
		for _, rk := range rangeKinds {
			for j := 1; ; j++ {
				key := fmt.Sprintf("%s%s.%d.", p, rk.list, j)
				v, ok := f[key+rk.field]
				if !ok {
					break
				}
				cidr, err := cidrParam(v[0], rk.v6)
				if err != nil {
					return nil, err
				}
				out = append(out, Rule{Protocol: proto, FromPort: from, ToPort: to, CIDR: cidr, Description: f.Get(key + "Description")})
			}
		}
		for j := 1; ; j++ {
			key := p + fmt.Sprintf("Groups.%d.", j)
			id := f.Get(key + "GroupId")
			if id == "" {
				break
			}
			if _, err := s.groupByID(req.region, id); err != nil {
				return nil, err
			}
			out = append(out, Rule{Protocol: proto, FromPort: from, ToPort: to, SourceGroupID: id, Description: f.Get(key + "Description")})
		}
		if len(out) == before {
			return nil, errorf(http.StatusBadRequest, "MissingParameter", "IpPermissions.%d names no peer: give IpRanges, Ipv6Ranges or Groups", i)
		}
	}
	return out, nil
}

// rangeKinds are the peer range lists of a permission, IPv4 then IPv6.
var rangeKinds = []struct {
	list, field string
	v6          bool
}{{"IpRanges", "CidrIp", false}, {"Ipv6Ranges", "CidrIpv6", true}}

// protocols maps the protocol names and numbers EC2 accepts to the name it
// shows.
var protocols = map[string]string{
	"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
	"icmpv6": "icmpv6", "58": "icmpv6", "-1": "-1", "all": "-1",
}

// protocolPorts validates a rule's protocol and port range.
func protocolPorts(protocol, fromParam, toParam string) (string, int, int, *apiError) {
	proto, ok := protocols[strings.ToLower(protocol)]
	if !ok {
		return "", 0, 0, invalidParameter("Invalid value '%s' for IP protocol. Unknown protocol.", protocol)
	}
	if proto == "-1" {
		return proto, -1, -1, nil
	}
	from, err1 := strconv.Atoi(fromParam)
	to, err2 := strconv.Atoi(toParam)
	if err1 != nil || err2 != nil {
		return "", 0, 0, errorf(http.StatusBadRequest, "InvalidParameterValue", "Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
	}
	lo := 0
	if proto == "icmp" || proto == "icmpv6" {
		lo = -1
	}
	if from < lo || to < lo || from > 65535 || to > 65535 || (lo == 0 && from > to) {
		return "", 0, 0, invalidParameter("Invalid value for portRange: from port %d, to port %d", from, to)
	}
	return proto, from, to, nil
}

// cidrParam validates a peer range of the family the parameter is for.
func cidrParam(v string, v6 bool) (string, *apiError) {
	p, err := netip.ParsePrefix(v)
	if err != nil || p.Addr().Is6() != v6 || p.Masked() != p {
		return "", invalidParameter("CIDR block %s is malformed", v)
	}
	return p.String(), nil
}

func (s *Server) deleteSecurityGroup(req *request) (any, *apiError) {
	g, err := s.groupFromForm(req)
	if err != nil {
		return nil, err
	}
	if g.Name == "default" {
		return nil, errorf(http.StatusBadRequest, "CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
	}
	for _, in := range s.instances {
		if !in.terminated && in.region == g.region && slices.Contains(in.groupIDs, g.ID) {
			return nil, errorf(http.StatusBadRequest, "DependencyViolation", "resource %s has a dependent object", g.ID)
		}
	}
	for _, o := range s.groups {
		if o != g && slices.ContainsFunc(slices.Concat(o.Ingress, o.Egress), func(r Rule) bool { return r.SourceGroupID == g.ID }) {
			return nil, errorf(http.StatusBadRequest, "DependencyViolation", "resource %s has a dependent object", g.ID)
		}
	}
	s.groups = slices.DeleteFunc(s.groups, func(o *group) bool { return o == g })
	return xmlDeleteSecurityGroup{Xmlns: xmlns, RequestID: req.id, Return: true, GroupID: g.ID}, nil
}

// launchGroups resolves the security groups of a RunInstances: the ids of
// SecurityGroupId.N and the names of SecurityGroup.N (in the default VPC),
// or the default VPC's default group when there are none.
func (s *Server) launchGroups(region string, f url.Values) ([]string, *apiError) {
	ids, names := list(f, "SecurityGroupId"), list(f, "SecurityGroup")
	v := s.defaultVPC(region)
	if v == nil {
		// Without a subnet an instance goes to the default VPC.
		return nil, errorf(http.StatusBadRequest, "VPCIdNotSpecified", "No default VPC for this user")
	}
	var out []string
	for _, id := range ids {
		g, err := s.groupByID(region, id)
		if err != nil {
			if err.code == "InvalidGroup.NotFound" {
				err.message = fmt.Sprintf("The security group '%s' does not exist in VPC '%s'", id, v.id)
			}
			return nil, err
		}
		if g.VpcID != v.id {
			return nil, invalidParameter("Security group %s and subnet %s belong to different networks.", id, "subnet-"+v.id[4:])
		}
		if !slices.Contains(out, g.ID) {
			out = append(out, g.ID)
		}
	}
	for _, n := range names {
		g, err := s.groupByName(region, n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, g.ID) {
			out = append(out, g.ID)
		}
	}
	if len(out) == 0 {
		out = []string{DefaultSecurityGroupID(region)}
	}
	return out, nil
}

// groupRefs renders the groups of an instance.
func (s *Server) groupRefs(region string, ids []string) []xmlGroupRef {
	var out []xmlGroupRef
	for _, id := range ids {
		ref := xmlGroupRef{GroupID: id}
		if i := slices.IndexFunc(s.groups, func(g *group) bool { return g.region == region && g.ID == id }); i >= 0 {
			ref.GroupName = s.groups[i].Name
		}
		out = append(out, ref)
	}
	return out
}
