package ec2fake

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call posts an EC2 Query request signed (in name only) with key for region.
func call(t *testing.T, f *Server, key, region string, form url.Values) (int, http.Header, string) {
	t.Helper()
	form.Set("Version", APIVersion)
	req, err := http.NewRequest(http.MethodPost, f.URL+"/", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+key+"/20250101/"+region+
			"/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

// errorCode returns the Code of an EC2 error body.
func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e xmlError
	require.NoError(t, xml.Unmarshal([]byte(body), &e), body)
	return e.Code
}

// TestAuthFailure pins the answers to a missing or wrong key to EC2's: 401,
// text/xml, an <Errors> body with code AuthFailure.
func TestAuthFailure(t *testing.T) {
	f := New(t)
	for _, key := range []string{"", "AKIAWRONGWRONGWRONG"} {
		status, h, body := call(t, f, key, "us-east-1", url.Values{"Action": {"DescribeRegions"}})
		assert.Equal(t, http.StatusUnauthorized, status, "key %q", key)
		assert.True(t, strings.HasPrefix(h.Get("Content-Type"), "text/xml"), h.Get("Content-Type"))
		assert.Equal(t, "AuthFailure", errorCode(t, body))
		assert.Contains(t, body, "<RequestID>")
	}
	status, _, body := call(t, f, AccessKeyID, "us-east-1", url.Values{"Action": {"DescribeRegions"}})
	assert.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "<regionName>eu-west-1</regionName>")
	assert.Equal(t, []string{"DescribeRegions", "DescribeRegions", "DescribeRegions"}, f.Calls())
}

// TestRunInstancesIdempotency checks the ClientToken contract at the wire:
// the same token returns the same instance, other parameters a mismatch.
func TestRunInstancesIdempotency(t *testing.T) {
	f := New(t)
	run := func(token, instanceType string) (int, string) {
		status, _, body := call(t, f, AccessKeyID, "us-east-1", url.Values{
			"Action": {"RunInstances"}, "ImageId": {ImageID("us-east-1", NobleAMD64)}, "InstanceType": {instanceType},
			"MinCount": {"1"}, "MaxCount": {"1"}, "ClientToken": {token},
			"UserData":                          {base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))},
			"TagSpecification.1.ResourceType":   {"instance"},
			"TagSpecification.1.Tag.1.Key":      {"daestro"},
			"TagSpecification.1.Tag.1.Value":    {"true"},
			"TagSpecification.2.ResourceType":   {"volume"},
			"TagSpecification.2.Tag.1.Key":      {"ignored"},
			"TagSpecification.2.Tag.1.Value":    {"x"},
			"InstanceInitiatedShutdownBehavior": {"terminate"},
		})
		return status, body
	}
	status, first := run("tok-1", "t3.medium")
	require.Equal(t, http.StatusOK, status, first)
	_, again := run("tok-1", "t3.medium")
	assert.Equal(t, instanceID(t, first), instanceID(t, again))
	assert.Equal(t, 1, f.Instances())

	status, body := run("tok-1", "t3.micro")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "IdempotentParameterMismatch", errorCode(t, body))

	status, body = run("tok-2", "m7g.large")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "does not match the architecture", "an arm64 type cannot boot an amd64 image")

	runs := f.Runs()
	require.Len(t, runs, 4)
	assert.Equal(t, "#!/bin/sh\necho hi\n", runs[0].UserData)
	assert.Equal(t, []Tag{{Key: "daestro", Value: "true"}}, runs[0].Tags, "only the instance tag specification")
	assert.Equal(t, "terminate", runs[0].ShutdownBehavior)
}

func instanceID(t *testing.T, body string) string {
	t.Helper()
	var out struct {
		ID string `xml:"instancesSet>item>instanceId"`
	}
	require.NoError(t, xml.Unmarshal([]byte(body), &out), body)
	require.NotEmpty(t, out.ID, body)
	return out.ID
}

// TestInjectedFailuresMatchTheirAction checks that a failure injected for
// RunInstances waits for a RunInstances, and that throttling carries AWS's
// retry hint.
func TestInjectedFailuresMatchTheirAction(t *testing.T) {
	f := New(t)
	f.NoCapacity(1)
	f.ThrottleWithRetryAfter(1, 1500*time.Millisecond)

	status, h, body := call(t, f, AccessKeyID, "us-east-1", url.Values{"Action": {"DescribeRegions"}})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "RequestLimitExceeded", errorCode(t, body))
	assert.Equal(t, "1500", h.Get("X-Amz-Retry-After"))

	status, _, _ = call(t, f, AccessKeyID, "us-east-1", url.Values{"Action": {"DescribeRegions"}})
	assert.Equal(t, http.StatusOK, status, "the capacity failure is for RunInstances only")

	status, _, body = call(t, f, AccessKeyID, "eu-west-1", url.Values{"Action": {"RunInstances"}, "InstanceType": {"t3.medium"}})
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.Equal(t, "InsufficientInstanceCapacity", errorCode(t, body))
	assert.Contains(t, body, "t3.medium capacity in the Availability Zone you requested (eu-west-1a)")
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"ubuntu/images/*-amd64-server-*", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115", true},
		{"ubuntu/images/*-amd64-server-*", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250115", false},
		{"t3.?icro", "t3.micro", true},
		{`env\*`, "env*", true},
		{`env\*`, "env-1", false},
		{"daestro", "daestro-x", false},
	} {
		assert.Equal(t, c.want, glob(c.pattern, c.s), "%q ~ %q", c.pattern, c.s)
	}
}
