package vultr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"daestro/internal/cloud"
)

// errUnusable stands for a success status whose body govultr could not
// use: not a failure worth another attempt (the call may have taken effect).
var errUnusable = errors.New("vultr: unusable success answer")

// do runs call through cloud.Retry, which repeats only throttling (429),
// and classifies the final error from what the transport recorded, since
// govultr's errors carry no status; a 5xx or a network error is tried once
// and left to the caller's retry policy (see internal/cloud/retry.go). The
// retries live here rather than in go-retryablehttp so that the
// classification, the attempt bound and the cancellation behaviour are ours
// and tested.
func (p *Provider) do(ctx context.Context, what string, call func(context.Context) error) error {
	if p.token == "" {
		return errNoToken()
	}
	var (
		ex      *exchange
		callErr error
	)
	attempts, exhausted, err := cloud.Retry(ctx, p.cfg.retry,
		func(ctx context.Context) (cloud.Attempt, error) {
			var cctx context.Context
			cctx, ex = withExchange(ctx)
			callErr = call(cctx)
			switch {
			case callErr == nil && ex.badType == "":
				return cloud.Attempt{}, nil
			case ex.badType != "" || (ex.status >= 200 && ex.status < 300):
				return cloud.Attempt{}, errUnusable
			}
			a := cloud.Attempt{Throttled: ex.status == http.StatusTooManyRequests}
			a.RetryAfter, a.HasRetryAfter = cloud.ParseRetryAfter(http.Header{"Retry-After": {ex.retryAfter}})
			return a, callErr
		})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("vultr: %s: %w", what, ctx.Err())
	case errors.Is(err, errUnusable):
		return unreadable(what, ex, callErr)
	case exhausted:
		return &cloud.Error{
			Kind:    cloud.ErrUnavailable,
			Message: fmt.Sprintf("Vultr throttled the request to %s (%s after %d attempts): try again later or check https://status.vultr.com", what, describe(ex, err), attempts),
			Err:     err,
		}
	}
	return classify(what, ex, err)
}

// errNoToken is the error for a Provider built without an API key, which
// Vultr would only answer with 401s.
func errNoToken() error {
	return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: "no Vultr API key given: enable the API and copy the key under Account → API in the Vultr customer portal"}
}

// describe names a failure for a message: the HTTP status, or the network
// error when nothing came back.
func describe(ex *exchange, err error) string {
	if ex.status == 0 {
		if ex.netErr != nil {
			return ex.netErr.Error()
		}
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", ex.status)
}

// message returns Vultr's own explanation: the error body's message as the
// transport read it, else govultr's error without its prefix; the final
// full stop is dropped because the message is quoted mid-sentence.
func message(ex *exchange, err error) string {
	m := ex.message
	if m == "" && err != nil {
		m = strings.TrimPrefix(err.Error(), "error returned from api : ")
	}
	m = strings.TrimRight(strings.TrimSpace(m), ".")
	if m == "" {
		return "no explanation given"
	}
	return m
}

// unreadable is the error for a success status whose body govultr could
// not use: not JSON, or JSON of the wrong shape. The call may have taken
// effect, so it is not repeated.
func unreadable(what string, ex *exchange, err error) error {
	detail := "an answer that is not valid JSON"
	switch {
	case ex.badType != "":
		detail = fmt.Sprintf("Content-Type %q instead of JSON", ex.badType)
		if err == nil {
			err = fmt.Errorf("vultr: HTTP %d with Content-Type %q", ex.status, ex.badType)
		}
	case errors.Is(err, errEmpty):
		detail = "an empty answer"
	}
	return &cloud.Error{
		Kind:    cloud.ErrUnavailable,
		Message: fmt.Sprintf("Vultr answered the request to %s with %s (HTTP %d): a proxy between daestro and the Vultr API may be interfering; if the request created something, list the machines by tag before trying again", what, detail, ex.status),
		Err:     err,
	}
}

// quotaWords and capacityWords recognize Vultr's 4xx messages for an
// account limit ("You have reached the maximum number of active instances",
// "exceeded the instance limit") and for a plan out of stock in a location
// ("Plan is not available in the selected location"). Vultr gives these no
// code of their own. A field length message ("exceeds the character limit")
// is not a quota.
var (
	quotaWords    = []string{"limit", "maximum", "quota"}
	quotaVerbs    = []string{"reached", "exceed", "raise", "increase"}
	capacityWords = []string{"not available", "unavailable", "out of stock", "sold out", "capacity", "insufficient"}
)

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// classify maps a permanent failure to a cloud error class with a sentence
// the user can act on.
func classify(what string, ex *exchange, err error) error {
	status := ex.status
	msg := message(ex, err)
	lower := strings.ToLower(msg)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &cloud.Error{Kind: cloud.ErrUnauthorized, Message: fmt.Sprintf("Vultr rejected this API key: check it under Account → API in the Vultr customer portal, make sure the key's access control allows this server's IP address, and update the cloud auth (Vultr said: %s)", msg), Err: err}
	case status == http.StatusNotFound:
		return &cloud.Error{Kind: cloud.ErrNotFound, Message: fmt.Sprintf("Vultr could not %s: not found (%s)", what, msg), Err: err}
	case status >= 400 && status < 500 && containsAny(lower, quotaWords) && containsAny(lower, quotaVerbs) && !strings.Contains(lower, "character"):
		return &cloud.Error{Kind: cloud.ErrQuota, Message: fmt.Sprintf("Vultr refused to %s: %s; ask Vultr support to raise the account's limit or delete unused instances", what, msg), Err: err}
	case status >= 400 && status < 500 && containsAny(lower, capacityWords):
		return &cloud.Error{Kind: cloud.ErrCapacity, Message: fmt.Sprintf("Vultr cannot %s right now: %s; try another plan or region", what, msg), Err: err}
	case status == 0 || status >= 500:
		// Tried once: the caller's retry policy repeats it (a create only
		// after looking for the machine by its tag, as it may exist).
		return &cloud.Error{Kind: cloud.ErrUnavailable, Message: fmt.Sprintf("Vultr did not answer the request to %s (%s): try again later or check https://status.vultr.com", what, describe(ex, err)), Err: err}
	default:
		return &cloud.Error{Kind: cloud.ErrInvalid, Message: fmt.Sprintf("Vultr refused to %s: %s (HTTP %d)", what, msg, status), Err: err}
	}
}
