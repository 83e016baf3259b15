package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"daestro/internal/cloud"
	"daestro/internal/cloud/cloudtest/dofake"
)

// fakeDigitalOcean points the system's DigitalOcean client at an in-repo
// fake for the test (server and worker run in the test's process).
func fakeDigitalOcean(t *testing.T) *dofake.Server {
	fake := dofake.New(t)
	providerBaseURLs[cloud.DigitalOcean] = fake.URL
	t.Cleanup(func() { delete(providerBaseURLs, cloud.DigitalOcean) })
	return fake
}

// options are the texts of a select's options, the "choose" one left out.
func (b *browser) options(id string) []string {
	b.t.Helper()
	all := get(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#`+id+` option')).map(o => o.textContent.trim())`))
	var out []string
	for _, o := range all {
		if o != "choose" {
			out = append(out, o)
		}
	}
	return out
}

var cloudAuthPathRE = regexp.MustCompile(`^/cloud-auths/[0-9a-f-]{36}$`)

// A user adds a DigitalOcean account in the console (the form asks for what
// that provider takes, and the keys are checked with it), renames it and
// rotates its token; builds a cloud environment on it by picking a region
// and an instance type from the provider's own lists, sized and priced;
// is told why the auth cannot be deleted while the environment uses it;
// and disables and re-enables the environment. The fake DigitalOcean is
// reached through the system's real provider client.
func TestConsoleCloudAuthsAndCloudEnvsInABrowser(t *testing.T) {
	chromiumPath(t)
	fake := fakeDigitalOcean(t)
	ownNamespace(t)
	// The fake's machines never call back; the server only needs a URL
	// that is not a loopback one to accept a DigitalOcean environment.
	s := startSystem(t, systemOptions{publicURL: "http://daestro.example:8080"})
	b := newBrowser(t, s)
	b.open("/")
	b.fill(`//button[text()="Sign in"]`, map[string]string{"f-api_key": s.key})

	// Each provider's own fields.
	b.open("/cloud-auths")
	assert.Contains(t, b.text("main"), "No cloud auth yet")
	b.click(`//a[text()="New cloud auth"]`)
	b.fill(`//button[text()="Choose"]`, map[string]string{"p-provider": "aws"})
	h := b.html()
	assert.Contains(t, h, `id="f-access_key_id"`)
	assert.Contains(t, h, `id="f-secret_access_key"`)
	assert.NotContains(t, h, `id="f-access_token"`, "AWS takes an access key, not a token")
	b.shot("cloud-auth-new-aws")
	b.fill(`//button[text()="Choose"]`, map[string]string{"p-provider": "digitalocean"})
	h = b.html()
	assert.Contains(t, h, `id="f-access_token"`)
	assert.NotContains(t, h, `id="f-access_key_id"`)

	// A token DigitalOcean refuses: the sentence, nothing stored.
	b.fill(`//button[text()="Create cloud auth"]`, map[string]string{"f-name": "do-main", "f-access_token": "dop_v1_wrong"})
	assert.NotEmpty(t, b.text(`[role="alert"]`))
	b.shot("cloud-auth-new-refused")
	_, list := s.call(http.MethodGet, "/v1/cloud-auths", nil)
	assert.Empty(t, list["items"], "a refused token is not stored")

	b.fill(`//button[text()="Create cloud auth"]`, map[string]string{"f-name": "do-main", "f-access_token": dofake.Token})
	authPath := b.location()
	require.Regexp(t, cloudAuthPathRE, authPath, b.html())
	authID := strings.TrimPrefix(authPath, "/cloud-auths/")
	assert.Equal(t, "Cloud auth do-main", b.text("h1"))
	assert.NotContains(t, b.html(), dofake.Token, "the token is never shown")
	assert.Contains(t, b.text("dl.facts"), dofake.AccountUUID, "the account the token belongs to")
	assert.Equal(t, "no compute environment", b.text("#used-by"))

	// The list.
	b.open("/cloud-auths")
	row := b.text("tbody tr")
	assert.Contains(t, row, "do-main")
	assert.Contains(t, row, "digitalocean")
	b.shot("cloud-auths")
	b.click(`//a[text()="do-main"]`)
	require.Equal(t, authPath, b.location())

	// Rename.
	b.fill(`//button[text()="Save"]`, map[string]string{"f-name": "do-prod"})
	assert.Equal(t, "Cloud auth do-prod", b.text("h1"))
	b.open("/cloud-auths")
	assert.Contains(t, b.text("tbody tr"), "do-prod")

	// Rotate the token: another key of the same account.
	oldHint := b.text("tbody tr code")
	const rotated = "dop_v1_rotated_token_0042"
	fake.AddToken(rotated, dofake.AccountUUID)
	b.open(authPath)
	b.fill(`//button[text()="Save"]`, map[string]string{"f-access_token": rotated})
	require.Equal(t, authPath, b.location())
	newHint := b.text("dl.facts code")
	assert.NotEqual(t, oldHint, newHint, "the credentials hint follows the new token")
	_, auth := s.call(http.MethodGet, "/v1/cloud-auths/"+authID, nil)
	assert.Equal(t, newHint, auth["credentials_hint"])
	assert.Equal(t, "do-prod", auth["name"], "rotating keeps the name")
	// A key of another account is refused with the provider's rule.
	fake.AddToken("dop_v1_other_account", "b6fc48fb-3f83-4d54-9d1c-0c6e6b0a0999")
	b.fill(`//button[text()="Save"]`, map[string]string{"f-access_token": "dop_v1_other_account"})
	assert.NotEmpty(t, b.text(`[role="alert"]`))
	b.shot("cloud-auth-rotate-refused")
	_, auth = s.call(http.MethodGet, "/v1/cloud-auths/"+authID, nil)
	assert.Equal(t, newHint, auth["credentials_hint"], "the refused key did not replace the rotated one")
	// Ticking the switch is the API's confirm_account_change: taken.
	b.do(10*time.Second, chromedp.SetValue(chromedp.ID("f-access_token"), "dop_v1_other_account"),
		chromedp.Click(chromedp.ID("f-confirm_account_change")))
	b.click(`//button[text()="Save"]`)
	assert.Contains(t, b.text("dl.facts"), "b6fc48fb-3f83-4d54-9d1c-0c6e6b0a0999", "the account switched")
	b.shot("cloud-auth-account-switched")
	_, auth = s.call(http.MethodGet, "/v1/cloud-auths/"+authID, nil)
	assert.NotEqual(t, newHint, auth["credentials_hint"])

	// A cloud environment: region and instance type from DigitalOcean's lists.
	b.open("/compute-envs/new")
	b.do(10*time.Second, chromedp.Click(chromedp.ID("k-cloud")))
	b.click(`//button[text()="Choose"]`)
	b.fill(`//button[text()="Show regions and instance types"]`, map[string]string{"p-cloud_auth_id": authID})
	regions := b.options("p-region")
	assert.Equal(t, []string{"Frankfurt 1 (fra1)", "New York 3 (nyc3)"}, regions, "the available regions DigitalOcean lists (not the retired sfo1)")
	b.fill(`//button[text()="Show regions and instance types"]`, map[string]string{"p-region": "fra1"})
	fra := b.options("f-instance_type")
	assert.Len(t, fra, 2, "fra1 has no c-4: %v", fra)
	b.fill(`//button[text()="Show regions and instance types"]`, map[string]string{"p-region": "nyc3"})
	types := b.options("f-instance_type")
	assert.Equal(t, []string{
		"s-1vcpu-1gb — 1 vCPU, 1024 MB, $0.0089/h",
		"s-2vcpu-4gb — 2 vCPU, 4096 MB, $0.0357/h",
		"c-4 — 4 vCPU, 8192 MB, $0.1250/h",
	}, types)
	groups := get(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#f-instance_type optgroup')).map(g => g.label + ': ' + Array.from(g.querySelectorAll('option')).map(o => o.value).join(' '))`))
	assert.Equal(t, []string{"s family: s-1vcpu-1gb s-2vcpu-4gb", "c family: c-4"}, groups, "the types, family by family")
	assert.Contains(t, b.text("#chosen"), "do-prod (digitalocean) · nyc3")
	b.shot("env-new-cloud")
	b.fill(`//button[text()="Create compute environment"]`, map[string]string{"f-name": "do-vms", "f-instance_type": "c-4"})
	envPath := b.location()
	require.Regexp(t, `^/compute-envs/[0-9a-f-]{36}$`, envPath, b.html())
	facts := b.text("dl.facts")
	assert.Contains(t, facts, "c-4 in nyc3 · 4 vCPU · 8192 MB · $0.1250/h")
	assert.Equal(t, "yes", b.text("#env-enabled"))
	b.shot("env-cloud")

	// The auth cannot go while the environment uses it: the rule's sentence, on its page.
	status, apiErr := s.call(http.MethodDelete, "/v1/cloud-auths/"+authID, nil)
	require.Equal(t, http.StatusConflict, status)
	b.open(authPath)
	b.click(`//button[text()="Delete cloud auth"]`)
	assert.Equal(t, authPath+"/delete", b.location())
	assert.Equal(t, apiErr["message"], b.text("#form-error"))
	assert.Contains(t, b.text("#form-error"), "do-vms")
	assert.Equal(t, "do-vms", b.text("#used-by"), "the page names the environment that keeps it")
	assert.Equal(t, "Cloud auth do-prod", b.text("h1"), "the auth is still there")
	b.shot("cloud-auth-delete-refused")

	// Disable, then enable the environment.
	b.open(envPath)
	b.do(10*time.Second, chromedp.Click(chromedp.ID("f-enabled")))
	b.click(`//button[text()="Save"]`)
	assert.Equal(t, "no: no new machine starts on it", b.text("#env-enabled"))
	_, env := s.call(http.MethodGet, "/v1"+envPath, nil)
	assert.Equal(t, false, env["enabled"])
	b.open("/compute-envs")
	assert.Contains(t, b.text("tbody tr"), "no")
	b.shot("envs-disabled")
	b.open(envPath)
	b.do(10*time.Second, chromedp.Click(chromedp.ID("f-enabled")))
	b.click(`//button[text()="Save"]`)
	assert.Equal(t, "yes", b.text("#env-enabled"))
	_, env = s.call(http.MethodGet, "/v1"+envPath, nil)
	assert.Equal(t, true, env["enabled"])
	assert.Empty(t, fake.Droplets(), "no machine was started: the environment is in no queue")
}
