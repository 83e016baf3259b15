package vultrfake_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"daestro/internal/cloud/cloudtest/vultrfake"
)

// get calls the fake with token and decodes the JSON body into v.
func get(t *testing.T, f *vultrfake.Server, token, path string, v any) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestWireFormat pins the error body and the exact Content-Type, which
// govultr and the provider's classification depend on.
func TestWireFormat(t *testing.T) {
	f := vultrfake.New(t)
	var body map[string]any
	resp := get(t, f, "wrong", "/v2/account", &body)
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "Invalid API token." || body["status"] != float64(401) {
		t.Errorf("wrong token: %d %v", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	resp = get(t, f, vultrfake.Token, "/v2/account", &body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/json" {
		t.Errorf("account: %d, Content-Type %q", resp.StatusCode, ct)
	}

	f.RateLimit(1, 2)
	resp = get(t, f, vultrfake.Token, "/v2/regions", &body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("rate limited: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestCursorPaging walks the OS list one entry a page and checks that the
// cursors visit every entry once and end with an empty next link.
func TestCursorPaging(t *testing.T) {
	f := vultrfake.New(t, vultrfake.WithMaxPerPage(2))
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("cursors never end")
		}
		var page struct {
			OS []struct {
				ID   int    `json:"id"`
				Name string `json:"name"`
			} `json:"os"`
			Meta struct {
				Total int `json:"total"`
				Links struct {
					Next string `json:"next"`
				} `json:"links"`
			} `json:"meta"`
		}
		get(t, f, vultrfake.Token, "/v2/os?per_page=100&cursor="+cursor, &page)
		if len(page.OS) > 2 {
			t.Errorf("page of %d, want per_page capped at 2", len(page.OS))
		}
		for _, o := range page.OS {
			names = append(names, o.Name)
		}
		if page.Meta.Links.Next == "" {
			if len(names) != page.Meta.Total {
				t.Errorf("saw %d of %d entries", len(names), page.Meta.Total)
			}
			break
		}
		cursor = page.Meta.Links.Next
	}
	if !strings.Contains(strings.Join(names, ","), "Ubuntu 24.04 LTS x64") {
		t.Errorf("OS list %v lacks Ubuntu 24.04 LTS x64", names)
	}
}
