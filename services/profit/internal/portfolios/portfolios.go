// Package portfolios asks the portfolio service, which owns portfolios,
// about one the profit service's read model does not have yet:
// GET /api/v1/portfolios/{id} with the caller's own Authorization header,
// so it answers only about a portfolio the caller may read
// (docs/api.md#portfolio-service, "as portfolio read").
package portfolios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// Client implements profit.Portfolios over the portfolio service's API.
type Client struct {
	baseURL string
	http    *http.Client
}

var _ profit.Portfolios = (*Client)(nil)

// New returns a client of the portfolio service at baseURL (e.g.
// http://127.0.0.1:8082). A nil client gets one with a 5 s timeout.
func New(baseURL string, client *http.Client) *Client {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), http: client}
}

// maxBody bounds what is read of an answer: a portfolio is well under it.
const maxBody = 1 << 20

// Owners implements profit.Portfolios: 200 is the portfolio, 404 is
// profit.ErrPortfolioNotFound; anything else (no answer, 5xx, a refused
// token, a body that is not a portfolio) means the portfolio service could
// not say.
func (c *Client) Owners(ctx context.Context, credentials string, id int64) (profit.Owners, error) {
	url := c.baseURL + "/api/v1/portfolios/" + strconv.FormatInt(id, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return profit.Owners{}, c.unavailable(ctx, url, err)
	}
	req.Header.Set("Accept", "application/json")
	if credentials != "" {
		req.Header.Set("Authorization", credentials)
	}
	if rid := httpx.RequestID(ctx); rid != "" {
		req.Header.Set(httpx.RequestIDHeader, rid)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return profit.Owners{}, c.unavailable(ctx, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch {
	case err != nil:
		return profit.Owners{}, c.unavailable(ctx, url, err)
	case resp.StatusCode == http.StatusNotFound:
		return profit.Owners{}, profit.ErrPortfolioNotFound
	case resp.StatusCode != http.StatusOK:
		return profit.Owners{}, c.unavailable(ctx, url, fmt.Errorf("answered %d", resp.StatusCode))
	}
	o, err := owners(body, id)
	if err != nil {
		return profit.Owners{}, c.unavailable(ctx, url, err)
	}
	return o, nil
}

// owners reads the portfolio out of a 200's envelope; one that is not
// portfolio id with a user and a team is no answer.
func owners(body []byte, id int64) (profit.Owners, error) {
	var env struct {
		Data struct {
			ID     int64 `json:"id"`
			UserID int64 `json:"user_id"`
			TeamID int64 `json:"team_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return profit.Owners{}, fmt.Errorf("answer is not a portfolio: %w", err)
	}
	d := env.Data
	if d.ID != id || d.UserID <= 0 || d.TeamID <= 0 {
		return profit.Owners{}, fmt.Errorf("answer is not portfolio %d with its owners: id %d, user %d, team %d", id, d.ID, d.UserID, d.TeamID)
	}
	return profit.Owners{PortfolioID: d.ID, UserID: d.UserID, TeamID: d.TeamID}, nil
}

func (c *Client) unavailable(ctx context.Context, url string, err error) error {
	slog.WarnContext(ctx, "portfolio service lookup failed", "url", url, "error", err.Error(),
		"request_id", httpx.RequestID(ctx))
	return fmt.Errorf("%w: GET %s: %v", profit.ErrDependencyUnavailable, url, err)
}
