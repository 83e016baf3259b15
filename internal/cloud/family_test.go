package cloud

import "testing"

func TestInstanceFamily(t *testing.T) {
	for _, c := range []struct{ provider, id, want string }{
		{AWS, "t3.micro", "t3"},
		{AWS, "m7i-flex.large", "m7i-flex"},
		{DigitalOcean, "s-2vcpu-4gb", "s"},
		{DigitalOcean, "c-4", "c"},
		{DigitalOcean, "gd-2vcpu-8gb", "gd"},
		{Linode, "g6-standard-2", "g6-standard"},
		{Linode, "g6-nanode-1", "g6-nanode"},
		{Vultr, "vc2-1c-1gb", "vc2"},
		{Vultr, "vhp-1c-1gb-amd", "vhp"},
		{LocalDocker, "local-2c-4g", "local"},
		{AWS, "odd", "odd"},
		{DigitalOcean, "-x", "-x"},
	} {
		if got := InstanceFamily(c.provider, c.id); got != c.want {
			t.Errorf("InstanceFamily(%q, %q) = %q, want %q", c.provider, c.id, got, c.want)
		}
	}
}
