package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/httpx"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/portfolio/internal/directory"
	"github.com/fundplatform/platform/services/portfolio/internal/endpoint"
	"github.com/fundplatform/platform/services/portfolio/internal/portfolio"
	"github.com/fundplatform/platform/services/portfolio/internal/store"
	"github.com/fundplatform/platform/services/portfolio/internal/transport"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Users and teams the fake auth service knows.
const (
	adminID  = 1
	viewerID = 2
	aliceID  = 10 // a user in team alpha
	bobID    = 11 // a user in team beta
	carolID  = 12 // a user in no team
	alphaID  = 100
	betaID   = 101
	gammaID  = 102
)

// fakeAuth serves the auth service's user and team lookups.
type fakeAuth struct {
	srv   *httptest.Server
	down  atomic.Bool // answer 500
	mu    sync.Mutex
	authz []string // Authorization headers received
}

func newFakeAuth(t *testing.T) *fakeAuth {
	f := &fakeAuth{}
	known := map[string]bool{}
	for _, id := range []int64{adminID, viewerID, aliceID, bobID, carolID} {
		known["/api/v1/users/"+strconv.FormatInt(id, 10)] = true
	}
	for _, id := range []int64{alphaID, betaID, gammaID} {
		known["/api/v1/teams/"+strconv.FormatInt(id, 10)] = true
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.authz = append(f.authz, r.Header.Get("Authorization"))
		f.mu.Unlock()
		switch {
		case f.down.Load():
			httpx.WriteError(r.Context(), w, httpx.ErrInternal)
		case r.Method == http.MethodGet && known[r.URL.Path]:
			httpx.WriteOK(w, http.StatusOK, map[string]any{"id": 1})
		default:
			httpx.WriteError(r.Context(), w, httpx.ErrNotFound)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAuth) lastAuthorization() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.authz) == 0 {
		return ""
	}
	return f.authz[len(f.authz)-1]
}

// env is one portfolio service over a fresh database, behind httptest.
type env struct {
	*servicetest.Server
	auth *fakeAuth

	admin, viewer, alice, bob, carol string // tokens
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWithAuth(t, "")
}

// newEnvWithAuth builds the service; authURL "" uses the fake auth service.
func newEnvWithAuth(t *testing.T, authURL string) *env {
	t.Helper()
	s := servicetest.New(t, store.Migrations())
	e := &env{Server: s, auth: newFakeAuth(t)}
	if authURL == "" {
		authURL = e.auth.srv.URL
	}
	svc := portfolio.New(store.New(s.Pool), directory.New(authURL, nil), portfolio.Options{})
	s.Serve("portfolio", transport.NewHandler(endpoint.New(svc), s.Verifier(), s.Idempotency(), s.Metrics()))
	e.admin = s.Admin(adminID)
	e.viewer = s.Viewer(viewerID)
	e.alice = s.User(aliceID, alphaID)
	e.bob = s.User(bobID, betaID)
	e.carol = s.User(carolID)
	return e
}

// portfolioJSON is a portfolio as the API writes it: portfolio.Portfolio as it
// is (docs/api.md#portfolio-service).
type portfolioJSON = portfolio.Portfolio

// snapshotJSON keeps amounts as the raw JSON the API sent.
type snapshotJSON struct {
	ID             int64           `json:"id"`
	PortfolioID    int64           `json:"portfolio_id"`
	AsOf           time.Time       `json:"as_of"`
	NAV            json.RawMessage `json:"nav"`
	NetFlow        json.RawMessage `json:"net_flow"`
	Units          json.RawMessage `json:"units"`
	NAVPerUnit     json.RawMessage `json:"nav_per_unit"`
	Profit         json.RawMessage `json:"profit"`
	PeriodReturn   json.RawMessage `json:"period_return"`
	PrevSnapshotID *int64          `json:"prev_snapshot_id"`
}

func (e *env) createPortfolio(name string, userID, teamID int64) portfolioJSON {
	e.T.Helper()
	var p portfolioJSON
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": name, "user_id": userID, "team_id": teamID}).OK(e.T, 201, &p)
	return p
}

// listCase is a GET of the portfolio list as token with query, and the
// total and the ids, in order, it must answer.
type listCase struct {
	token, query string
	total        int64
	ids          []int64
}

func (e *env) checkLists(t *testing.T, cases ...listCase) {
	t.Helper()
	for _, c := range cases {
		var list []portfolioJSON
		total := e.Do("GET", "/api/v1/portfolios"+c.query, c.token, nil).List(t, &list)
		ids := []int64{}
		for _, p := range list {
			ids = append(ids, p.ID)
		}
		if total != c.total || !slices.Equal(ids, append([]int64{}, c.ids...)) {
			t.Fatalf("list%s = %v (total %d), want %v (total %d)", c.query, ids, total, c.ids, c.total)
		}
	}
}

func navPath(id int64) string { return fmt.Sprintf("/api/v1/portfolios/%d/nav", id) }

func (e *env) recordNAV(id int64, body map[string]any) snapshotJSON {
	e.T.Helper()
	var s snapshotJSON
	e.Do("POST", navPath(id), e.admin, body).OK(e.T, 201, &s)
	return s
}

