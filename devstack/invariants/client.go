package invariants

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
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
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends one request and decodes the envelope's data into out (when not
// nil); it returns the envelope's total (0 when absent).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) (int64, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Edge+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode/100 != 2 {
		return 0, &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: string(raw)}
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Total int64           `json:"total"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return 0, fmt.Errorf("%s %s data: %w", method, path, err)
		}
	}
	return env.Total, nil
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
