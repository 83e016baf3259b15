package dofake_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"daestro/internal/cloud/cloudtest/dofake"
)

// TestWrongTokenBody pins the 401 body to DigitalOcean's, since godo and the
// provider's messages depend on it.
func TestWrongTokenBody(t *testing.T) {
	f := dofake.New(t)
	req, _ := http.NewRequest(http.MethodGet, f.URL+"/v2/account", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || body["id"] != "unauthorized" || body["message"] != "Unable to authenticate you" {
		t.Errorf("got %d %v", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}