// day is the n-th day of 2026 at midnight UTC, as RFC 3339.
func day(n int) string { return time.Date(2026, 1, n, 0, 0, 0, 0, time.UTC).Format(time.RFC3339) }

// outboxEvent is one row of the outbox.
type outboxEvent struct {
	Topic, Key, Type string
	Payload          []byte
	Envelope         eventbus.Envelope
}

func (e *env) outbox() []outboxEvent {
	e.T.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT topic, key, type, payload::text FROM outbox ORDER BY id`)
	if err != nil {
		e.T.Fatal(err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxEvent, error) {
		var ev outboxEvent
		var payload string
		err := r.Scan(&ev.Topic, &ev.Key, &ev.Type, &payload)
		ev.Payload = []byte(payload)
		return ev, err
	})
	if err != nil {
		e.T.Fatal(err)
	}
	for i := range events {
		ev := &events[i]
		// Every event this service writes is valid per its JSON Schema.
		if err := eventbus.Validate(ev.Type, ev.Payload); err != nil {
			e.T.Errorf("outbox event %s: %v", ev.Payload, err)
		}
		if ev.Envelope, err = eventbus.Decode(ev.Payload); err != nil {
			e.T.Fatal(err)
		}
		if ev.Topic != eventbus.TopicPortfolio || ev.Envelope.Source != "portfolio" || ev.Envelope.Subject != "portfolio/"+ev.Key {
			e.T.Errorf("outbox event on %s key %s: %s", ev.Topic, ev.Key, ev.Payload)
		}
	}
	return events
}

func (e *env) eventsOfType(typ string) []outboxEvent {
	var out []outboxEvent
	for _, ev := range e.outbox() {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) count(sql string, args ...any) int {
	e.T.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.T.Fatal(err)
	}
	return n
}

func TestPortfolioLifecycle(t *testing.T) {
	e := newEnv(t)
	var p, eur portfolioJSON
	_ = t.Run("create", func(t *testing.T) { p, eur = lifecycleCreate(t, e) }) &&
		t.Run("read", func(t *testing.T) { lifecycleRead(t, e, p, eur) }) &&
		t.Run("patch", func(t *testing.T) { lifecyclePatch(t, e, p) }) &&
		t.Run("events", func(t *testing.T) { lifecycleEvents(t, e, p) })
}

// lifecycleCreate creates alice's portfolio p and bob's eur; owners must exist.
func lifecycleCreate(t *testing.T, e *env) (p, eur portfolioJSON) {
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "  Growth  ", "description": "equities",
		"user_id": aliceID, "team_id": alphaID}).OK(t, 201, &p)
	if p.ID <= 0 || p.Name != "Growth" || p.Description != "equities" || p.UserID != aliceID || p.TeamID != alphaID ||
		p.Currency != "USD" || p.CreatedAt.IsZero() || !p.CreatedAt.Equal(p.UpdatedAt) || p.CreatedAt.Location() != time.UTC {
		t.Fatalf("created = %+v", p)
	}
	// The owners were checked with the caller's own token.
	if got := e.auth.lastAuthorization(); got != "Bearer "+e.admin {
		t.Errorf("auth service got Authorization %q, want the caller's", got)
	}
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "Euro", "user_id": bobID, "team_id": betaID,
		"currency": "EUR"}).OK(t, 201, &eur)
	if eur.Currency != "EUR" || eur.Description != "" {
		t.Fatalf("created = %+v", eur)
	}

	// Owners must exist.
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "X", "user_id": 999, "team_id": alphaID}).Fails(t, 404, "user_not_found")
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "X", "user_id": aliceID, "team_id": 999}).Fails(t, 404, "team_not_found")
	e.auth.down.Store(true)
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "X", "user_id": aliceID, "team_id": alphaID}).Fails(t, 503, "dependency_unavailable")
	e.Do("PATCH", fmt.Sprintf("/api/v1/portfolios/%d", p.ID), e.admin, map[string]any{"team_id": betaID}).Fails(t, 503, "dependency_unavailable")
	e.auth.down.Store(false)
	return p, eur
}

func lifecycleRead(t *testing.T, e *env, p, eur portfolioJSON) {
	var got portfolioJSON
	e.Do("GET", fmt.Sprintf("/api/v1/portfolios/%d", p.ID), e.admin, nil).OK(t, 200, &got)
	if got != p {
		t.Fatalf("get = %+v, want %+v", got, p)
	}
	e.checkLists(t,
		listCase{e.admin, "", 2, []int64{eur.ID, p.ID}}, // newest first
		listCase{e.admin, fmt.Sprintf("?team_id=%d&limit=1", betaID), 1, []int64{eur.ID}},
		listCase{e.admin, fmt.Sprintf("?user_id=%d", aliceID), 1, []int64{p.ID}},
		listCase{e.admin, "?limit=1&offset=1", 2, []int64{p.ID}},
	)
}

func lifecyclePatch(t *testing.T, e *env, p portfolioJSON) {
	// PATCH: owners are checked, the change is published.
	path := fmt.Sprintf("/api/v1/portfolios/%d", p.ID)
	e.Do("PATCH", path, e.admin, map[string]any{"user_id": 999}).Fails(t, 404, "user_not_found")
	e.Do("PATCH", path, e.admin, map[string]any{"team_id": 999}).Fails(t, 404, "team_not_found")
	e.Do("PATCH", "/api/v1/portfolios/999999", e.admin, map[string]any{"name": "Y"}).Fails(t, 404, "portfolio_not_found")
	var upd portfolioJSON
	e.Do("PATCH", path, e.admin, map[string]any{"name": "Growth II", "user_id": bobID, "team_id": betaID}).OK(t, 200, &upd)
	if upd.Name != "Growth II" || upd.UserID != bobID || upd.TeamID != betaID || upd.Description != "equities" ||
		upd.Currency != "USD" || !upd.UpdatedAt.After(p.UpdatedAt) || !upd.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("updated = %+v", upd)
	}
	// A PATCH that changes nothing publishes nothing.
	var same portfolioJSON
	e.Do("PATCH", path, e.admin, map[string]any{"name": "Growth II", "description": nil}).OK(t, 200, &same)
	if same != upd {
		t.Fatalf("no-op patch changed %+v into %+v", upd, same)
	}
	e.Do("PATCH", path, e.admin, map[string]any{"description": "d2"}).OK(t, 200, nil)
}

// lifecycleEvents: two portfolio.created and two portfolio.updated, the
// no-op PATCH publishing nothing.
func lifecycleEvents(t *testing.T, e *env, p portfolioJSON) {
	created := e.eventsOfType("portfolio.created")
	updated := e.eventsOfType("portfolio.updated")
	if len(created) != 2 || len(updated) != 2 || len(e.outbox()) != 4 {
		t.Fatalf("outbox: %d created, %d updated, %d in all; want 2, 2, 4", len(created), len(updated), len(e.outbox()))
	}
	var data portfolio.PortfolioData
	if err := json.Unmarshal(created[0].Envelope.Data, &data); err != nil {
		t.Fatal(err)
	}
	if created[0].Key != strconv.FormatInt(p.ID, 10) || data != (portfolio.PortfolioData{PortfolioID: p.ID, Name: "Growth",
		UserID: aliceID, TeamID: alphaID, Currency: "USD"}) {
		t.Errorf("portfolio.created = %s", created[0].Payload)
	}
	if err := json.Unmarshal(updated[0].Envelope.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data != (portfolio.PortfolioData{PortfolioID: p.ID, Name: "Growth II", UserID: bobID, TeamID: betaID, Currency: "USD"}) {
		t.Errorf("portfolio.updated = %s", updated[0].Payload)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	mine := e.createPortfolio("alice's", aliceID, gammaID) // alice owns it
	team := e.createPortfolio("alpha's", carolID, alphaID) // alice's team owns it
	other := e.createPortfolio("bob's", bobID, betaID)     // neither
	e.recordNAV(other.ID, map[string]any{"as_of": day(1), "nav": "100"})

	// A user sees its own and its teams' portfolios, nothing else; a viewer
	// reads everything.
	e.checkLists(t,
		listCase{e.alice, "", 2, []int64{team.ID, mine.ID}},
		listCase{e.alice, fmt.Sprintf("?user_id=%d", bobID), 0, nil},
		listCase{e.carol, "", 1, []int64{team.ID}}, // carol owns "team" through her user id only
		listCase{e.viewer, "", 3, []int64{other.ID, team.ID, mine.ID}},
	)
	for _, id := range []int64{mine.ID, team.ID} {
		e.Do("GET", fmt.Sprintf("/api/v1/portfolios/%d", id), e.alice, nil).OK(t, 200, nil)
		e.Do("GET", navPath(id), e.alice, nil).OK(t, 200, nil)
	}
	otherPath := fmt.Sprintf("/api/v1/portfolios/%d", other.ID)
	e.Do("GET", otherPath, e.alice, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("GET", navPath(other.ID), e.alice, nil).Fails(t, 404, "portfolio_not_found")
	// Writes: 404 where the user cannot see, 403 where it can.
	e.Do("PATCH", otherPath, e.alice, map[string]any{"name": "mine now"}).Fails(t, 404, "portfolio_not_found")
	e.Do("POST", navPath(other.ID), e.alice, map[string]any{"as_of": day(2), "nav": "1"}).Fails(t, 404, "portfolio_not_found")
	e.Do("PATCH", fmt.Sprintf("/api/v1/portfolios/%d", mine.ID), e.alice, map[string]any{"name": "x"}).Fails(t, 403, "forbidden")
	e.Do("POST", navPath(mine.ID), e.alice, map[string]any{"as_of": day(2), "nav": "1"}).Fails(t, 403, "forbidden")
	e.Do("POST", "/api/v1/portfolios", e.alice, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID}).Fails(t, 403, "forbidden")

	// A viewer reads everything and changes nothing.
	var snaps []snapshotJSON
	e.Do("GET", navPath(other.ID), e.viewer, nil).OK(t, 200, &snaps)
	if len(snaps) != 1 {
		t.Fatalf("viewer's snapshots = %+v", snaps)
	}
	e.Do("GET", otherPath, e.viewer, nil).OK(t, 200, nil)
	e.Do("POST", "/api/v1/portfolios", e.viewer, map[string]any{"name": "x", "user_id": aliceID, "team_id": alphaID}).Fails(t, 403, "forbidden")
	e.Do("PATCH", otherPath, e.viewer, map[string]any{"name": "x"}).Fails(t, 403, "forbidden")
	e.Do("POST", navPath(other.ID), e.viewer, map[string]any{"as_of": day(2), "nav": "1"}).Fails(t, 403, "forbidden")

	// Nothing above changed anything.
	if n := e.count(`SELECT count(*) FROM nav_snapshots`); n != 1 {
		t.Fatalf("%d snapshots, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM portfolios WHERE name IN ('x', 'mine now')`); n != 0 {
		t.Fatal("a refused write changed a portfolio")
	}

	// Tokens are required and checked.
	e.Do("GET", "/api/v1/portfolios", "", nil).Fails(t, 401, "unauthenticated")
	e.Do("GET", "/api/v1/portfolios", "not-a-token", nil).Fails(t, 401, "unauthenticated")
	// A token signed with another key (another kit's).
	forged := servicetest.New(t, nil).Admin(adminID)
	e.Do("GET", "/api/v1/portfolios", forged, nil).Fails(t, 401, "unauthenticated")
}

