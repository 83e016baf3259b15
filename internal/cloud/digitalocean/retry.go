package digitalocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/digitalocean/godo"

	"daestro/internal/cloud"
)

// do runs call through cloud.Retry, which repeats only throttling (429),
// and classifies the final error; a 5xx or a network error is tried once and
// left to the caller's retry policy (see internal/cloud/retry.go). The
// retries live here rather than in godo's retryablehttp so that the
// classification, the attempt bound and the cancellation behaviour are ours
// and tested.
func (p *Provider) do(ctx context.Context, what string, call func(context.Context) (*godo.Response, error)) error {
	var status int
	attempts, exhausted, err := cloud.Retry(ctx, p.cfg.retry, func(ctx context.Context) (cloud.Attempt, error) {
		resp, err := call(ctx)
		if err == nil {
			return cloud.Attempt{}, nil
		}
		status = statusOf(resp, err)
		a := cloud.Attempt{Throttled: status == http.StatusTooManyRequests}
		a.RetryAfter, a.HasRetryAfter = retryAfter(resp, err)
		return a, err
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("digitalocean: %s: %w", what, ctx.Err())
	case exhausted:
		return &cloud.Error{
			Kind:    cloud.ErrUnavailable,
			Message: fmt.Sprintf("DigitalOcean throttled the request to %s (%s after %d attempts): try again later or check https://status.digitalocean.com", what, describe(status, err), attempts),
			Err:     err,
		}
	}
	return classify(what, status, err)
}

// statusOf returns the HTTP status of a failed call, 0 when none came back.
func statusOf(resp *godo.Response, err error) int {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	if resp != nil && resp.Response != nil {
		return resp.StatusCode
	}
	return 0
}

// retryAfter reads the Retry-After header of a failed call.
func retryAfter(resp *godo.Response, err error) (time.Duration, bool) {
	var er *godo.ErrorResponse
	switch {
	case errors.As(err, &er) && er.Response != nil:
		return cloud.ParseRetryAfter(er.Response.Header)
	case resp != nil && resp.Response != nil:
		return cloud.ParseRetryAfter(resp.Header)
	}
	return 0, false
}

func describe(status int, err error) string {
	if status == 0 {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", status)
}

// message returns DigitalOcean's own explanation from an error body.
func message(err error) string {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Message != "" {
		return er.Message
	}
	return err.Error()
}

// classify maps a permanent failure to a cloud error class with a sentence
// the user can act on.
func classify(what string, status int, err error) error {
	msg := message(err)
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "DigitalOcean rejected this access token: create a token with read and write scope under API → Tokens and update the cloud auth", Err: err}
	case status == http.StatusNotFound:
		return &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("DigitalOcean could not %s: not found (%s)", what, msg), Err: err}
	case status == http.StatusUnprocessableEntity && strings.Contains(lower, "limit"):
		return &cloud.Error{Kind: cloud.ErrQuota, Message: fmt.Sprintf("DigitalOcean refused to %s: %s; raise the droplet limit in the DigitalOcean control panel or delete unused droplets", what, msg), Err: err}
	case status == http.StatusUnprocessableEntity && (strings.Contains(lower, "not available") || strings.Contains(lower, "unavailable") || strings.Contains(lower, "capacity")):
		return &cloud.Error{Kind: cloud.ErrCapacity, Message: fmt.Sprintf("DigitalOcean cannot %s right now: %s; try another size or region", what, msg), Err: err}
	case status == 0 || status >= 500:
		// Tried once: the caller's retry policy repeats it (a create only
		// after looking for the machine by its tag, as it may exist).
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf("DigitalOcean did not answer the request to %s (%s): try again later or check https://status.digitalocean.com", what, describe(status, err)), Err: err}
	default:
		return &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("DigitalOcean refused to %s: %s (HTTP %d)", what, msg, status), Err: err}
	}
}
