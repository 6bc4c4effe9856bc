package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/profit/internal/endpoint"
	"github.com/fundplatform/platform/services/profit/internal/portfolios"
	"github.com/fundplatform/platform/services/profit/internal/profit"
	"github.com/fundplatform/platform/services/profit/internal/store"
	"github.com/fundplatform/platform/services/profit/internal/transport"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is one profit service over a fresh database, behind httptest, with
// a stand-in portfolio service (which knows no portfolio until told).
type env struct {
	*servicetest.Server
	store      *store.Store
	portfolios *portfolioService
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := servicetest.New(t, store.Migrations())
	e := &env{Server: s, store: store.New(s.Pool), portfolios: newPortfolioService(t, s.Verifier())}
	svc := profit.New(e.store, portfolios.New(e.portfolios.URL, nil), profit.Options{})
	s.Serve("profit", transport.NewHandler(endpoint.New(svc), s.Verifier(), s.Idempotency(), s.Metrics()))
	return e
}

// portfolio puts a portfolio in the read model, as its portfolio.created
// event does.
func (e *env) portfolio(id, userID, teamID int64) {
	e.T.Helper()
	err := pg.InTx(context.Background(), e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return e.store.ApplyPortfolio(context.Background(), tx, store.Owners{PortfolioID: id, UserID: userID, TeamID: teamID})
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

type ratio struct {
	ID          int64     `json:"id"`
	PortfolioID int64     `json:"portfolio_id"`
	Version     int       `json:"version"`
	ToTeam      string    `json:"to_team"`
	ToPlatform  string    `json:"to_platform"`
	ToUser      string    `json:"to_user"`
	CreatedBy   int64     `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

type allocation struct {
	ID                     int64     `json:"id"`
	PortfolioID            int64     `json:"portfolio_id"`
	Source                 string    `json:"source"`
	SnapshotID             *int64    `json:"snapshot_id"`
	PeriodEnd              time.Time `json:"period_end"`
	ProfitAmount           string    `json:"profit_amount"`
	LossCarryforwardBefore string    `json:"loss_carryforward_before"`
	LossCarryforwardAfter  string    `json:"loss_carryforward_after"`
	Distributable          string    `json:"distributable"`
	RatioID                *int64    `json:"ratio_id"`
	RatioVersion           *int      `json:"ratio_version"`
	ToTeamAmount           string    `json:"to_team_amount"`
	ToPlatformAmount       string    `json:"to_platform_amount"`
	ToUserAmount           string    `json:"to_user_amount"`
	UserID                 int64     `json:"user_id"`
	TeamID                 int64     `json:"team_id"`
	Status                 string    `json:"status"`
	CreatedAt              time.Time `json:"created_at"`
}

const (
	ratiosPath      = "/api/v1/profit/profit_allocation_ratios"
	allocationsPath = "/api/v1/profit/allocations"
)

func shares(portfolioID int64, team, platform, user any) map[string]any {
	return map[string]any{"portfolio_id": portfolioID, "to_team": team, "to_platform": platform, "to_user": user}
}

func manual(portfolioID int64, amount any, periodEnd time.Time) map[string]any {
	return map[string]any{"portfolio_id": portfolioID, "profit_amount": amount, "period_end": periodEnd.Format(time.RFC3339)}
}

// amt is an amount as the API writes it.
func amt(s string) string { return money.MustAmount(s).String() }

// day is a period end in the past, in order by n.
func day(n int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

// outboxTypes counts the outbox's events by type, checking every payload
// against its schema.
func (e *env) outboxTypes() map[string]int {
	e.T.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT type, payload::text FROM outbox ORDER BY id`)
	if err != nil {
		e.T.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var typ, payload string
		if err := rows.Scan(&typ, &payload); err != nil {
			e.T.Fatal(err)
		}
		if err := eventbus.Validate(typ, []byte(payload)); err != nil {
			e.T.Errorf("outbox %s: %v", typ, err)
		}
		out[typ]++
	}
	return out
}

// callers are the tokens TestRatios calls with: admin 1, viewer 2, the
// owner 7 of portfolio 42, a member 8 of its team 3 and a stranger 9.
type callers struct{ admin, viewer, owner, member, stranger string }

func TestRatios(t *testing.T) {
	e := newEnv(t)
	c := callers{admin: e.Token(1, "admin"), viewer: e.Token(2, "viewer"),
		owner: e.Token(7, "user"), member: e.Token(8, "user", 3), stranger: e.Token(9, "user", 4)}
	e.portfolio(42, 7, 3)
	e.portfolio(43, 10, 5)
	var r3 ratio
	_ = t.Run("refusals", func(t *testing.T) { ratioRefusals(t, e, c) }) &&
		t.Run("versions", func(t *testing.T) { r3 = ratioVersions(t, e, c) }) &&
		t.Run("current", func(t *testing.T) { ratioCurrent(t, e, c, r3) }) &&
		t.Run("lists", func(t *testing.T) { ratioLists(t, e, c) })
}

// ratioRefusals: invalid or forbidden ratios are refused and create nothing.
func ratioRefusals(t *testing.T, e *env, c callers) {
	admin, viewer, owner := c.admin, c.viewer, c.owner
	// Validation.
	for name, c := range map[string]struct {
		body  any
		code  string
		field string
	}{
		"sum 0.9999":      {shares(42, "0.2", "0.1", "0.6999"), "invalid_ratio", ""},
		"sum 1.0001":      {shares(42, "0.2", "0.1001", "0.7"), "invalid_ratio", ""},
		"5 decimals":      {shares(42, "0.20000", "0.1", "0.7"), "invalid_ratio", "to_team"},
		"5 places, sum 1": {shares(42, "0.33333", "0.33334", "0.33333"), "invalid_ratio", "to_team"},
		"above 1":         {shares(42, "1.5", "-0.25", "-0.25"), "invalid_ratio", "to_team"},
		"negative":        {shares(42, "0.5", "-0.1", "0.6"), "invalid_ratio", "to_platform"},
		"exponent":        {shares(42, "0.2", "0.1", "7e-1"), "invalid_ratio", "to_user"},
		"missing share":   {map[string]any{"portfolio_id": 42, "to_team": "0.5", "to_platform": "0.5"}, "invalid_ratio", "to_user"},
		"null share":      {shares(42, nil, "0.5", "0.5"), "invalid_ratio", "to_team"},
		"no portfolio":    {map[string]any{"to_team": "0.5", "to_platform": "0.5", "to_user": "0"}, "validation_failed", "portfolio_id"},
		"portfolio 0":     {shares(0, "0.5", "0.5", "0"), "validation_failed", "portfolio_id"},
		"unknown field":   {`{"portfolio_id":42,"to_team":"1","to_platform":"0","to_user":"0","note":"x"}`, "invalid_json", "note"},
	} {
		t.Run(name, func(t *testing.T) {
			e.Do("POST", ratiosPath, admin, c.body).FailsOn(t, 400, c.code, c.field)
		})
	}
	e.Do("POST", ratiosPath, admin, `{"portfolio_id":"42","to_team":"1","to_platform":"0","to_user":"0"}`).Fails(t, 400, "validation_failed")
	e.Do("POST", ratiosPath, admin, shares(999, "1", "0", "0")).Fails(t, 404, "portfolio_not_found")
	e.Do("POST", ratiosPath, viewer, shares(42, "1", "0", "0")).Fails(t, 403, "forbidden")
	e.Do("POST", ratiosPath, owner, shares(42, "1", "0", "0")).Fails(t, 403, "forbidden")
	e.Do("POST", ratiosPath, "", shares(42, "1", "0", "0")).Fails(t, 401, "unauthenticated")

	// Nothing refused created anything.
	e.Do("GET", ratiosPath+"/current?portfolio_id=42", admin, nil).Fails(t, 404, "ratio_not_found")
	if n := e.outboxTypes()[eventbus.TypeProfitRatioChanged]; n != 0 {
		t.Fatalf("%d ratio events after refusals", n)
	}
}

// ratioVersions: versions 1, 2, 3 on one portfolio, 1 on another; it
// returns version 3.
func ratioVersions(t *testing.T, e *env, c callers) ratio {
	admin := c.admin
	// Versions 1, 2, 3; strings and JSON numbers both parse exactly.
	var r1, r2, r3 ratio
	e.Do("POST", ratiosPath, admin, shares(42, "0.2", "0.1", "0.7")).OK(t, 201, &r1)
	e.Do("POST", ratiosPath, admin, `{"portfolio_id":42,"to_team":0.3333,"to_platform":0.3334,"to_user":0.3333}`).OK(t, 201, &r2)
	e.Do("POST", ratiosPath, admin, shares(42, "1", "0", "0.0000")).OK(t, 201, &r3)
	if r1.Version != 1 || r2.Version != 2 || r3.Version != 3 || r1.PortfolioID != 42 || r1.CreatedBy != 1 || r1.CreatedAt.IsZero() {
		t.Fatalf("versions %+v %+v %+v", r1, r2, r3)
	}
	if r1.ToTeam != "0.2000" || r1.ToPlatform != "0.1000" || r1.ToUser != "0.7000" || r2.ToPlatform != "0.3334" || r3.ToTeam != "1.0000" || r3.ToUser != "0.0000" {
		t.Fatalf("shares not 4-place strings: %+v %+v %+v", r1, r2, r3)
	}
	var other ratio
	e.Do("POST", ratiosPath, admin, shares(43, "0.5", "0.5", "0")).OK(t, 201, &other)
	if other.Version != 1 {
		t.Fatalf("versions are per portfolio: %+v", other)
	}
	if n := e.outboxTypes()[eventbus.TypeProfitRatioChanged]; n != 4 {
		t.Fatalf("%d profit.ratio_changed in the outbox, want 4", n)
	}
	return r3
}

func ratioCurrent(t *testing.T, e *env, c callers, r3 ratio) {
	admin, member, stranger := c.admin, c.member, c.stranger
	var cur ratio
	e.Do("GET", ratiosPath+"/current?portfolio_id=42", member, nil).OK(t, 200, &cur)
	if cur != r3 {
		t.Fatalf("current = %+v, want %+v", cur, r3)
	}
	e.Do("GET", ratiosPath+"/current", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", ratiosPath+"/current?portfolio_id=x", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", ratiosPath+"/current?portfolio_id=999", admin, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", ratiosPath+"/current?portfolio_id=42", stranger, nil).Fails(t, 404, "portfolio_not_found")
}

func ratioLists(t *testing.T, e *env, c callers) {
	admin, viewer, owner, stranger := c.admin, c.viewer, c.owner, c.stranger
	// Lists: newest first, total, pagination; roles.
	var list []ratio
	r := e.Do("GET", ratiosPath+"?portfolio_id=42&limit=2", viewer, nil).OK(t, 200, &list)
	if len(list) != 2 || list[0].Version != 3 || list[1].Version != 2 || *r.Env.Total != 3 {
		t.Fatalf("page 1 = %+v total %v", list, *r.Env.Total)
	}
	e.Do("GET", ratiosPath+"?portfolio_id=42&limit=2&offset=2", owner, nil).OK(t, 200, &list)
	if len(list) != 1 || list[0].Version != 1 {
		t.Fatalf("page 2 = %+v", list)
	}
	r = e.Do("GET", ratiosPath, admin, nil).OK(t, 200, &list)
	if len(list) != 4 || *r.Env.Total != 4 || list[0].PortfolioID != 43 {
		t.Fatalf("all ratios = %+v", list)
	}
	e.Do("GET", ratiosPath, owner, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", ratiosPath+"?portfolio_id=43", owner, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", ratiosPath+"?portfolio_id=42", stranger, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", ratiosPath+"?portfolio_id=42&limit=0", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", ratiosPath+"?portfolio_id=42&offset=-1", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", ratiosPath+"?portfolio_id=42", "", nil).Fails(t, 401, "unauthenticated")
	e.Do("DELETE", ratiosPath, admin, nil).Fails(t, 405, "method_not_allowed")
}

func TestManualAllocationIdempotency(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolio(42, 7, 3)
	e.Do("POST", ratiosPath, admin, shares(42, "0.2", "0.1", "0.7")).OK(t, 201, nil)

	key := "Idempotency-Key"
	body := manual(42, "100", day(1))
	first := e.Do("POST", allocationsPath, admin, body, key, "k-1")
	var a allocation
	first.OK(t, 201, &a)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first response marked as a replay")
	}
	if a.Source != "manual" || a.SnapshotID != nil || a.Status != "allocated" || a.UserID != 7 || a.TeamID != 3 ||
		a.ProfitAmount != "100.00000000" || a.Distributable != "100.00000000" || a.ToTeamAmount != "20.00000000" ||
		a.ToPlatformAmount != "10.00000000" || a.ToUserAmount != "70.00000000" || a.LossCarryforwardBefore != "0.00000000" ||
		a.LossCarryforwardAfter != "0.00000000" || a.RatioVersion == nil || *a.RatioVersion != 1 || !a.PeriodEnd.Equal(day(1)) {
		t.Fatalf("allocation = %+v", a)
	}
	// The JSON has exactly the contract's fields.
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(first.Env.Data, &fields)
	want := []string{"id", "allocation_key", "portfolio_id", "source", "snapshot_id", "period_end", "profit_amount", "loss_carryforward_before",
		"loss_carryforward_after", "distributable", "ratio_id", "ratio_version", "to_team_amount", "to_platform_amount",
		"to_user_amount", "user_id", "team_id", "currency", "status", "created_at", "corrects", "correction_id", "reversed_by_correction"}
	if len(fields) != len(want) {
		t.Errorf("allocation has %d fields, want %d: %s", len(fields), len(want), first.Env.Data)
	}
	for _, f := range want {
		if _, ok := fields[f]; !ok {
			t.Errorf("allocation lacks %s", f)
		}
	}

	// A repeat replays the stored response and changes nothing.
	again := e.Do("POST", allocationsPath, admin, body, key, "k-1")
	if again.Status != 201 || !bytes.Equal(again.Raw, first.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay = %d %s (replayed %q)", again.Status, again.Raw, again.Header.Get("Idempotent-Replayed"))
	}
	e.Do("POST", allocationsPath, admin, manual(42, "101", day(1)), key, "k-1").Fails(t, 409, "idempotency_key_reused")
	var list []allocation
	if r := e.Do("GET", allocationsPath, admin, nil).OK(t, 200, &list); *r.Env.Total != 1 {
		t.Fatalf("%d allocations after a replay, want 1", *r.Env.Total)
	}
	if n := e.outboxTypes()[eventbus.TypeProfitAllocated]; n != 1 {
		t.Fatalf("%d profit.allocated, want 1", n)
	}

	// A refusal before any effect stores nothing under its key: the
	// corrected request may use it.
	e.Do("POST", allocationsPath, admin, manual(42, "1.123456789", day(2)), key, "k-2").Fails(t, 400, "invalid_amount")
	e.Do("POST", allocationsPath, admin, manual(999, "5", day(2)), key, "k-2").Fails(t, 404, "portfolio_not_found")
	e.Do("POST", allocationsPath, e.Token(2, "viewer"), manual(42, "5", day(2)), key, "k-2").Fails(t, 403, "forbidden")
	e.Do("POST", allocationsPath, admin, manual(42, "5", day(2)), key, "k-2").OK(t, 201, nil)
	// Once started, the outcome is stored, failures too.
	e.Do("POST", allocationsPath, admin, manual(42, "5", day(0)), key, "k-3").Fails(t, 409, "period_out_of_order")
	r := e.Do("POST", allocationsPath, admin, manual(42, "5", day(0)), key, "k-3")
	r.Fails(t, 409, "period_out_of_order")
	if r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("a started request's failure was not stored")
	}
	e.Do("POST", allocationsPath, admin, manual(42, "5", day(3)), key, "").Fails(t, 400, "invalid_idempotency_key")
	// Without a key the request simply runs.
	e.Do("POST", allocationsPath, admin, manual(42, "5", day(3))).OK(t, 201, nil)
}

func TestAwaitingRatioAllocatedInOrderByTheFirstRatio(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolio(42, 7, 3)
	// Posted in period order; with no ratio each waits, carry untouched.
	var waiting []allocation
	for i, p := range []string{"100", "-30", "50", "0.00000001"} {
		var a allocation
		e.Do("POST", allocationsPath, admin, manual(42, p, day(i))).OK(t, 201, &a)
		if a.Status != "awaiting_ratio" || a.RatioID != nil || a.RatioVersion != nil || a.Distributable != "0.00000000" ||
			a.LossCarryforwardAfter != "0.00000000" || a.ToUserAmount != "0.00000000" {
			t.Fatalf("profit %d before any ratio = %+v", i, a)
		}
		waiting = append(waiting, a)
	}
	if n := e.outboxTypes()[eventbus.TypeProfitAllocated]; n != 0 {
		t.Fatalf("%d profit.allocated while awaiting a ratio", n)
	}
	var r ratio
	e.Do("POST", ratiosPath, admin, shares(42, "0.5", "0.25", "0.25")).OK(t, 201, &r)

	// 100 → 100 distributed; −30 → carry 30; 50 → 20 distributed, carry 0; 1e-8 → 1e-8 to the platform.
	want := []struct{ status, before, after, d, team, platform, user string }{
		{"allocated", "0", "0", "100", "50", "25", "25"},
		{"no_distribution", "0", "30", "0", "0", "0", "0"},
		{"allocated", "30", "0", "20", "10", "5", "5"},
		{"allocated", "0", "0", "0.00000001", "0", "0.00000001", "0"},
	}
	for i, w := range want {
		var a allocation
		e.Do("GET", fmt.Sprintf("%s/%d", allocationsPath, waiting[i].ID), admin, nil).OK(t, 200, &a)
		if a.Status != w.status || a.LossCarryforwardBefore != amt(w.before) || a.LossCarryforwardAfter != amt(w.after) ||
			a.Distributable != amt(w.d) || a.ToTeamAmount != amt(w.team) || a.ToPlatformAmount != amt(w.platform) ||
			a.ToUserAmount != amt(w.user) || a.RatioID == nil || *a.RatioID != r.ID || *a.RatioVersion != 1 ||
			!a.CreatedAt.Equal(waiting[i].CreatedAt) {
			t.Errorf("profit %d = %+v, want %+v", i, a, w)
		}
	}
	if n := e.outboxTypes()[eventbus.TypeProfitAllocated]; n != 3 {
		t.Fatalf("%d profit.allocated, want 3", n)
	}
	// Later profits are allocated at once.
	var a allocation
	e.Do("POST", allocationsPath, admin, manual(42, "8", day(9))).OK(t, 201, &a)
	if a.Status != "allocated" || a.ToTeamAmount != "4.00000000" {
		t.Fatalf("after the ratio: %+v", a)
	}
}

func TestLossCarryForwardAcrossASequence(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolio(42, 7, 3)
	e.Do("POST", ratiosPath, admin, shares(42, "0.2", "0.1", "0.7")).OK(t, 201, nil)
	steps := []struct{ p, status, before, after, d, team, platform, user string }{
		{"-100", "no_distribution", "0", "100", "0", "0", "0", "0"},
		{"30", "no_distribution", "100", "70", "0", "0", "0", "0"},
		{"100", "allocated", "70", "0", "30", "6", "3", "21"},
		{"-0.5", "no_distribution", "0", "0.5", "0", "0", "0", "0"},
		{"0.50000003", "allocated", "0.5", "0", "0.00000003", "0", "0.00000001", "0.00000002"},
		{"10.12345678", "allocated", "0", "0", "10.12345678", "2.02469135", "1.01234569", "7.08641974"},
	}
	for i, s := range steps {
		var a allocation
		e.Do("POST", allocationsPath, admin, manual(42, s.p, day(i))).OK(t, 201, &a)
		got := []string{a.Status, a.LossCarryforwardBefore, a.LossCarryforwardAfter, a.Distributable, a.ToTeamAmount, a.ToPlatformAmount, a.ToUserAmount}
		want := []string{s.status, amt(s.before), amt(s.after), amt(s.d),
			amt(s.team), amt(s.platform), amt(s.user)}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("step %d (%s): got %v, want %v", i, s.p, got, want)
			}
		}
	}
	p, err := e.store.Portfolio(context.Background(), 42)
	if err != nil || !p.LossCarryforward.IsZero() {
		t.Fatalf("portfolio = %+v, %v", p, err)
	}
	// A ratio change applies to the profits whose period ends at or after
	// its effective_from (the time it is created): one dated earlier but
	// recorded afterwards still gets the version in effect then.
	var v2 struct {
		Version       int       `json:"version"`
		EffectiveFrom time.Time `json:"effective_from"`
	}
	e.Do("POST", ratiosPath, admin, shares(42, "0", "1", "0")).OK(t, 201, &v2)
	if v2.Version != 2 || time.Since(v2.EffectiveFrom).Abs() > time.Minute {
		t.Fatalf("the new version: %+v, want version 2 in effect from now", v2)
	}
	var a allocation
	e.Do("POST", allocationsPath, admin, manual(42, "1", day(10))).OK(t, 201, &a)
	if a.ToUserAmount != "0.70000000" || *a.RatioVersion != 1 {
		t.Fatalf("a profit dated before the change: %+v, want version 1", a)
	}
	e.Do("POST", allocationsPath, admin, manual(42, "1", time.Now().Add(30*time.Second))).OK(t, 201, &a)
	if a.ToPlatformAmount != "1.00000000" || *a.RatioVersion != 2 {
		t.Fatalf("a profit dated after the change: %+v, want version 2", a)
	}
	if n := e.outboxTypes()[eventbus.TypeProfitAllocated]; n != 5 {
		t.Fatalf("%d profit.allocated, want 5", n)
	}
}

