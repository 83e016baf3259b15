package ec2fake

import "encoding/xml"

// The response shapes, as far as the SDK reads them. The SDK matches child
// elements case-insensitively and ignores the root's name, but the fake
// writes EC2's exact names so the bodies also read like the real ones.

const xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

type xmlError struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

type xmlRegions struct {
	XMLName   xml.Name    `xml:"DescribeRegionsResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	RequestID string      `xml:"requestId"`
	Regions   []xmlRegion `xml:"regionInfo>item"`
}

type xmlRegion struct {
	Name        string `xml:"regionName"`
	Endpoint    string `xml:"regionEndpoint"`
	OptInStatus string `xml:"optInStatus"`
}

type xmlInstanceTypes struct {
	XMLName   xml.Name          `xml:"DescribeInstanceTypesResponse"`
	Xmlns     string            `xml:"xmlns,attr"`
	RequestID string            `xml:"requestId"`
	Types     []xmlInstanceType `xml:"instanceTypeSet>item"`
	NextToken string            `xml:"nextToken,omitempty"`
}

type xmlInstanceType struct {
	InstanceType      string   `xml:"instanceType"`
	CurrentGeneration bool     `xml:"currentGeneration"`
	Burstable         bool     `xml:"burstablePerformanceSupported"`
	UsageClasses      []string `xml:"supportedUsageClasses>item"`
	Architectures     []string `xml:"processorInfo>supportedArchitectures>item"`
	DefaultVCpus      int      `xml:"vCpuInfo>defaultVCpus"`
	SizeInMiB         int      `xml:"memoryInfo>sizeInMiB"`
}

type xmlImages struct {
	XMLName   xml.Name   `xml:"DescribeImagesResponse"`
	Xmlns     string     `xml:"xmlns,attr"`
	RequestID string     `xml:"requestId"`
	Images    []xmlImage `xml:"imagesSet>item"`
}

type xmlImage struct {
	ImageID      string `xml:"imageId"`
	Location     string `xml:"imageLocation"`
	State        string `xml:"imageState"`
	OwnerID      string `xml:"imageOwnerId"`
	CreationDate string `xml:"creationDate"`
	IsPublic     bool   `xml:"isPublic"`
	Architecture string `xml:"architecture"`
	ImageType    string `xml:"imageType"`
	Name         string `xml:"name"`
	RootDevice   string `xml:"rootDeviceType"`
}

type xmlReservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

type xmlRunInstances struct {
	XMLName   xml.Name `xml:"RunInstancesResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	xmlReservation
}

