package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// client talks to the platform through its edge with one access token.
type client struct {
	edge  string
	token string
	http  *http.Client
}

// newHTTPClient keeps enough idle connections for the highest concurrency,
// so the load measures requests, not TCP handshakes.
func newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 512
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// envelope is the contract's response body.
type envelope struct {
	IsOK    bool            `json:"isOK"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Total   *int64          `json:"total"`
}

// statusError is an answer with an unexpected status.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// do sends one request; a status other than want is an error. The
// envelope's data is decoded into out when out is not nil.
func (c *client) do(ctx context.Context, method, path string, body any, want int, out any, headers ...string) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.edge+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return resp.Header, &statusError{method, path, resp.StatusCode, string(raw)}
	}
	if out != nil {
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			return resp.Header, fmt.Errorf("%s %s: %w", method, path, err)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			return resp.Header, fmt.Errorf("%s %s data: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

// login signs in and returns a client holding the access token.
func login(ctx context.Context, hc *http.Client, edge, email, password string) (*client, error) {
	c := &client{edge: edge, http: hc}
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	if _, err := c.do(ctx, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, 200, &tk); err != nil {
		return nil, err
	}
	c.token = tk.AccessToken
	return c, nil
}
