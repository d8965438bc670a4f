package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Namespace is an owner namespace (the first component of lock names,
// under --tenancy isolated) bound to the GitHub account, user or
// organization, that used it first.
type Namespace struct {
	Name    string    `json:"name"`
	Account string    `json:"account"` // "github-user:ID" or "github-org:ID": GitHub's numeric ID, never a login
	BoundAt time.Time `json:"bound_at"`
}

// NamespaceList is one page of bound namespaces, in name order.
type NamespaceList struct {
	Namespaces []Namespace `json:"namespaces"`
	NextAfter  *string     `json:"next_after"` // set when more follow: pass it as after
}

// ListNamespaces returns one page of the bound namespaces: those sorting
// after after, at most limit (0: the server's default, 1000);
// administrators only, else ErrForbidden.
func (c *Client) ListNamespaces(ctx context.Context, after string, limit int) (*NamespaceList, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var l NamespaceList
	err := c.do(ctx, &call{method: http.MethodGet, path: "/namespaces", query: q, kind: read, out: &l})
	return result(&l, err)
}

// AllNamespaces pages through every bound namespace.
func (c *Client) AllNamespaces(ctx context.Context) ([]Namespace, error) {
	return pageAll([]Namespace{}, func(after string) ([]Namespace, *string, error) {
		page, err := c.ListNamespaces(ctx, after, 0)
		if err != nil {
			return nil, nil, err
		}
		return page.Namespaces, page.NextAfter, nil
	})
}

// ReleaseNamespace frees a namespace's binding, so the next account to
// use it binds it anew (after a GitHub login changed hands);
// administrators only, else ErrForbidden. A namespace that is not bound
// is ErrNotFound.
func (c *Client) ReleaseNamespace(ctx context.Context, name string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/namespaces/" + url.PathEscape(name)})
}