type xmlDescribeInstances struct {
	XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	RequestID    string           `xml:"requestId"`
	Reservations []xmlReservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type xmlState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type xmlInstance struct {
	InstanceID        string                `xml:"instanceId"`
	ImageID           string                `xml:"imageId"`
	State             xmlState              `xml:"instanceState"`
	InstanceType      string                `xml:"instanceType"`
	LaunchTime        string                `xml:"launchTime"`
	AvailabilityZone  string                `xml:"placement>availabilityZone"`
	PrivateIPAddress  string                `xml:"privateIpAddress,omitempty"`
	IPAddress         string                `xml:"ipAddress,omitempty"`
	SubnetID          string                `xml:"subnetId,omitempty"`
	VpcID             string                `xml:"vpcId,omitempty"`
	ClientToken       string                `xml:"clientToken,omitempty"`
	Architecture      string                `xml:"architecture"`
	Groups            []xmlGroupRef         `xml:"groupSet>item"`
	NetworkInterfaces []xmlNetworkInterface `xml:"networkInterfaceSet>item"`
	Tags              []xmlTag              `xml:"tagSet>item"`
}

type xmlGroupRef struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xmlNetworkInterface struct {
	NetworkInterfaceID string        `xml:"networkInterfaceId"`
	PrivateIPAddress   string        `xml:"privateIpAddress"`
	Groups             []xmlGroupRef `xml:"groupSet>item"`
	IPv6Addresses      []xmlIP6      `xml:"ipv6AddressesSet>item"`
}

type xmlIP6 struct {
	Address   string `xml:"ipv6Address"`
	IsPrimary bool   `xml:"isPrimaryIpv6"`
}

type xmlTerminateInstances struct {
	XMLName   xml.Name            `xml:"TerminateInstancesResponse"`
	Xmlns     string              `xml:"xmlns,attr"`
	RequestID string              `xml:"requestId"`
	Changes   []xmlInstanceChange `xml:"instancesSet>item"`
}

type xmlInstanceChange struct {
	InstanceID    string   `xml:"instanceId"`
	CurrentState  xmlState `xml:"currentState"`
	PreviousState xmlState `xml:"previousState"`
}

type xmlDescribeVpcs struct {
	XMLName   xml.Name `xml:"DescribeVpcsResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Vpcs      []xmlVpc `xml:"vpcSet>item"`
	NextToken string   `xml:"nextToken,omitempty"`
}

type xmlVpc struct {
	VpcID            string               `xml:"vpcId"`
	OwnerID          string               `xml:"ownerId"`
	State            string               `xml:"state"`
	CidrBlock        string               `xml:"cidrBlock"`
	CidrAssociations []xmlCidrAssociation `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID    string               `xml:"dhcpOptionsId"`
	InstanceTenancy  string               `xml:"instanceTenancy"`
	IsDefault        bool                 `xml:"isDefault"`
}

type xmlCidrAssociation struct {
	AssociationID string `xml:"associationId"`
	CidrBlock     string `xml:"cidrBlock"`
	State         string `xml:"cidrBlockState>state"`
}

type xmlDescribeSecurityGroups struct {
	XMLName   xml.Name           `xml:"DescribeSecurityGroupsResponse"`
	Xmlns     string             `xml:"xmlns,attr"`
	RequestID string             `xml:"requestId"`
	Groups    []xmlSecurityGroup `xml:"securityGroupInfo>item"`
	NextToken string             `xml:"nextToken,omitempty"`
}

type xmlSecurityGroup struct {
	OwnerID     string            `xml:"ownerId"`
	GroupID     string            `xml:"groupId"`
	GroupName   string            `xml:"groupName"`
	Description string            `xml:"groupDescription"`
	Ingress     []xmlIPPermission `xml:"ipPermissions>item"`
	Egress      []xmlIPPermission `xml:"ipPermissionsEgress>item"`
	VpcID       string            `xml:"vpcId"`
	Arn         string            `xml:"securityGroupArn"`
	Tags        []xmlTag          `xml:"tagSet>item"`
}

// xmlIPPermission is one protocol and port range with its peers; EC2 omits
// the ports of an all-protocols permission.
type xmlIPPermission struct {
	Protocol   string         `xml:"ipProtocol"`
	FromPort   *int           `xml:"fromPort,omitempty"`
	ToPort     *int           `xml:"toPort,omitempty"`
	Groups     []xmlGroupPair `xml:"groups>item"`
	IPRanges   []xmlIPRange   `xml:"ipRanges>item"`
	IPv6Ranges []xmlIPv6Range `xml:"ipv6Ranges>item"`
}

type xmlGroupPair struct {
	UserID      string `xml:"userId"`
	GroupID     string `xml:"groupId"`
	Description string `xml:"description,omitempty"`
}

type xmlIPRange struct {
	CIDR        string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type xmlIPv6Range struct {
	CIDR        string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type xmlCreateSecurityGroup struct {
	XMLName   xml.Name `xml:"CreateSecurityGroupResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Return    bool     `xml:"return"`
	GroupID   string   `xml:"groupId"`
	Arn       string   `xml:"securityGroupArn"`
	Tags      []xmlTag `xml:"tagSet>item"`
}

type xmlAuthorizeIngress struct {
	XMLName   xml.Name       `xml:"AuthorizeSecurityGroupIngressResponse"`
	Xmlns     string         `xml:"xmlns,attr"`
	RequestID string         `xml:"requestId"`
	Return    bool           `xml:"return"`
	Rules     []xmlGroupRule `xml:"securityGroupRuleSet>item"`
}

type xmlGroupRule struct {
	RuleID       string              `xml:"securityGroupRuleId"`
	GroupID      string              `xml:"groupId"`
	GroupOwnerID string              `xml:"groupOwnerId"`
	IsEgress     bool                `xml:"isEgress"`
	Protocol     string              `xml:"ipProtocol"`
	FromPort     int                 `xml:"fromPort"`
	ToPort       int                 `xml:"toPort"`
	CidrIPv4     string              `xml:"cidrIpv4,omitempty"`
	CidrIPv6     string              `xml:"cidrIpv6,omitempty"`
	Referenced   *xmlReferencedGroup `xml:"referencedGroupInfo,omitempty"`
	Description  string              `xml:"description,omitempty"`
}

type xmlReferencedGroup struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type xmlDeleteSecurityGroup struct {
	XMLName   xml.Name `xml:"DeleteSecurityGroupResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Return    bool     `xml:"return"`
	GroupID   string   `xml:"groupId"`
}
