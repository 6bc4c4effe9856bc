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
	"net/http"
	"strconv"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// Client implements profit.Portfolios over the portfolio service's API.
type Client struct{ peer *httpx.Peer }

var _ profit.Portfolios = (*Client)(nil)

// New returns a client of the portfolio service at baseURL (e.g.
// http://127.0.0.1:8082). A nil client gets one with a 5 s timeout.
func New(baseURL string, client *http.Client) *Client {
	return &Client{peer: httpx.NewPeer("portfolio service", baseURL, client)}
}

// Owners implements profit.Portfolios: 200 is the portfolio, 404 is
// profit.ErrPortfolioNotFound; anything else (no answer, 5xx, a refused
// token, a body that is not a portfolio) means the portfolio service could
// not say.
func (c *Client) Owners(ctx context.Context, credentials string, id int64) (profit.Owners, error) {
	path := "/api/v1/portfolios/" + strconv.FormatInt(id, 10)
	body, found, err := c.peer.Get(ctx, credentials, path)
	switch {
	case err != nil:
		return profit.Owners{}, fmt.Errorf("%w: %v", profit.ErrDependencyUnavailable, err)
	case !found:
		return profit.Owners{}, profit.ErrPortfolioNotFound
	}
	o, err := owners(body, id)
	if err != nil {
		return profit.Owners{}, fmt.Errorf("%w: %v", profit.ErrDependencyUnavailable, c.peer.Failed(ctx, c.peer.URL(path), err))
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
			// Currency never changes; a portfolio service that
			// did not say is read as having the base currency.
			Currency string `json:"currency"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return profit.Owners{}, fmt.Errorf("answer is not a portfolio: %w", err)
	}
	d := env.Data
	if d.ID != id || d.UserID <= 0 || d.TeamID <= 0 {
		return profit.Owners{}, fmt.Errorf("answer is not portfolio %d with its owners: id %d, user %d, team %d", id, d.ID, d.UserID, d.TeamID)
	}
	return profit.Owners{PortfolioID: d.ID, UserID: d.UserID, TeamID: d.TeamID, Currency: eventbus.CurrencyOf(d.Currency)}, nil
}
