package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	libauth "github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/services/profit/internal/events"
	"github.com/fundplatform/platform/services/profit/internal/profit"
)

// portfolioService is a stand-in portfolio service. GET
// /api/v1/portfolios/{id} verifies the token it is given and answers as
// the real one does (docs/api.md#portfolio-service, "as portfolio read"):
// 200 with the portfolio for a caller who may read it, 404 otherwise. While
// failing it answers 503; while gone it drops every connection, as a
// service that is down.
type portfolioService struct {
	*httptest.Server
	mu      sync.Mutex
	known   map[int64]profit.Owners
	failing bool
	gone    bool
	lookups int
}

func newPortfolioService(t *testing.T, verifier *libauth.Verifier) *portfolioService {
	p := &portfolioService{known: map[int64]profit.Owners{}}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/portfolios/{id}", verifier.Require(http.HandlerFunc(p.get)))
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *portfolioService) get(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.lookups++
	failing, gone := p.failing, p.gone
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	o, ok := p.known[id]
	p.mu.Unlock()
	if gone {
		panic(http.ErrAbortHandler)
	}
	if failing {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, httpx.Envelope{Message: "unavailable"})
		return
	}
	c, err := libauth.CallerFrom(r.Context())
	if err != nil || !ok || !c.CanReadOwned(o.UserID, o.TeamID) {
		httpx.WriteJSON(w, http.StatusNotFound, httpx.Envelope{Message: "portfolio not found",
			Data: httpx.ErrorData{ErrorCode: http.StatusNotFound, Code: "portfolio_not_found"}})
		return
	}
	httpx.WriteOK(w, http.StatusOK, map[string]any{"id": id, "name": "P", "description": "", "user_id": o.UserID,
		"team_id": o.TeamID, "currency": "USD", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})
}

// create makes a portfolio exist in the stand-in only: one the profit
// service has not heard of (its portfolio.created not consumed yet).
func (p *portfolioService) create(id, userID, teamID int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.known[id] = profit.Owners{PortfolioID: id, UserID: userID, TeamID: teamID}
}

func (p *portfolioService) set(failing, gone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failing, p.gone = failing, gone
}

func (p *portfolioService) asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lookups
}

// readModel is the portfolio's row of the read model, every column, or ""
// when there is none.
func (e *env) readModel(id int64) string {
	e.T.Helper()
	var row string
	err := e.Pool.QueryRow(context.Background(), `SELECT row_to_json(p)::text FROM portfolios p WHERE portfolio_id = $1`, id).Scan(&row)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		e.T.Fatal(err)
	}
	return row
}

// owners are the portfolio's owners in the read model.
func (e *env) owners(id int64) (userID, teamID int64) {
	e.T.Helper()
	p, err := e.store.Portfolio(context.Background(), id)
	if err != nil {
		e.T.Fatalf("portfolio %d: %v", id, err)
	}
	return p.UserID, p.TeamID
}

