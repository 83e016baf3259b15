package apiserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"daestro/internal/domain"
)

// paging is what a user paging through one list must see: every item once,
// in the list's order, over a known number of pages, and a 400 for paging
// parameters the list refuses. Every list shares one paging contract
// (domain.Page), so every list's test checks it the same way.
type paging[T any] struct {
	// path is the list, with its filters if any.
	path string
	// limit is the page size asked for.
	limit int
	// key is what want lists of an item: its name, ID or name:version.
	key func(T) string
	// want is every item's key once, in the list's order.
	want []string
	// order is why want is in that order, for the failure message.
	order string
	// pages is how many pages of limit the list takes.
	pages int
	// refused maps each bad query on path to what its 400's message contains.
	refused map[string]string
}

// assertPaginates pages through p.path as c and checks p. It returns the
// items for what a test checks beyond paging.
func assertPaginates[T any](t *testing.T, c client, p paging[T]) []T {
	t.Helper()
	items, pages := pageThrough[T](t, c, p.path, p.limit)
	got := itemKeys(items, p.key)
	seen := map[string]bool{}
	for _, k := range got {
		assert.False(t, seen[k], "%s listed twice", k)
		seen[k] = true
	}
	assert.Equal(t, p.want, got, p.order)
	assert.Equal(t, p.pages, pages, "pages of %d", p.limit)
	for q, msg := range p.refused {
		r := c.do(http.MethodGet, withQuery(p.path, q), nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, q)
		assert.Contains(t, r.Message, msg, q)
	}
	return items
}

// pageThrough reads every page of path at limit, following next_token until
// a page has none, and checks that no page holds more than limit items.
func pageThrough[T any](t *testing.T, c client, path string, limit int) (items []T, pages int) {
	t.Helper()
	for token := ""; ; {
		page := getData[domain.Page[T]](t, c, withQuery(path, fmt.Sprintf("limit=%d&next_token=%s", limit, url.QueryEscape(token))))
		pages++
		assert.LessOrEqual(t, len(page.Items), limit)
		items = append(items, page.Items...)
		if token = page.NextToken; token == "" {
			return items, pages
		}
	}
}

// withQuery adds query to path, after the filters path may carry already.
func withQuery(path, query string) string {
	if query == "" {
		return path
	}
	if strings.Contains(path, "?") {
		return path + "&" + query
	}
	return path + "?" + query
}

// itemKeys is key of each item, in order.
func itemKeys[T any](items []T, key func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = key(it)
	}
	return out
}
