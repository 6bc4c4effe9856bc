// Package directory asks the auth service, which owns users and teams,
// whether a portfolio's owners exist: GET /api/v1/users/{id} and
// GET /api/v1/teams/{id} with the caller's own Authorization header (the
// caller is an admin, who may read both).
package directory

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
)

// Client implements portfolio.Directory over the auth service's API.
type Client struct{ peer *httpx.Peer }

var _ portfolio.Directory = (*Client)(nil)

// New returns a client of the auth service at baseURL (e.g.
// http://127.0.0.1:8081). A nil client gets one with a 5 s timeout.
func New(baseURL string, client *http.Client) *Client {
	return &Client{peer: httpx.NewPeer("auth service", baseURL, client)}
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
	_, found, err := c.peer.Get(ctx, credentials, path+strconv.FormatInt(id, 10))
	if err != nil {
		return false, fmt.Errorf("%w: %v", portfolio.ErrDependencyUnavailable, err)
	}
	return found, nil
}
