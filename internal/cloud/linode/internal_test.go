package linode

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/linode/linodego"
	"github.com/stretchr/testify/assert"

	"daestro/internal/cloud"
)

// labelRule is Linode's label rule, checked on every Label output.
var labelRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,62}[A-Za-z0-9]$`)

func TestLabel(t *testing.T) {
	long := strings.Repeat("a", 70)
	for _, tc := range []struct{ name, want string }{
		{"daestro-agent-1", "daestro-agent-1"},
		{"daestro agent/42", "daestro-agent-42"},
		{"job_7.run-3", "job_7.run-3"},
		{"--weird--name__x..y--", "weird-name_x.y"},
		{"a", "daestro-a"},
		{"é", "daestro"},
		{"Ünïcode name", "n-code-name"},
		{"ab", "daestro-ab"},
		{"", ""},
	} {
		got := Label(tc.name)
		assert.Equal(t, tc.want, got, "Label(%q)", tc.name)
		if got != "" {
			assert.Regexp(t, labelRule, got)
		}
	}

	a, b := Label(long+"-one"), Label(long+"-two")
	assert.Len(t, a, 64)
	assert.Regexp(t, labelRule, a)
	assert.NotEqual(t, a, b, "names differing past 64 characters keep distinct labels")
	assert.Equal(t, a, Label(long+"-one"), "stable")
}

func TestStatus(t *testing.T) {
	for s, want := range map[linodego.InstanceStatus]string{
		linodego.InstanceProvisioning: cloud.StatusPending,
		linodego.InstanceBooting:      cloud.StatusPending,
		linodego.InstanceRebooting:    cloud.StatusPending,
		linodego.InstanceMigrating:    cloud.StatusPending,
		linodego.InstanceRunning:      cloud.StatusRunning,
		linodego.InstanceOffline:      cloud.StatusTerminating,
		linodego.InstanceShuttingDown: cloud.StatusTerminating,
		linodego.InstanceDeleting:     cloud.StatusTerminating,
		"some_new_state":              cloud.StatusPending,
	} {
		assert.Equal(t, want, status(s), "status(%q)", s)
	}
}

func TestInstancePicksPublicAddress(t *testing.T) {
	ip := func(s string) *net.IP { x := net.ParseIP(s); return &x }
	in := instance(&linodego.Instance{
		ID: 7, Status: linodego.InstanceRunning, Tags: []string{"t"},
		IPv4: []*net.IP{ip("192.168.139.12"), nil, ip("172.105.4.9")},
		IPv6: "2600:3c03::f03c:95ff:fe4a:1b2c/128",
	})
	assert.Equal(t, cloud.Instance{ID: "7", Status: cloud.StatusRunning, Tags: []string{"t"},
		PublicIPv4: "172.105.4.9", PublicIPv6: "2600:3c03::f03c:95ff:fe4a:1b2c"}, in)

	none := instance(&linodego.Instance{ID: 8, IPv4: []*net.IP{ip("192.168.1.1")}})
	assert.Empty(t, none.PublicIPv4)
	assert.Empty(t, none.PublicIPv6)
	assert.Equal(t, cloud.Instance{}, instance(nil))
}

func TestPrice(t *testing.T) {
	assert.Equal(t, 0.036, price(0.036))
	assert.Equal(t, 0.0075, price(0.0075))
	assert.Equal(t, 1.5, price(1.5))
}

func TestRootPassword(t *testing.T) {
	a, err := rootPassword()
	assert.NoError(t, err)
	b, err := rootPassword()
	assert.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.Len(t, a, 36)
}
