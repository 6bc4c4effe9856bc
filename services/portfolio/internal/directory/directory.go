// Package directory asks the auth service, which owns users and teams,
// whether a portfolio's owners exist: GET /api/v1/users/{id} and
// GET /api/v1/teams/{id} with the caller's own Authorization header (the
// caller is an admin, who may read both).
package directory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// Client implements portfolio.Directory over the auth service's API.
type Client struct {
	baseURL string
	http    *http.Client
}

var _ portfolio.Directory = (*Client)(nil)

// New returns a client of the auth service at baseURL (e.g.
// http://127.0.0.1:8081). A nil client gets one with a 5 s timeout.
func New(baseURL string, client *http.Client) *Client {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), http: client}
}

// UserExists implements portfolio.Directory.
func (c *Client) UserExists(ctx context.Context, credentials string, id int64) (bool, error) {
	return c.exists(ctx, credentials, "/api/v1/users/", id)
}

// TeamExists implements portfolio.Directory.
func (c *Client) TeamExists(ctx context.Context, credentials string, id int64) (bool, error) {
	return c.exists(ctx, credentials, "/api/v1/teams/", id)
}

// exists is true on 200 and false on 404; anything else (no answer, 5xx,
// a refused token) means the auth service could not say.
func (c *Client) exists(ctx context.Context, credentials, path string, id int64) (bool, error) {
	url := c.baseURL + path + strconv.FormatInt(id, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, c.unavailable(ctx, url, err)
	}
	req.Header.Set("Accept", "application/json")
	if credentials != "" {
		req.Header.Set("Authorization", credentials)
	}
	if id := httpx.RequestID(ctx); id != "" {
		req.Header.Set(httpx.RequestIDHeader, id)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, c.unavailable(ctx, url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, c.unavailable(ctx, url, fmt.Errorf("answered %d", resp.StatusCode))
}

func (c *Client) unavailable(ctx context.Context, url string, err error) error {
	slog.WarnContext(ctx, "auth service lookup failed", "url", url, "error", err.Error(),
		"request_id", httpx.RequestID(ctx))
	return fmt.Errorf("%w: GET %s: %v", portfolio.ErrDependencyUnavailable, url, err)
}
