package cloud

import "strings"

// InstanceFamily is the family an instance type of provider belongs to, as
// the provider names its types: AWS's "t3" of "t3.micro", DigitalOcean's "s"
// (Basic) of "s-2vcpu-4gb", Linode's "g6-dedicated" of "g6-dedicated-4",
// Vultr's "vhf" of "vhf-1c-1gb". Pickers group types by it so that a long
// list reads family by family. An ID that follows no such pattern is its
// own family.
func InstanceFamily(provider, instanceType string) string {
	var family string
	var ok bool
	switch provider {
	case AWS:
		family, _, ok = strings.Cut(instanceType, ".")
	case Linode:
		if i := strings.LastIndex(instanceType, "-"); i > 0 {
			family, ok = instanceType[:i], true
		}
	default:
		family, _, ok = strings.Cut(instanceType, "-")
	}
	if !ok || family == "" {
		return instanceType
	}
	return family
}
