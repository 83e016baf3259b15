package vultr

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
)

// exchange is what the transport saw of the response to one govultr call.
// govultr makes one HTTP request per call (its retries are off) and calls
// are not shared between goroutines, so it needs no lock.
type exchange struct {
	// status is the HTTP status, 0 when no response came back.
	status int
	// netErr is why no response came back, kept here because govultr
	// flattens it into a string.
	netErr error
	// retryAfter is the Retry-After header, "" when absent.
	retryAfter string
	// message is Vultr's "error" field from an error body.
	message string
	// badType is the Content-Type of a success body that is not JSON; govultr
	// would decode nothing from it and report success.
	badType string
}

// exchangeKey carries the *exchange of a call in the request's context,
// which govultr and go-retryablehttp pass down unchanged.
type exchangeKey struct{}

// withExchange returns ctx carrying a fresh exchange for one call.
func withExchange(ctx context.Context) (context.Context, *exchange) {
	ex := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, ex), ex
}

// maxErrorBody bounds how much of an error body is read to find Vultr's
// message.
const maxErrorBody = 64 << 10

// transport records each response in the request's exchange and repairs the
// Content-Type of JSON success bodies: govultr decodes a body only when the
// header is exactly "application/json", so "application/json;
// charset=utf-8" would turn every answer into an empty success.
type transport struct {
	// base sends the request.
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if ex == nil {
		ex = &exchange{}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		ex.netErr = err
		return resp, err
	}
	ex.status = resp.StatusCode
	ex.retryAfter = resp.Header.Get("Retry-After")

	switch {
	case resp.StatusCode >= 400:
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		if rerr == nil {
			var body struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(b, &body) == nil {
				ex.message = body.Error
			}
		}
	case resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.StatusCode != http.StatusNoContent && resp.ContentLength != 0:
		ct := resp.Header.Get("Content-Type")
		if ct == "application/json" {
			break
		}
		if mt, _, perr := mime.ParseMediaType(ct); perr == nil && mt == "application/json" {
			resp.Header.Set("Content-Type", "application/json")
			break
		}
		ex.badType = ct
		if ex.badType == "" {
			ex.badType = "none"
		}
	}
	return resp, nil
}
