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
	ClientToken       string                `xml:"clientToken,omitempty"`
	Architecture      string                `xml:"architecture"`
	NetworkInterfaces []xmlNetworkInterface `xml:"networkInterfaceSet>item"`
	Tags              []xmlTag              `xml:"tagSet>item"`
}

type xmlNetworkInterface struct {
	NetworkInterfaceID string   `xml:"networkInterfaceId"`
	PrivateIPAddress   string   `xml:"privateIpAddress"`
	IPv6Addresses      []xmlIP6 `xml:"ipv6AddressesSet>item"`
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