func TestRequestValidation(t *testing.T) {
	e := newEnv(t)
	p := e.createPortfolio("P", aliceID, alphaID)
	t.Run("portfolio bodies", func(t *testing.T) { portfolioBodies(t, e) })
	t.Run("patch bodies", func(t *testing.T) { patchBodies(t, e, p) })
	t.Run("nav bodies", func(t *testing.T) { navBodies(t, e, p) })
	t.Run("queries and paths", func(t *testing.T) { queriesAndPaths(t, e, p) })
}

func portfolioBodies(t *testing.T, e *env) {
	create := func(body any) servicetest.Result { return e.Do("POST", "/api/v1/portfolios", e.admin, body) }
	valid := map[string]any{"name": "N", "user_id": aliceID, "team_id": alphaID}
	with := func(k string, v any) map[string]any { return servicetest.Edit(valid, k, v) }
	create(with("colour", "red")).Fails(t, 400, "invalid_json")
	create(`{"name":"N"} {}`).Fails(t, 400, "invalid_json")
	create(`{"name":`).Fails(t, 400, "invalid_json")
	create(with("user_id", "10")).Fails(t, 400, "validation_failed")
	for field, v := range map[string]any{"currency": "usd", "name": "  ", "description": strings.Repeat("d", 2001)} {
		create(with(field, v)).FailsOn(t, 400, "validation_failed", field)
	}
	for _, cur := range []string{"ZZZ", "US", "USDD", ""} {
		create(with("currency", cur)).FailsOn(t, 400, "validation_failed", "currency")
	}
	for _, field := range []string{"user_id", "team_id"} {
		create(with(field, nil)).Fails(t, 400, "validation_failed")
		create(with(field, -1)).Fails(t, 400, "validation_failed")
	}
	create(`{"name":"`+strings.Repeat("a", httpx.MaxBodyBytes)+`"}`).Fails(t, 413, "payload_too_large")
	req, _ := http.NewRequest("POST", e.URL+"/api/v1/portfolios", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 415 {
		t.Errorf("text/plain body: %v %v", resp, err)
	}
}

func patchBodies(t *testing.T, e *env, p portfolioJSON) {
	patch := fmt.Sprintf("/api/v1/portfolios/%d", p.ID)
	e.Do("PATCH", patch, e.admin, map[string]any{}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", patch, e.admin, map[string]any{"currency": "EUR"}).Fails(t, 400, "invalid_json")
	e.Do("PATCH", patch, e.admin, map[string]any{"name": ""}).Fails(t, 400, "validation_failed")
	e.Do("PATCH", patch, e.admin, map[string]any{"user_id": 0}).Fails(t, 400, "validation_failed")
}

// navBodies: every malformed NAV body is refused and records nothing.
func navBodies(t *testing.T, e *env, p portfolioJSON) {
	// NAV bodies.
	nav := func(body any) servicetest.Result { return e.Do("POST", navPath(p.ID), e.admin, body) }
	for name, c := range map[string]struct {
		body  string
		code  string
		field string
	}{
		"unknown field":     {`{"as_of":"` + day(1) + `","nav":"1","price":"2"}`, "invalid_json", "price"},
		"exponent":          {`{"as_of":"` + day(1) + `","nav":1e3}`, "invalid_amount", "nav"},
		"exponent string":   {`{"as_of":"` + day(1) + `","nav":"1e3"}`, "invalid_amount", "nav"},
		"9 decimals":        {`{"as_of":"` + day(1) + `","nav":"1.123456789"}`, "invalid_amount", "nav"},
		"9 decimals number": {`{"as_of":"` + day(1) + `","nav":"1","net_flow":0.123456789}`, "invalid_amount", "net_flow"},
		"13 integer digits": {`{"as_of":"` + day(1) + `","nav":"1000000000000"}`, "invalid_amount", "nav"},
		"empty string":      {`{"as_of":"` + day(1) + `","nav":""}`, "invalid_amount", "nav"},
		"NaN":               {`{"as_of":"` + day(1) + `","nav":"NaN"}`, "invalid_amount", "nav"},
		"Infinity":          {`{"as_of":"` + day(1) + `","nav":"Infinity"}`, "invalid_amount", "nav"},
		"bool":              {`{"as_of":"` + day(1) + `","nav":true}`, "invalid_amount", "nav"},
		"object":            {`{"as_of":"` + day(1) + `","nav":{}}`, "invalid_amount", "nav"},
		"plus sign":         {`{"as_of":"` + day(1) + `","nav":"+1"}`, "invalid_amount", "nav"},
		"negative nav":      {`{"as_of":"` + day(1) + `","nav":"-0.00000001"}`, "invalid_amount", "nav"},
		"zero units":        {`{"as_of":"` + day(1) + `","nav":"1","units":"0"}`, "invalid_amount", "units"},
		"negative units":    {`{"as_of":"` + day(1) + `","nav":"1","units":-5}`, "invalid_amount", "units"},
		"bad units":         {`{"as_of":"` + day(1) + `","nav":"1","units":"1.5.0"}`, "invalid_amount", "units"},
		"no nav":            {`{"as_of":"` + day(1) + `"}`, "validation_failed", "nav"},
		"null nav":          {`{"as_of":"` + day(1) + `","nav":null}`, "validation_failed", "nav"},
		"no as_of":          {`{"nav":"1"}`, "validation_failed", "as_of"},
		"bad as_of":         {`{"as_of":"2026-01-01","nav":"1"}`, "validation_failed", "as_of"},
		"as_of number":      {`{"as_of":1767225600,"nav":"1"}`, "validation_failed", "as_of"},
	} {
		t.Run(name, func(t *testing.T) {
			nav(c.body).FailsOn(t, 400, c.code, c.field)
		})
	}
	nav(`{"as_of":"`+day(1)+`","nav":"1"} x`).Fails(t, 400, "invalid_json")
	if n := e.count(`SELECT count(*) FROM nav_snapshots`); n != 0 {
		t.Fatalf("refused bodies recorded %d snapshots", n)
	}
}

func queriesAndPaths(t *testing.T, e *env, p portfolioJSON) {
	// Query parameters and paths.
	for _, q := range []string{"limit=0", "limit=1001", "offset=-1", "user_id=abc", "team_id=0"} {
		e.Do("GET", "/api/v1/portfolios?"+q, e.admin, nil).Fails(t, 400, "validation_failed")
	}
	for _, q := range []string{"from=yesterday", "to=2026-01-01", "limit=x",
		"from=" + day(5) + "&to=" + day(4)} {
		e.Do("GET", navPath(p.ID)+"?"+q, e.admin, nil).Fails(t, 400, "validation_failed")
	}
	for _, path := range []string{"/api/v1/portfolios/abc", "/api/v1/portfolios/0", "/api/v1/portfolios/-1", "/api/v1/portfolios/999999"} {
		e.Do("GET", path, e.admin, nil).Fails(t, 404, "portfolio_not_found")
	}
	e.Do("GET", "/api/v1/portfolios/abc/nav", e.admin, nil).Fails(t, 404, "portfolio_not_found")
	e.Do("POST", "/api/v1/portfolios/999999/nav", e.admin, map[string]any{"as_of": day(1), "nav": "1"}).Fails(t, 404, "portfolio_not_found")
	e.Do("DELETE", "/api/v1/portfolios", e.admin, nil).Fails(t, 405, "method_not_allowed")
	e.Do("GET", "/api/v1/nope", e.admin, nil).Fails(t, 404, "not_found")
}

// TestNAVSnapshots records a history through the API and checks every
// derived figure as the API writes it.
func TestNAVSnapshots(t *testing.T) {
	e := newEnv(t)
	p := e.createPortfolio("P", aliceID, alphaID)
	var recorded []snapshotJSON
	_ = t.Run("sequence", func(t *testing.T) { recorded = navSequence(t, e, p) }) &&
		t.Run("out of order", func(t *testing.T) { recorded = navOutOfOrder(t, e, p, recorded) }) &&
		t.Run("list", func(t *testing.T) { navList(t, e, p, recorded) }) &&
		t.Run("events", func(t *testing.T) { navEvents(t, e, p, recorded) })
}

// navSequence records a sequence of snapshots, checking each one's
// figures, and returns them.
func navSequence(t *testing.T, e *env, p portfolioJSON) []snapshotJSON {
	steps := []struct {
		body                                 map[string]any
		nav, netFlow, units, perUnit, profit string
		ret                                  string // JSON: null or "…"
	}{
		// The baseline: profit 0, no return, even with a net flow.
		{map[string]any{"as_of": day(1), "nav": 1000, "net_flow": "1000", "units": "400"},
			`"1000.00000000"`, `"1000.00000000"`, `"400.00000000"`, `"2.50000000"`, `"0.00000000"`, `null`},
		// A gain; net_flow defaults to 0; units omitted → null.
		{map[string]any{"as_of": day(2), "nav": "1100.5"},
			`"1100.50000000"`, `"0.00000000"`, `null`, `null`, `"100.50000000"`, `"0.10050000"`},
		// A withdrawal (negative net flow) and a loss.
		{map[string]any{"as_of": day(3), "nav": "900", "net_flow": -100.5, "units": 3},
			`"900.00000000"`, `"-100.50000000"`, `"3.00000000"`, `"300.00000000"`, `"-100.00000000"`, `"-0.10000000"`},
		// Rounding half to even: 1/3 and the halves.
		{map[string]any{"as_of": day(4), "nav": "1200", "net_flow": "0", "units": "0.00000003"},
			`"1200.00000000"`, `"0.00000000"`, `"0.00000003"`, `"40000000000.00000000"`, `"300.00000000"`, `"0.33333333"`},
		{map[string]any{"as_of": day(5), "nav": "1200.00000003", "units": "2"},
			`"1200.00000003"`, `"0.00000000"`, `"2.00000000"`, `"600.00000002"`, `"0.00000003"`, `"0.00000000"`},
		// Everything withdrawn: the base is 0, so no return.
		{map[string]any{"as_of": day(6), "nav": "0", "net_flow": "-1200.00000003"},
			`"0.00000000"`, `"-1200.00000003"`, `null`, `null`, `"0.00000000"`, `null`},
		// From nav 0 with no flow: profit but no base.
		{map[string]any{"as_of": day(7), "nav": "5"},
			`"5.00000000"`, `"0.00000000"`, `null`, `null`, `"5.00000000"`, `null`},
	}
	var recorded []snapshotJSON
	for i, s := range steps {
		got := e.recordNAV(p.ID, s.body)
		check := func(name string, raw json.RawMessage, want string) {
			if string(raw) != want {
				t.Errorf("step %d %s = %s, want %s", i, name, raw, want)
			}
		}
		check("nav", got.NAV, s.nav)
		check("net_flow", got.NetFlow, s.netFlow)
		check("units", got.Units, s.units)
		check("nav_per_unit", got.NAVPerUnit, s.perUnit)
		check("profit", got.Profit, s.profit)
		check("period_return", got.PeriodReturn, s.ret)
		if got.PortfolioID != p.ID || got.AsOf.Format(time.RFC3339) != s.body["as_of"] {
			t.Errorf("step %d = %+v", i, got)
		}
		if i == 0 && got.PrevSnapshotID != nil || i > 0 && (got.PrevSnapshotID == nil || *got.PrevSnapshotID != recorded[i-1].ID) {
			t.Errorf("step %d prev_snapshot_id = %v", i, got.PrevSnapshotID)
		}
		recorded = append(recorded, got)
	}
	return recorded
}

func navOutOfOrder(t *testing.T, e *env, p portfolioJSON, recorded []snapshotJSON) []snapshotJSON {
	// Out of order: the same instant, or earlier, is refused and changes nothing.
	last := recorded[len(recorded)-1]
	for _, asOf := range []string{day(7), day(3), "2026-01-07T01:00:00+02:00"} {
		e.Do("POST", navPath(p.ID), e.admin, map[string]any{"as_of": asOf, "nav": "10"}).Fails(t, 409, "nav_out_of_order")
	}
	// A valuation dated ahead (a typo of two centuries, or an hour) is
	// refused and changes nothing: the next real one is still accepted.
	for _, asOf := range []string{"2205-01-01T00:00:00Z", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)} {
		e.Do("POST", navPath(p.ID), e.admin, map[string]any{"as_of": asOf, "nav": "10"}).Fails(t, 400, "validation_failed")
	}
	next := e.recordNAV(p.ID, map[string]any{"as_of": "2026-01-07T00:00:00.000001Z", "nav": "5"})
	if *next.PrevSnapshotID != last.ID || string(next.Profit) != `"0.00000000"` {
		t.Errorf("after refusals: %+v", next)
	}
	recorded = append(recorded, next)
	return recorded
}

func navList(t *testing.T, e *env, p portfolioJSON, recorded []snapshotJSON) {
	// The list is oldest first, filters on as_of, and pages.
	var list []snapshotJSON
	r := e.Do("GET", navPath(p.ID), e.viewer, nil)
	r.OK(t, 200, &list)
	if len(list) != len(recorded) || *r.Env.Total != int64(len(recorded)) {
		t.Fatalf("%d snapshots listed, want %d", len(list), len(recorded))
	}
	for i := range list {
		if list[i].ID != recorded[i].ID || string(list[i].Profit) != string(recorded[i].Profit) ||
			string(list[i].PeriodReturn) != string(recorded[i].PeriodReturn) || string(list[i].Units) != string(recorded[i].Units) {
			t.Errorf("list[%d] = %+v, want %+v", i, list[i], recorded[i])
		}
	}
	r = e.Do("GET", navPath(p.ID)+"?from="+day(2)+"&to="+day(4)+"&limit=2&offset=1", e.admin, nil)
	r.OK(t, 200, &list)
	if *r.Env.Total != 3 || len(list) != 2 || list[0].ID != recorded[2].ID || list[1].ID != recorded[3].ID {
		t.Fatalf("window = %+v (total %d)", list, *r.Env.Total)
	}
}

func navEvents(t *testing.T, e *env, p portfolioJSON, recorded []snapshotJSON) {
	// One profit_recorded per snapshot with a non-zero profit, none otherwise.
	events := e.eventsOfType("portfolio.profit_recorded")
	var nonZero []snapshotJSON
	for _, s := range recorded {
		if string(s.Profit) != `"0.00000000"` {
			nonZero = append(nonZero, s)
		}
	}
	if len(events) != len(nonZero) || len(nonZero) != 5 {
		t.Fatalf("%d profit_recorded events for %d non-zero profits (want 5)", len(events), len(nonZero))
	}
	for i, ev := range events {
		var d map[string]any
		if err := json.Unmarshal(ev.Envelope.Data, &d); err != nil {
			t.Fatal(err)
		}
		s := nonZero[i]
		if ev.Key != strconv.FormatInt(p.ID, 10) || d["snapshot_id"] != float64(s.ID) || d["portfolio_id"] != float64(p.ID) ||
			d["user_id"] != float64(aliceID) || d["team_id"] != float64(alphaID) ||
			`"`+d["profit"].(string)+`"` != string(s.Profit) || `"`+d["nav"].(string)+`"` != string(s.NAV) ||
			`"`+d["net_flow"].(string)+`"` != string(s.NetFlow) || d["as_of"] != d["period_end"] ||
			d["as_of"] != s.AsOf.UTC().Format(time.RFC3339Nano) || d["currency"] != nil {
			// A USD portfolio's events leave the base currency out
			// (eventbus.EventCurrency).
			t.Errorf("event %d = %s for snapshot %+v", i, ev.Envelope.Data, s)
		}
	}
	// prev_nav is the previous snapshot's nav.
	var d struct {
		PrevNAV string `json:"prev_nav"`
	}
	_ = json.Unmarshal(events[1].Envelope.Data, &d)
	if d.PrevNAV != "1100.50000000" {
		t.Errorf("prev_nav = %s, want 1100.50000000", d.PrevNAV)
	}
}

// TestOwnersChangeAppliesToLaterProfit: profit recorded after a PATCH of
// the owners goes to the new owners, profit recorded before stays with the
// old ones. Every profit event carries the portfolio's currency.
func TestOwnersChangeAppliesToLaterProfit(t *testing.T) {
	e := newEnv(t)
	var p portfolioJSON
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "P", "user_id": aliceID, "team_id": alphaID, "currency": "JPY"}).
		OK(t, 201, &p)
	e.recordNAV(p.ID, map[string]any{"as_of": day(1), "nav": "100"})
	e.recordNAV(p.ID, map[string]any{"as_of": day(2), "nav": "110"})
	e.Do("PATCH", fmt.Sprintf("/api/v1/portfolios/%d", p.ID), e.admin, map[string]any{"user_id": bobID, "team_id": betaID}).OK(t, 200, nil)
	e.recordNAV(p.ID, map[string]any{"as_of": day(3), "nav": "120"})
	events := e.eventsOfType("portfolio.profit_recorded")
	if len(events) != 2 {
		t.Fatalf("%d profit events, want 2", len(events))
	}
	var owners [2]portfolio.ProfitRecordedData
	for i, ev := range events {
		if err := json.Unmarshal(ev.Envelope.Data, &owners[i]); err != nil {
			t.Fatal(err)
		}
	}
	if owners[0].UserID != aliceID || owners[0].TeamID != alphaID || owners[1].UserID != bobID || owners[1].TeamID != betaID ||
		owners[0].Currency != "JPY" || owners[1].Currency != "JPY" {
		t.Fatalf("owners = %+v", owners)
	}
	// The event order in the outbox follows the changes: created, profit,
	// updated, profit.
	var types []string
	for _, ev := range e.outbox() {
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "portfolio.created,portfolio.profit_recorded,portfolio.updated,portfolio.profit_recorded" {
		t.Fatalf("outbox order = %v", types)
	}
}