func TestManualAllocationValidation(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolio(42, 7, 3)
	e.Do("POST", allocationsPath, admin, manual(42, "10", day(5))).OK(t, 201, nil)

	for name, c := range map[string]struct {
		body        any
		status      int
		code, field string
	}{
		"too precise":       {manual(42, "1.123456789", day(6)), 400, "invalid_amount", "profit_amount"},
		"exponent":          {manual(42, "1e3", day(6)), 400, "invalid_amount", "profit_amount"},
		"number exponent":   {`{"portfolio_id":42,"profit_amount":1e3,"period_end":"2026-01-07T00:00:00Z"}`, 400, "invalid_amount", "profit_amount"},
		"13 integer digits": {manual(42, "1234567890123", day(6)), 400, "invalid_amount", "profit_amount"},
		"empty amount":      {manual(42, "", day(6)), 400, "invalid_amount", "profit_amount"},
		"zero":              {manual(42, "0", day(6)), 400, "invalid_amount", "profit_amount"},
		"no amount":         {map[string]any{"portfolio_id": 42, "period_end": day(6).Format(time.RFC3339)}, 400, "invalid_amount", "profit_amount"},
		"no period_end":     {map[string]any{"portfolio_id": 42, "profit_amount": "1"}, 400, "validation_failed", "period_end"},
		"bad period_end":    {map[string]any{"portfolio_id": 42, "profit_amount": "1", "period_end": "2026-01-07"}, 400, "validation_failed", "period_end"},
		"future period_end": {manual(42, "1", time.Now().Add(time.Hour)), 400, "validation_failed", "period_end"},
		"no portfolio":      {map[string]any{"profit_amount": "1", "period_end": day(6).Format(time.RFC3339)}, 400, "validation_failed", "portfolio_id"},
		"unknown field":     {`{"portfolio_id":42,"profit_amount":"1","period_end":"2026-01-07T00:00:00Z","x":1}`, 400, "invalid_json", "x"},
		"trailing data":     {`{"portfolio_id":42,"profit_amount":"1","period_end":"2026-01-07T00:00:00Z"} {}`, 400, "invalid_json", ""},
		"malformed":         {`{"portfolio_id":`, 400, "invalid_json", ""},
		"unknown portfolio": {manual(999, "1", day(6)), 404, "portfolio_not_found", ""},
		"out of order":      {manual(42, "1", day(4)), 409, "period_out_of_order", ""},
	} {
		t.Run(name, func(t *testing.T) {
			e.Do("POST", allocationsPath, admin, c.body).FailsOn(t, c.status, c.code, c.field)
		})
	}
	big := `{"portfolio_id":42,"profit_amount":"` + strings.Repeat("1", httpx.MaxBodyBytes) + `"}`
	e.Do("POST", allocationsPath, admin, big).Fails(t, 413, "payload_too_large")
	e.Do("POST", allocationsPath, e.Token(7, "user"), manual(42, "1", day(6))).Fails(t, 403, "forbidden")
	e.Do("POST", allocationsPath, e.Token(2, "viewer"), manual(42, "1", day(6))).Fails(t, 403, "forbidden")

	// The same period end as the latest is in order; a negative profit is a loss.
	var a allocation
	e.Do("POST", allocationsPath, admin, manual(42, "-2.5", day(5))).OK(t, 201, &a)
	if a.Status != "awaiting_ratio" {
		t.Fatalf("loss = %+v", a)
	}
	var list []allocation
	if r := e.Do("GET", allocationsPath, admin, nil).OK(t, 200, &list); *r.Env.Total != 2 {
		t.Fatalf("%d allocations after refusals, want 2", *r.Env.Total)
	}
}