// consume applies one portfolio.events event as the consumer does.
func (e *env) consume(eventType string, id, userID, teamID int64) {
	e.T.Helper()
	env := eventtest.Valid(e.T, "portfolio", eventType, fmt.Sprintf("portfolio/%d", id),
		map[string]any{"portfolio_id": id, "name": "P", "user_id": userID, "team_id": teamID, "currency": "USD"})
	err := pg.InTx(context.Background(), e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return events.Handler(e.store)(context.Background(), tx, env)
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

// TestRatioForAPortfolioJustCreated: the profit service asks the portfolio
// service about a portfolio it has not heard of, records it, and uses it.
func TestRatioForAPortfolioJustCreated(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolios.create(50, 7, 3)

	var r ratio
	e.Do("POST", ratiosPath, admin, shares(50, "0.2", "0.1", "0.7")).OK(t, 201, &r)
	if r.PortfolioID != 50 || r.Version != 1 {
		t.Fatalf("ratio = %+v", r)
	}
	if u, tm := e.owners(50); u != 7 || tm != 3 {
		t.Fatalf("read model owners = %d, %d; want 7, 3", u, tm)
	}
	// Known now: the read model answers, the portfolio service is not asked again.
	e.Do("POST", ratiosPath, admin, shares(50, "0.5", "0.5", "0")).OK(t, 201, nil)
	e.Do("POST", allocationsPath, admin, manual(50, "10", day(1))).OK(t, 201, nil)
	if n := e.portfolios.asked(); n != 1 {
		t.Fatalf("the portfolio service was asked %d times, want 1", n)
	}
}

// TestPortfolioUnknownEverywhere: a portfolio the portfolio service does
// not know either stays 404 portfolio_not_found and is not recorded.
func TestPortfolioUnknownEverywhere(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.Do("POST", ratiosPath, admin, shares(51, "1", "0", "0")).Fails(t, 404, "portfolio_not_found")
	e.Do("POST", allocationsPath, admin, manual(51, "10", day(1)), "Idempotency-Key", "k").Fails(t, 404, "portfolio_not_found")
	e.Do("GET", ratiosPath+"/current?portfolio_id=51", admin, nil).Fails(t, 404, "portfolio_not_found")
	if row := e.readModel(51); row != "" || e.portfolios.asked() != 3 {
		t.Fatalf("read model %q after %d lookups", row, e.portfolios.asked())
	}
}

// TestPortfolioServiceDown: when the portfolio service answers 5xx or not
// at all, a request that needs a portfolio not known here is 503
// dependency_unavailable and changes nothing (an Idempotency-Key included).
func TestPortfolioServiceDown(t *testing.T) {
	e := newEnv(t)
	admin, owner := e.Token(1, "admin"), e.Token(7, "user")
	e.portfolios.create(52, 7, 3)
	for name, mode := range map[string][2]bool{"answers 503": {true, false}, "drops the connection": {false, true}} {
		t.Run(name, func(t *testing.T) {
			e.portfolios.set(mode[0], mode[1])
			e.Do("POST", ratiosPath, admin, shares(52, "1", "0", "0")).Fails(t, 503, "dependency_unavailable")
			e.Do("POST", allocationsPath, admin, manual(52, "10", day(1)), "Idempotency-Key", "k").Fails(t, 503, "dependency_unavailable")
			e.Do("GET", allocationsPath+"?portfolio_id=52", owner, nil).Fails(t, 503, "dependency_unavailable")
			e.Do("GET", ratiosPath+"?portfolio_id=52", owner, nil).Fails(t, 503, "dependency_unavailable")
			if row := e.readModel(52); row != "" {
				t.Fatalf("read model after a failed lookup: %s", row)
			}
		})
	}
	// Back up: the same Idempotency-Key runs the request.
	e.portfolios.set(false, false)
	var a allocation
	e.Do("POST", allocationsPath, admin, manual(52, "10", day(1)), "Idempotency-Key", "k").OK(t, 201, &a)
	if a.PortfolioID != 52 || a.UserID != 7 || a.TeamID != 3 || a.Status != "awaiting_ratio" {
		t.Fatalf("allocation = %+v", a)
	}
	if n := e.outboxTypes()[eventbus.TypeProfitRatioChanged]; n != 0 {
		t.Fatalf("%d ratio events after refusals", n)
	}
}

// TestLaterPortfolioEvents: once a lookup recorded a portfolio, its
// portfolio.created changes nothing (its owners are older than or equal to
// what the lookup saw); portfolio.updated still applies.
func TestLaterPortfolioEvents(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	// Created with owners 7/3, then changed to 8/4 before the profit
	// service heard of it: the lookup sees 8/4.
	e.portfolios.create(53, 8, 4)
	e.Do("POST", ratiosPath, admin, shares(53, "0.2", "0.1", "0.7")).OK(t, 201, nil)
	e.Do("POST", allocationsPath, admin, manual(53, "-5", day(1))).OK(t, 201, nil)
	before := e.readModel(53)

	e.consume(eventbus.TypePortfolioCreated, 53, 7, 3)
	if after := e.readModel(53); after != before {
		t.Fatalf("portfolio.created changed the read model:\n%s\n%s", before, after)
	}
	e.consume(eventbus.TypePortfolioUpdated, 53, 8, 4)
	e.consume(eventbus.TypePortfolioUpdated, 53, 9, 5)
	if u, tm := e.owners(53); u != 9 || tm != 5 {
		t.Fatalf("owners after portfolio.updated = %d, %d; want 9, 5", u, tm)
	}
	p, err := e.store.Portfolio(context.Background(), 53)
	if err != nil || p.LossCarryforward.String() != "5" || p.LastPeriodEnd == nil || !p.LastPeriodEnd.Equal(day(1)) {
		t.Fatalf("allocation state = %+v, %v", p, err)
	}
	// A portfolio.created for a portfolio not seen still records it.
	e.consume(eventbus.TypePortfolioCreated, 54, 7, 3)
	if u, tm := e.owners(54); u != 7 || tm != 3 {
		t.Fatalf("portfolio.created: owners %d, %d", u, tm)
	}
}

// TestOwnerReadsAPortfolioJustCreated: a user reads the ratios and
// allocations of a portfolio it (or its team) owns as soon as it exists;
// the lookup is made with the caller's own token, so a stranger learns
// nothing and records nothing.
func TestOwnerReadsAPortfolioJustCreated(t *testing.T) {
	e := newEnv(t)
	owner, member, stranger := e.Token(7, "user"), e.Token(8, "user", 3), e.Token(9, "user", 4)
	e.portfolios.create(60, 7, 3)
	e.portfolios.create(61, 10, 3)
	e.portfolios.create(62, 10, 5)

	var list []allocation
	if n := e.Do("GET", allocationsPath+"?portfolio_id=60", owner, nil).List(t, &list); n != 0 || len(list) != 0 {
		t.Fatalf("allocations = %d %+v", n, list)
	}
	e.Do("GET", ratiosPath+"/current?portfolio_id=60", owner, nil).Fails(t, 404, "ratio_not_found")
	var ratios []ratio
	if n := e.Do("GET", ratiosPath+"?portfolio_id=61", member, nil).List(t, &ratios); n != 0 {
		t.Fatalf("ratios = %d", n)
	}
	e.Do("GET", allocationsPath+"?portfolio_id=62", stranger, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", ratiosPath+"/current?portfolio_id=62", stranger, nil).Fails(t, 404, "portfolio_not_found")
	if row := e.readModel(62); row != "" {
		t.Fatalf("a stranger's lookup recorded %s", row)
	}
	if u, tm := e.owners(61); u != 10 || tm != 3 {
		t.Fatalf("owners of 61 = %d, %d", u, tm)
	}
}