// TestConcurrentNAVPosts: however valuations race, the snapshots of a
// portfolio form one chain: no two follow the same predecessor, each
// follows the latest one before it, and the profits add up.
func TestConcurrentNAVPosts(t *testing.T) {
	e := newEnv(t)
	p := e.createPortfolio("P", aliceID, alphaID)
	e.recordNAV(p.ID, map[string]any{"as_of": day(1), "nav": "1000"})
	const n = 16
	rs := servicetest.Concurrently(n, func(i int) servicetest.Result {
		asOf := time.Date(2026, 1, 2, 0, 0, i, 0, time.UTC).Format(time.RFC3339)
		return e.Do("POST", navPath(p.ID), e.admin, map[string]any{"as_of": asOf, "nav": strconv.Itoa(1000 + 10*(i+1)), "net_flow": "1"})
	})
	for _, r := range rs {
		if r.Status != 201 && r.Status != 409 {
			t.Errorf("concurrent POST: %d %s", r.Status, r.Raw)
		}
	}
	count := servicetest.Statuses(rs)
	created, outOfOrder := count[201], count[409]
	if created+outOfOrder != n || created == 0 {
		t.Fatalf("%d created, %d out of order", created, outOfOrder)
	}
	if got := e.count(`SELECT count(*) FROM nav_snapshots WHERE portfolio_id = $1`, p.ID); got != created+1 {
		t.Fatalf("%d snapshots, want %d", got, created+1)
	}
	if dup := e.count(`SELECT count(*) FROM (SELECT prev_snapshot_id FROM nav_snapshots GROUP BY prev_snapshot_id HAVING count(*) > 1) d`); dup != 0 {
		t.Fatalf("%d predecessors shared by two snapshots", dup)
	}
	// In as_of order, each snapshot follows the one before it, and its
	// profit is computed from that one.
	var all []snapshotJSON
	e.Do("GET", navPath(p.ID), e.admin, nil).OK(t, 200, &all)
	for i := 1; i < len(all); i++ {
		if all[i].PrevSnapshotID == nil || *all[i].PrevSnapshotID != all[i-1].ID {
			t.Fatalf("snapshot %d follows %v, want %d", all[i].ID, all[i].PrevSnapshotID, all[i-1].ID)
		}
	}
	if got := e.count(`SELECT count(*) FROM nav_snapshots s JOIN nav_snapshots prev ON prev.id = s.prev_snapshot_id
		WHERE s.profit <> s.nav - prev.nav - s.net_flow OR prev.as_of >= s.as_of`); got != 0 {
		t.Fatalf("%d snapshots whose profit does not follow from their predecessor", got)
	}
	if got := e.count(`SELECT count(*) FROM outbox WHERE type = 'portfolio.profit_recorded'`); got != created {
		t.Fatalf("%d profit events for %d snapshots with a profit", got, created)
	}
}

