package ec2fake

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// UbuntuOwner is Canonical's AWS account, the owner of the official Ubuntu
// images.
const UbuntuOwner = "099720109477"

// Newest Ubuntu 24.04 image names in the catalogue, for assertions.
const (
	// NobleAMD64 is the newest Ubuntu 24.04 amd64 image Canonical publishes
	// in every region of the fake.
	NobleAMD64 = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115"
	// nobleAMD64Old is an older build of the same image, which a lookup must
	// not pick.
	nobleAMD64Old = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423"
)

// region is one EC2 region of the fake.
type region struct {
	// name is the region id, e.g. "us-east-1".
	name string
	// types are the instance types offered there.
	types []string
}

// instanceType is one instance type of the catalogue.
type instanceType struct {
	// name is the type's id, e.g. "t3.medium".
	name string
	// vcpu and memoryMiB are its size.
	vcpu      int
	memoryMiB int
	// arch is the processor architecture, "x86_64" or "arm64".
	arch string
	// usage are the supported usage classes, "on-demand" and "spot".
	usage []string
	// currentGen and burstable are the flags of the same names.
	currentGen bool
	burstable  bool
}

// image is one public AMI of the catalogue; its id differs per region as on
// EC2, see imageID.
type image struct {
	// name is the AMI name, e.g. NobleAMD64.
	name string
	// owner is the publishing account id.
	owner string
	// arch is the processor architecture.
	arch string
	// created is the creation date, ISO 8601 as EC2 sends it.
	created string
}

// The catalogue. us-east-1 offers every type; eu-west-1 lacks the compute
// type and ap-southeast-2 offers only the t3 family, so per-region listings
// differ.
var (
	regions = []region{
		{name: "us-east-1", types: []string{"t3.micro", "t3.medium", "c6i.xlarge", "m7g.large", "m5.large", "r6i.2xlarge"}},
		{name: "eu-west-1", types: []string{"t3.micro", "t3.medium", "m7g.large", "m5.large"}},
		{name: "ap-southeast-2", types: []string{"t3.micro", "t3.medium"}},
	}
	instanceTypes = []instanceType{
		{name: "t3.micro", vcpu: 2, memoryMiB: 1024, arch: "x86_64", usage: []string{"on-demand", "spot"}, currentGen: true, burstable: true},
		{name: "t3.medium", vcpu: 2, memoryMiB: 4096, arch: "x86_64", usage: []string{"on-demand", "spot"}, currentGen: true, burstable: true},
		{name: "c6i.xlarge", vcpu: 4, memoryMiB: 8192, arch: "x86_64", usage: []string{"on-demand", "spot"}, currentGen: true},
		{name: "m7g.large", vcpu: 2, memoryMiB: 8192, arch: "arm64", usage: []string{"on-demand", "spot"}, currentGen: true},
		{name: "m5.large", vcpu: 2, memoryMiB: 8192, arch: "x86_64", usage: []string{"on-demand", "spot"}, currentGen: true},
		{name: "r6i.2xlarge", vcpu: 8, memoryMiB: 65536, arch: "x86_64", usage: []string{"on-demand", "spot"}, currentGen: true},
	}
	// images are published in every region. The impostor copies Canonical's
	// naming from another account with a newer date, so a lookup that
	// forgets the owner picks it.
	images = []image{
		{name: nobleAMD64Old, owner: UbuntuOwner, arch: "x86_64", created: "2024-04-23T12:00:00.000Z"},
		{name: NobleAMD64, owner: UbuntuOwner, arch: "x86_64", created: "2025-01-15T12:00:00.000Z"},
		{name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250301", owner: UbuntuOwner, arch: "arm64", created: "2025-03-01T12:00:00.000Z"},
		{name: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250401", owner: UbuntuOwner, arch: "x86_64", created: "2025-04-01T12:00:00.000Z"},
		{name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20991231", owner: "123456789012", arch: "x86_64", created: "2099-12-31T12:00:00.000Z"},
	}
)

// ImageID returns the AMI id the fake gives the image named name in region:
// like EC2, the same image has a different id in every region.
func ImageID(region, name string) string {
	sum := sha256.Sum256([]byte(region + "\x00" + name))
	return "ami-" + hex.EncodeToString(sum[:])[:17]
}

func findRegion(name string) (region, bool) {
	i := slices.IndexFunc(regions, func(r region) bool { return r.name == name })
	if i < 0 {
		return region{}, false
	}
	return regions[i], true
}

func findType(name string) (instanceType, bool) {
	i := slices.IndexFunc(instanceTypes, func(t instanceType) bool { return t.name == name })
	if i < 0 {
		return instanceType{}, false
	}
	return instanceTypes[i], true
}

// findImage returns the image with id in region.
func findImage(region, id string) (image, bool) {
	i := slices.IndexFunc(images, func(im image) bool { return ImageID(region, im.name) == id })
	if i < 0 {
		return image{}, false
	}
	return images[i], true
}
