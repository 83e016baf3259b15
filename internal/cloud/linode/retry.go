package linode

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/linode/linodego"

	"daestro/internal/cloud"
)

// failure is what a failed call tells us.
type failure struct {
	// status is the HTTP status, 0 when no response came back (network
	// error, timeout) or the response could not be read.
	status int
	// message is Linode's reasons, "[field] reason; …", or a description of
	// a response that did not come from the API proper.
	message string
	// header is the response's headers, nil without a response.
	header http.Header
	// api says the body was Linode's error format, not a proxy's page.
	api bool
}

// busy is Linode's 400 "Linode busy.": another operation holds the Linode.
func (f failure) busy() bool {
	return f.status == http.StatusBadRequest && strings.Contains(strings.ToLower(f.message), "linode busy")
}

// maintenance is the 503 Linode answers during maintenance windows; it
// lasts far longer than our retries, so it is not retried.
func (f failure) maintenance() bool {
	return f.status == http.StatusServiceUnavailable && f.header.Get("X-Maintenance-Mode") != ""
}

// throttled is Linode's refusal before doing any work: 429, or 400 "Linode
// busy." (another operation holds the Linode). Only these are repeated
// within a call, a create included.
func (f failure) throttled() bool {
	return f.status == http.StatusTooManyRequests || f.busy()
}

// transient is a failure the caller's retry policy may repeat: a 408, a
// server error other than maintenance, a 400 that a proxy rather than the
// API sent, or a network error, where nothing came back from Linode.
func (f failure) transient() bool {
	switch {
	case f.maintenance():
		return false
	case f.status == 0, f.status == http.StatusRequestTimeout, f.status >= 500:
		return true
	default:
		return f.status == http.StatusBadRequest && !f.api
	}
}

// do runs call through cloud.Retry, which repeats only throttling, and
// classifies the final error; anything else is tried once and left to the
// caller's retry policy (see internal/cloud/retry.go). The retries live here
// rather than in linodego's resty client so that the classification, the
// attempt bound and the cancellation behaviour are ours and tested.
func (p *Provider) do(ctx context.Context, what string, call func(context.Context) error) error {
	var f failure
	attempts, exhausted, err := cloud.Retry(ctx, p.cfg.retry,
		func(ctx context.Context) (cloud.Attempt, error) {
			err := call(ctx)
			if err == nil {
				return cloud.Attempt{}, nil
			}
			f = failureOf(err)
			a := cloud.Attempt{Throttled: f.throttled()}
			a.RetryAfter, a.HasRetryAfter = cloud.ParseRetryAfter(f.header)
			return a, err
		})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("linode: %s: %w", what, ctx.Err())
	case exhausted:
		return &cloud.Error{
			Kind:    cloud.ErrUnavailable,
			Message: fmt.Sprintf("Linode throttled the request to %s (%s after %d attempts): try again later or check https://status.linode.com", what, describe(f), attempts),
			Err:     err,
		}
	}
	return classify(what, f, err)
}

// failureOf reads a linodego error. linodego returns *Error for API errors
// (and for ours from checkResponse), a bare Error for a few of its own
// checks, and codes below 100 for failures without an HTTP status.
func failureOf(err error) failure {
	var e *linodego.Error
	if !errors.As(err, &e) {
		var v linodego.Error
		if !errors.As(err, &v) {
			return failure{message: err.Error()}
		}
		e = &v
	}
	f := failure{status: e.Code, message: e.Message}
	if f.status < 100 {
		f.status = 0
	}
	if e.Response != nil {
		f.header = e.Response.Header
		f.api = isJSON(f.header.Get("Content-Type")) && !strings.HasPrefix(e.Message, noErrors)
	}
	return f
}

// noErrors starts the message of an error response without Linode's errors
// array.
const noErrors = "no error message"

// checkResponse is a resty after-response hook that defuses two linodego
// traps that otherwise pass silently. linodego treats an error status
// whose JSON body has no "errors" array as success, and a success whose
// body is not JSON as an empty result with no error. It also builds the
// error for every error status itself, so the response's headers
// (Retry-After, X-Maintenance-Mode) stay reachable for do().
func checkResponse(r *linodego.Response) error {
	code := r.StatusCode()
	ct := r.Header().Get("Content-Type")
	switch {
	case code >= 400:
		e := &linodego.Error{Code: code, Response: r.RawResponse}
		if ae, ok := r.Error().(*linodego.APIError); ok && isJSON(ct) && len(ae.Errors) > 0 {
			e.Message = ae.Error()
		} else {
			e.Message = fmt.Sprintf("%s (HTTP %d, Content-Type %q)", noErrors, code, ct)
		}
		return e
	case code >= 200 && code < 300 && code != http.StatusNoContent && len(r.Body()) > 0 && !isJSON(ct):
		// Code 0: the request may well have worked, but we cannot read
		// the result, which is how a lost response is treated too.
		return &linodego.Error{Code: 0, Message: fmt.Sprintf("Linode answered HTTP %d with Content-Type %q instead of JSON", code, ct)}
	}
	return nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

func describe(f failure) string {
	switch {
	case f.status == 0:
		return f.message
	case f.busy():
		return "HTTP 400 Linode busy"
	default:
		return fmt.Sprintf("HTTP %d", f.status)
	}
}

// capacityWords are how Linode says a plan cannot be had in a region right
// now. Its wording is not documented, so the match is loose; a miss only
// turns ErrCapacity into ErrInvalid, which callers also do not retry.
var capacityWords = []string{"out of stock", "sold out", "capacity", "not available", "unavailable", "no open slots"}

// classify maps a failure that is not retried (further) to a cloud error
// class with a sentence the user can act on.
func classify(what string, f failure, err error) error {
	lower := strings.ToLower(f.message)
	switch {
	case f.status == http.StatusUnauthorized:
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "Linode rejected this access token: create a personal access token with read/write access to Linodes in Linode Cloud Manager under My Profile → API Tokens, and update the cloud auth", Err: err}
	case f.status == http.StatusForbidden:
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: fmt.Sprintf("Linode did not allow this access token to %s (%s): give the token read/write access to Linodes, or use a token of a user with the add_linodes grant, and update the cloud auth", what, f.message), Err: err}
	case f.status == http.StatusNotFound:
		return &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("Linode could not %s: not found (%s)", what, f.message), Err: err}
	case f.maintenance():
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf("Linode's API is down for maintenance, so daestro could not %s: try again later; https://status.linode.com says when it ends", what), Err: err}
	case f.status == http.StatusBadRequest && f.api && strings.Contains(lower, "limit"):
		return &cloud.Error{Kind: cloud.ErrQuota, Message: fmt.Sprintf("Linode refused to %s: %s; open a support ticket in Linode Cloud Manager to raise the account limit, or delete unused Linodes", what, f.message), Err: err}
	case f.status == http.StatusBadRequest && f.api && containsAny(lower, capacityWords):
		return &cloud.Error{Kind: cloud.ErrCapacity, Message: fmt.Sprintf("Linode cannot %s right now: %s; try another type or region", what, f.message), Err: err}
	case f.transient():
		// Tried once: the caller's retry policy repeats it (a create only
		// after looking for the machine by its tag, as it may exist).
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf("Linode did not answer the request to %s (%s): try again later or check https://status.linode.com", what, describe(f)), Err: err}
	default:
		return &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("Linode refused to %s: %s (HTTP %d)", what, f.message, f.status), Err: err}
	}
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
