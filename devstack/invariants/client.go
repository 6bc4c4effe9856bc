package invariants

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fundplatform/platform/devstack/internal/edgeclient"
)

// Client reads the platform through its edge as one admin (or viewer).
type Client struct {
	Edge  string
	Token string
	HTTP  *http.Client
}

// Login signs in through the edge and returns a client holding the access
// token.
func Login(ctx context.Context, edge, email, password string) (*Client, error) {
	c := &Client{Edge: edge, HTTP: &http.Client{Timeout: 30 * time.Second}}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	if _, err := c.Do(ctx, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &tk); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", email, err)
	}
	c.Token = tk.AccessToken
	return c, nil
}

// StatusError is a non-2xx answer.
type StatusError = edgeclient.StatusError

// Do sends one request and decodes the envelope's data into out (when not
// nil); it returns the envelope's total (0 when absent).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) (int64, error) {
	resp, raw, err := edgeclient.Send(ctx, c.HTTP, c.Edge, c.Token, method, path, body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode/100 != 2 {
		return 0, &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: string(raw)}
	}
	env, err := edgeclient.Decode(method, path, raw, out)
	if err != nil || env.Total == nil {
		return 0, err
	}
	return *env.Total, nil
}

// pageSize is the largest page the contract allows.
const pageSize = 1000

// ListAll reads every page of a list route as c; query holds its filters.
func ListAll[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	var all []T
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", strconv.Itoa(pageSize))
	for offset := 0; ; offset += pageSize {
		q.Set("offset", strconv.Itoa(offset))
		var page []T
		total, err := c.Do(ctx, "GET", path+"?"+q.Encode(), nil, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) == 0 || int64(len(all)) >= total {
			return all, nil
		}
	}
}