func TestAllocationReadsAndRoles(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolio(42, 7, 3)  // alice's, team 3
	e.portfolio(43, 10, 5) // someone else's
	for _, id := range []int64{42, 43} {
		e.Do("POST", ratiosPath, admin, shares(id, "0.2", "0.1", "0.7")).OK(t, 201, nil)
		for i := range 3 {
			e.Do("POST", allocationsPath, admin, manual(id, strconv.Itoa(10*(i+1)), day(i))).OK(t, 201, nil)
		}
	}
	list := func(token, query string) ([]allocation, int64) {
		t.Helper()
		var out []allocation
		r := e.Do("GET", allocationsPath+query, token, nil).OK(t, 200, &out)
		return out, *r.Env.Total
	}
	all, total := list(e.Token(2, "viewer"), "")
	if total != 6 || len(all) != 6 || !all[0].PeriodEnd.Equal(day(2)) || !all[5].PeriodEnd.Equal(day(0)) {
		t.Fatalf("viewer's list (newest first) = %d items, total %d", len(all), total)
	}
	if got, total := list(admin, "?portfolio_id=42&limit=1&offset=1"); total != 3 || len(got) != 1 || got[0].ProfitAmount != "20.00000000" {
		t.Fatalf("page = %+v total %d", got, total)
	}
	q := fmt.Sprintf("?from=%s&to=%s", day(1).Format(time.RFC3339), day(2).Format(time.RFC3339))
	if got, total := list(admin, q); total != 2 || got[0].PeriodEnd != day(1) || got[1].PeriodEnd != day(1) {
		t.Fatalf("from/to (from inclusive, to exclusive) = %+v", got)
	}

	owner, member, stranger := e.Token(7, "user"), e.Token(8, "user", 3), e.Token(9, "user", 4)
	for name, tok := range map[string]string{"owner": owner, "team member": member} {
		got, total := list(tok, "")
		if total != 3 {
			t.Errorf("%s sees %d allocations, want 3", name, total)
		}
		for _, a := range got {
			if a.PortfolioID != 42 {
				t.Errorf("%s sees portfolio %d", name, a.PortfolioID)
			}
		}
		e.Do("GET", fmt.Sprintf("%s/%d", allocationsPath, got[0].ID), tok, nil).OK(t, 200, nil)
	}
	if _, total := list(stranger, ""); total != 0 {
		t.Fatalf("a stranger sees %d allocations", total)
	}
	e.Do("GET", allocationsPath+"?portfolio_id=42", stranger, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", allocationsPath+"?portfolio_id=999", admin, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", fmt.Sprintf("%s/%d", allocationsPath, all[0].ID), stranger, nil).Fails(t, 404, "not_found")
	e.Do("GET", allocationsPath+"/999999", admin, nil).Fails(t, 404, "not_found")
	e.Do("GET", allocationsPath+"/abc", admin, nil).Fails(t, 404, "not_found")
	e.Do("GET", allocationsPath+"?from=yesterday", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", allocationsPath+"?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", allocationsPath+"?limit=1001", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", allocationsPath+"?portfolio_id=-1", admin, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", allocationsPath, "", nil).Fails(t, 401, "unauthenticated")
	e.Do("GET", "/api/v1/profit/nope", admin, nil).Fails(t, 404, "not_found")
}

// TestNAVProfitThroughTheStoreShowsInTheAPI: a profit recorded by the
// consumer's code path is listed like a manual one, with its snapshot.
func TestNAVProfitThroughTheStoreShowsInTheAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	snapshot := int64(5001)
	err := pg.InTx(context.Background(), e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := e.store.RecordProfit(context.Background(), tx, profit.NewProfit{PortfolioID: 77, Source: profit.SourceNAV,
			SnapshotID: &snapshot, SourceEventID: uuid.NewString(), PeriodEnd: day(3), Amount: money.MustAmount("12.5").Decimal, UserID: 7, TeamID: 3})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var list []allocation
	e.Do("GET", allocationsPath+"?portfolio_id=77", e.Token(7, "user"), nil).OK(t, 200, &list)
	if len(list) != 1 || list[0].Source != "nav" || list[0].SnapshotID == nil || *list[0].SnapshotID != snapshot ||
		list[0].Status != "awaiting_ratio" || list[0].ProfitAmount != "12.50000000" {
		t.Fatalf("NAV profit = %+v", list)
	}
	// A manual profit dated before it is refused; the admin sees why.
	e.Do("POST", allocationsPath, admin, manual(77, "1", day(2))).Fails(t, 409, "period_out_of_order")
}

// TestConcurrentWrites: concurrent ratio changes get distinct consecutive
// versions; concurrent repeats of one Idempotency-Key record one profit.
func TestConcurrentWrites(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	e.portfolio(42, 7, 3)
	const n = 8
	rs := servicetest.Concurrently(n, func(int) servicetest.Result {
		return e.Do("POST", ratiosPath, admin, shares(42, "0.2", "0.1", "0.7"))
	})
	seen := map[int]bool{}
	for _, res := range rs {
		var r ratio
		if res.Status == 201 {
			_ = json.Unmarshal(res.Env.Data, &r)
			seen[r.Version] = true
		}
	}
	for v := 1; v <= n; v++ {
		if !seen[v] {
			t.Fatalf("versions %v, want 1..%d", seen, n)
		}
	}

	rs = servicetest.Concurrently(n, func(int) servicetest.Result {
		return e.Do("POST", allocationsPath, admin, manual(42, "10", day(1)), "Idempotency-Key", "same")
	})
	created := 0
	for _, r := range rs {
		switch {
		case r.Status == 201 && r.Header.Get("Idempotent-Replayed") == "":
			created++
		case r.Status == 201, r.Status == 409:
		default:
			t.Errorf("concurrent repeat = %d %s", r.Status, r.Raw)
		}
	}
	var list []allocation
	if r := e.Do("GET", allocationsPath, admin, nil).OK(t, 200, &list); created != 1 || *r.Env.Total != 1 {
		t.Fatalf("%d executed, %d recorded; want 1", created, *r.Env.Total)
	}
}