func TestIdempotentNAV(t *testing.T) {
	e := newEnv(t)
	p := e.createPortfolio("P", aliceID, alphaID)
	e.recordNAV(p.ID, map[string]any{"as_of": day(1), "nav": "100"})
	post := func(key string, body any) servicetest.Result {
		return e.Do("POST", navPath(p.ID), e.admin, body, "Idempotency-Key", key)
	}
	body := map[string]any{"as_of": day(2), "nav": "110"}
	first := post("k-1", body)
	var s1 snapshotJSON
	first.OK(t, 201, &s1)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the first response is marked replayed")
	}
	for range 2 {
		again := post("k-1", body)
		var s2 snapshotJSON
		again.OK(t, 201, &s2)
		if again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Raw, first.Raw) || s2.ID != s1.ID {
			t.Fatalf("replay = %s %v, want the first response", again.Raw, again.Header)
		}
	}
	if n := e.count(`SELECT count(*) FROM nav_snapshots`); n != 2 {
		t.Fatalf("%d snapshots after replays, want 2", n)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE type = 'portfolio.profit_recorded'`); n != 1 {
		t.Fatalf("%d profit events after replays, want 1", n)
	}
	post("k-1", map[string]any{"as_of": day(3), "nav": "120"}).Fails(t, 409, "idempotency_key_reused")
	// Keys are per caller: another admin's same key is another operation.
	other := e.Token(3, "admin")
	e.Do("POST", navPath(p.ID), other, map[string]any{"as_of": day(3), "nav": "120"}, "Idempotency-Key", "k-1").OK(t, 201, nil)

	// A refusal before anything started stores nothing: the key can be
	// used again with a corrected body.
	post("k-2", map[string]any{"as_of": day(4), "nav": "1e3"}).Fails(t, 400, "invalid_amount")
	post("k-2", map[string]any{"as_of": day(4), "nav": "-1"}).Fails(t, 400, "invalid_amount")
	e.Do("POST", navPath(p.ID), e.viewer, map[string]any{"as_of": day(4), "nav": "130"}, "Idempotency-Key", "k-2").Fails(t, 403, "forbidden")
	post("k-2", map[string]any{"as_of": day(4), "nav": "130"}).OK(t, 201, nil)

	// Once started, the outcome is kept, failure included.
	out := post("k-3", map[string]any{"as_of": day(1), "nav": "130"})
	out.Fails(t, 409, "nav_out_of_order")
	again := post("k-3", map[string]any{"as_of": day(1), "nav": "130"})
	again.Fails(t, 409, "nav_out_of_order")
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("the stored failure was not replayed")
	}
	post("", body).Fails(t, 400, "invalid_idempotency_key")
	post(strings.Repeat("k", 256), body).Fails(t, 400, "invalid_idempotency_key")

	// Concurrent repeats of one key execute once.
	rs := servicetest.Concurrently(8, func(int) servicetest.Result {
		return post("k-4", map[string]any{"as_of": day(9), "nav": "150"})
	})
	for _, r := range rs {
		if r.Status != 201 && (r.Status != 409 || !strings.Contains(string(r.Raw), "idempotency_key_in_flight")) {
			t.Errorf("concurrent repeat: %d %s", r.Status, r.Raw)
		}
	}
	if servicetest.Statuses(rs)[201] == 0 {
		t.Fatal("no concurrent repeat succeeded")
	}
	if n := e.count(`SELECT count(*) FROM nav_snapshots WHERE as_of = $1`, time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC)); n != 1 {
		t.Fatalf("%d snapshots for one key, want 1", n)
	}
}

func TestAuthServiceUnreachable(t *testing.T) {
	// A port nothing listens on.
	l := httptest.NewServer(http.NotFoundHandler())
	url := l.URL
	l.Close()
	e := newEnvWithAuth(t, url)
	e.Do("POST", "/api/v1/portfolios", e.admin, map[string]any{"name": "P", "user_id": aliceID, "team_id": alphaID}).
		Fails(t, 503, "dependency_unavailable")
	if n := e.count(`SELECT count(*) FROM portfolios`); n != 0 {
		t.Fatal("a portfolio was created without its owners checked")
	}
}
