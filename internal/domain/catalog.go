package domain

import (
	"encoding/base64"
	"regexp"
	"strconv"

	"github.com/google/uuid"
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9-]{1,128}$`)

// ValidateName checks the name rule shared by queues, definitions,
// environments and auths: 1-128 characters of a-z, A-Z, 0-9 and '-'.
// what names the resource ("job queue") for the message.
func ValidateName(what, name string) error {
	if !nameRE.MatchString(name) {
		if name == "" {
			return Errorf(EINVALID, "name: %s name is required (1-128 characters of letters, digits and dashes)", what)
		}
		return Errorf(EINVALID, "name: %q is not a valid %s name: use 1-128 characters of letters, digits and dashes", name, what)
	}
	return nil
}

// Page sizes for every list endpoint.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// PageRequest asks for up to Limit items after the item with ID After.
type PageRequest struct {
	// Limit is 1..MaxPageLimit.
	Limit int
	// After is the ID of the last item of the previous page ("" for the first page).
	After string
}

// Page is one page of a list plus the token for the next one ("" at the end).
type Page[T any] struct {
	// Items are in creation order.
	Items []T `json:"items"`
	// NextToken fetches the next page when passed as next_token; empty on the last page.
	NextToken string `json:"next_token"`
}

// ParsePageRequest reads the limit and next_token query parameters.
func ParsePageRequest(limit, nextToken string) (PageRequest, error) {
	p := PageRequest{Limit: DefaultPageLimit}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxPageLimit {
			return p, Errorf(EINVALID, "limit: %q must be a whole number from 1 to %d", limit, MaxPageLimit)
		}
		p.Limit = n
	}
	if nextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(nextToken)
		if err != nil || uuid.Validate(string(raw)) != nil {
			return p, Errorf(EINVALID, "next_token: %q is not a token returned by this list; start again without it", nextToken)
		}
		p.After = string(raw)
	}
	return p, nil
}

// NewPage trims items fetched with Limit+1 to Limit and sets NextToken when
// there was more; id returns an item's ID.
func NewPage[T any](items []T, req PageRequest, id func(T) string) Page[T] {
	if items == nil {
		items = []T{}
	}
	if len(items) <= req.Limit {
		return Page[T]{Items: items}
	}
	items = items[:req.Limit]
	return Page[T]{Items: items, NextToken: base64.RawURLEncoding.EncodeToString([]byte(id(items[len(items)-1])))}
}
