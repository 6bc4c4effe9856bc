package main

import (
	"context"
	"net/http"
	"time"

	"github.com/fundplatform/platform/devstack/internal/edgeclient"
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

// do sends one request; a status other than want is an error. The
// envelope's data is decoded into out when out is not nil.
func (c *client) do(ctx context.Context, method, path string, body any, want int, out any, headers ...string) (http.Header, error) {
	resp, raw, err := edgeclient.Send(ctx, c.http, c.edge, c.token, method, path, body, headers...)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return resp.Header, &edgeclient.StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: string(raw)}
	}
	if out != nil {
		if _, err := edgeclient.Decode(method, path, raw, out); err != nil {
			return resp.Header, err
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
