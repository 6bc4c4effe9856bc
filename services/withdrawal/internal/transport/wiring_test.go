package transport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/idempotency"
	"github.com/fundplatform/platform/libs/money"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/libs/servicetest"
	"github.com/fundplatform/platform/services/withdrawal/internal/endpoint"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
	"github.com/fundplatform/platform/services/withdrawal/internal/transport"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is one withdrawal service over a fresh database, behind httptest.
type env struct {
	*servicetest.Server
	store *store.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := servicetest.New(t, store.Migrations())
	e := &env{Server: s, store: store.New(s.Pool)}
	s.Serve("withdrawal", transport.NewHandler(endpoint.New(ledger.New(e.store)), s.Verifier(), s.Idempotency(), s.Metrics()))
	return e
}

type balance struct {
	OwnerType      string `json:"owner_type"`
	OwnerID        int64  `json:"owner_id"`
	Currency       string `json:"currency"`
	Credited       string `json:"credited"`
	ReallocatedIn  string `json:"reallocated_in"`
	ReallocatedOut string `json:"reallocated_out"`
	Held           string `json:"held"`
	Withdrawn      string `json:"withdrawn"`
	Available      string `json:"available"`
}

type withdrawal struct {
	ID          int64      `json:"id"`
	FromType    string     `json:"from_type"`
	OwnerID     int64      `json:"owner_id"`
	Currency    string     `json:"currency"`
	Amount      string     `json:"amount"`
	Status      string     `json:"status"`
	Reason      *string    `json:"reason"`
	RequestedBy int64      `json:"requested_by"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at"`
}

// A ledger entry and a verification as the API writes them.
type (
	entry        = endpoint.Entry
	verification = endpoint.Verification
)

const (
	withdrawalsPath   = "/api/v1/withdrawals"
	reallocationsPath = "/api/v1/reallocations"
)

// amt is an amount as the API writes it.
func amt(s string) string { return money.MustAmount(s).String() }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var allocationIDs atomic.Int64

// credit applies a profit.allocated credit as the consumer does: toUser to
// user:userID, toTeam to team:teamID, toPlatform to the platform (in USD).
func (e *env) credit(userID, teamID int64, toUser, toTeam, toPlatform string) {
	e.T.Helper()
	e.creditIn("USD", userID, teamID, toUser, toTeam, toPlatform)
}

// creditIn is credit in currency.
func (e *env) creditIn(currency string, userID, teamID int64, toUser, toTeam, toPlatform string) {
	e.T.Helper()
	c := ledger.Credit{AllocationID: allocationIDs.Add(1), UserID: userID, TeamID: teamID,
		ToUser: dec(toUser), ToTeam: dec(toTeam), ToPlatform: dec(toPlatform), Currency: currency}
	c.Distributable = c.ToUser.Add(c.ToTeam).Add(c.ToPlatform)
	err := pg.InTx(context.Background(), e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return e.store.Credit(context.Background(), tx, c)
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

func withdrawalBody(fromType string, ownerID int64, amount any) map[string]any {
	return map[string]any{"from_type": fromType, "owner_id": ownerID, "currency": "USD", "amount": amount}
}

// ownerBalances is the answer of GET /balances/{owner_type}/{owner_id}.
type ownerBalances struct {
	OwnerType string    `json:"owner_type"`
	OwnerID   int64     `json:"owner_id"`
	Balances  []balance `json:"balances"`
}

// balance is the owner's (path, with its query) balance in USD.
func (e *env) balance(token, path string) balance {
	e.T.Helper()
	return e.balanceIn(token, path, "USD")
}

// balanceIn is the owner's (path, with its query) balance in currency:
// the one element of the answer narrowed to currency.
func (e *env) balanceIn(token, path, currency string) balance {
	e.T.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var bs ownerBalances
	e.Do("GET", "/api/v1/balances/"+path+sep+"currency="+currency, token, nil).OK(e.T, 200, &bs)
	if len(bs.Balances) != 1 || bs.Balances[0].Currency != currency {
		e.T.Fatalf("%s in %s: %+v, want one balance in it", path, currency, bs)
	}
	b := bs.Balances[0]
	b.OwnerType, b.OwnerID = bs.OwnerType, bs.OwnerID
	return b
}

// checkLedger asserts the invariants of docs/api.md#withdrawal-service straight
// in the database: each currency's postings sum to 0, every transfer sums
// to 0 and is in one currency (as its entries' accounts are), no owner
// account is below zero, every account's balance is the sum of its postings,
// and the hash chains verify.
func (e *env) checkLedger() {
	e.T.Helper()
	ctx := context.Background()
	var n int
	queries := map[string]string{
		"currencies whose entries do not sum to 0": `SELECT count(*) FROM (SELECT currency FROM entries GROUP BY currency HAVING sum(amount) <> 0) c`,
		"transfers in more than one currency":      `SELECT count(*) FROM (SELECT transfer_id FROM entries GROUP BY transfer_id HAVING count(DISTINCT currency) > 1) t`,
		"entries in another currency than their account's": `SELECT count(*) FROM entries e JOIN accounts a USING (account)
			WHERE a.currency <> e.currency`,
		"unbalanced transfers": `SELECT count(*) FROM (SELECT transfer_id FROM entries GROUP BY transfer_id HAVING sum(amount) <> 0) t`,
		"overdrawn accounts":   `SELECT count(*) FROM accounts WHERE owner_type IN ('user', 'team', 'platform') AND available < 0`,
		"accounts whose balance is not the sum of their entries": `SELECT count(*) FROM accounts a
			WHERE a.balance <> COALESCE((SELECT sum(amount) FROM entries e WHERE e.account = a.account), 0)`,
		"owner accounts whose held is not their hold account's balance": `SELECT count(*) FROM accounts a
			WHERE a.owner_type IN ('user', 'team', 'platform')
			  AND a.held <> COALESCE((SELECT balance FROM accounts h WHERE h.account = 'held:' || a.account), 0)`,
	}
	for what, q := range queries {
		if err := e.Pool.QueryRow(ctx, q).Scan(&n); err != nil || n != 0 {
			e.T.Fatalf("%d %s (%v)", n, what, err)
		}
	}
	v, err := e.store.Verify(ctx)
	if err != nil || !v.OK {
		e.T.Fatalf("verify = %+v, %v", v, err)
	}
}

// outboxTypes counts the outbox's events by type, checking every payload
// against its schema and its key against the account it names.
func (e *env) outboxTypes() map[string]int {
	e.T.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT type, key, topic, payload::text FROM outbox ORDER BY id`)
	if err != nil {
		e.T.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var typ, key, topic, payload string
		if err := rows.Scan(&typ, &key, &topic, &payload); err != nil {
			e.T.Fatal(err)
		}
		if err := eventbus.Validate(typ, []byte(payload)); err != nil {
			e.T.Errorf("outbox %s: %v", typ, err)
		}
		env, _ := eventbus.Decode([]byte(payload))
		var data struct {
			Account     string `json:"account"`
			FromAccount string `json:"from_account"`
		}
		_ = json.Unmarshal(env.Data, &data)
		if topic != eventbus.TopicWithdrawal || (key != data.Account && key != data.FromAccount) {
			e.T.Errorf("outbox %s on %s keyed %q, want %s keyed by the account", typ, topic, key, eventbus.TopicWithdrawal)
		}
		out[typ]++
	}
	return out
}

// TestConcurrentWithdrawalsOfTheFullBalance: 50 concurrent requests each
// for the whole available balance; exactly one holds it, 49 are refused.
func TestConcurrentWithdrawalsOfTheFullBalance(t *testing.T) {
	e := newEnv(t)
	e.credit(7, 3, "100", "20", "5")
	owner := e.Token(7, "user", 3)
	const n = 50
	rs := servicetest.Concurrently(n, func(int) servicetest.Result {
		return e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "100"))
	})
	for _, r := range rs {
		if r.Status == 422 {
			r.Fails(t, 422, "insufficient_balance")
		}
	}
	count := servicetest.Statuses(rs)
	if count[201] != 1 || count[422] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 422", count, n-1)
	}
	b := e.balance(owner, "user/7")
	if b.Available != amt("0") || b.Held != amt("100") || b.Credited != amt("100") {
		t.Fatalf("balance after = %+v", b)
	}
	e.checkLedger()
	if got := e.outboxTypes(); got[eventbus.TypeWithdrawalRequested] != 1 {
		t.Fatalf("outbox = %v, want one withdrawal.requested", got)
	}
}

// TestConcurrentReallocationsAndWithdrawals moves money around three
// accounts in both directions at once while withdrawing from them; no
// available balance ever goes below zero (the database refuses it) and
// the ledger balances.
func TestConcurrentReallocationsAndWithdrawals(t *testing.T) {
	e := newEnv(t)
	e.credit(1, 1, "10", "10", "10")
	e.credit(2, 2, "10", "10", "0")
	admin := e.Token(1, "admin")
	type side struct {
		typ string
		id  int64
	}
	accounts := []side{{"user", 1}, {"team", 1}, {"platform", 0}, {"user", 2}}
	rs := servicetest.Concurrently(60, func(i int) servicetest.Result {
		from, to := accounts[i%len(accounts)], accounts[(i+1+i/len(accounts))%len(accounts)]
		switch {
		case i%3 == 0:
			return e.Do("POST", withdrawalsPath, admin, withdrawalBody(from.typ, from.id, "3"))
		case from == to:
			return servicetest.Result{} // nothing to move: no request
		}
		return e.Do("POST", reallocationsPath, admin, map[string]any{"from_type": from.typ, "from_id": from.id,
			"to_type": to.typ, "to_id": to.id, "currency": "USD", "amount": "4", "reason": "rebalance"})
	})
	for _, r := range rs {
		if r.Status != 0 && r.Status != 201 && r.Status != 422 {
			t.Errorf("status %d: %s", r.Status, r.Raw)
		}
	}
	if count := servicetest.Statuses(rs); count[201] == 0 || count[422] == 0 {
		t.Logf("%d accepted, %d refused", count[201], count[422])
	}
	var bs []balance
	e.Do("GET", "/api/v1/balances", admin, nil).OK(t, 200, &bs)
	total := decimal.Zero
	for _, b := range bs {
		if dec(b.Available).IsNegative() {
			t.Errorf("%s/%d available %s", b.OwnerType, b.OwnerID, b.Available)
		}
		total = total.Add(dec(b.Available)).Add(dec(b.Held))
	}
	if !total.Equal(dec("50")) {
		t.Errorf("available + held over all accounts = %s, want the 50 credited", total)
	}
	e.checkLedger()
	e.outboxTypes()
}

// TestOneIdempotencyKeyOneWithdrawal: 20 concurrent requests with one key
// create one withdrawal; the rest are in flight (409) or replays.
func TestOneIdempotencyKeyOneWithdrawal(t *testing.T) {
	e := newEnv(t)
	e.credit(7, 3, "100", "0", "0")
	owner := e.Token(7, "user")
	rs := servicetest.Concurrently(20, func(int) servicetest.Result {
		return e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "10"), "Idempotency-Key", "same-key")
	})
	var created, replayed, inFlight int
	for _, r := range rs {
		switch {
		case r.Status == 201 && r.Header.Get(idempotency.ReplayedHeader) == "true":
			replayed++
		case r.Status == 201:
			created++
		case r.Status == 409:
			r.Fails(t, 409, "idempotency_key_in_flight")
			inFlight++
		default:
			t.Errorf("status %d: %s", r.Status, r.Raw)
		}
	}
	var n int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM withdrawals`).Scan(&n); err != nil || n != 1 || created != 1 {
		t.Fatalf("%d withdrawals, %d created responses (%d replayed, %d in flight), want 1", n, created, replayed, inFlight)
	}
	// A later repeat replays; another body under the key is refused.
	r := e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "10"), "Idempotency-Key", "same-key")
	if r.Status != 201 || r.Header.Get(idempotency.ReplayedHeader) != "true" {
		t.Fatalf("repeat = %d %s", r.Status, r.Raw)
	}
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "11"), "Idempotency-Key", "same-key").Fails(t, 409, "idempotency_key_reused")
	if b := e.balance(owner, "user/7"); b.Available != amt("90") || b.Held != amt("10") {
		t.Fatalf("balance = %+v", b)
	}
	// A refused request stores nothing: the key can be used after a fix.
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "0"), "Idempotency-Key", "k2").Fails(t, 400, "invalid_amount")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "1"), "Idempotency-Key", "k2").OK(t, 201, nil)
	// An insufficient balance is an outcome once started: it is replayed.
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "1000"), "Idempotency-Key", "k3").Fails(t, 422, "insufficient_balance")
	r = e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "1000"), "Idempotency-Key", "k3")
	r.Fails(t, 422, "insufficient_balance")
	if r.Header.Get(idempotency.ReplayedHeader) != "true" {
		t.Fatal("the 422 was not replayed")
	}
	e.checkLedger()
}

// TestWithdrawalStateMachine walks every transition and the refusals.
// callers are the tokens the withdrawal tests call with: admin 1, viewer
// 2, the user 7 and another user 8, both in team 3.
type callers struct{ admin, owner, other, viewer string }

func newCallers(e *env) callers {
	return callers{admin: e.Token(1, "admin"), owner: e.Token(7, "user", 3), other: e.Token(8, "user", 3), viewer: e.Token(2, "viewer")}
}

// withdraw requests a withdrawal, which must be created pending.
func (e *env) withdraw(t *testing.T, tok string, typ string, id int64, amount string) withdrawal {
	t.Helper()
	var w withdrawal
	e.Do("POST", withdrawalsPath, tok, withdrawalBody(typ, id, amount)).OK(t, 201, &w)
	if w.Status != "pending" || w.Amount != amt(amount) || w.Reason != nil || w.CompletedAt != nil {
		t.Fatalf("created %+v", w)
	}
	return w
}

func actionPath(w withdrawal, action string) string {
	return fmt.Sprintf("%s/%d/%s", withdrawalsPath, w.ID, action)
}

func TestWithdrawalStateMachine(t *testing.T) {
	e := newEnv(t)
	e.credit(7, 3, "100", "50", "10")
	c := newCallers(e)
	var w2 withdrawal
	_ = t.Run("complete", func(t *testing.T) { withdrawalCompletes(t, e, c) }) &&
		t.Run("fail", func(t *testing.T) { w2 = withdrawalFails(t, e, c) }) &&
		t.Run("cancel", func(t *testing.T) { withdrawalCancels(t, e, c) }) &&
		t.Run("lists", func(t *testing.T) { withdrawalLists(t, e, c, w2) })
}

func withdrawalCompletes(t *testing.T, e *env, c callers) {
	admin, owner, viewer := c.admin, c.owner, c.viewer
	// pending → completed: held → withdrawn.
	w1 := e.withdraw(t, owner, "user", 7, "30")
	if b := e.balance(owner, "user/7"); b.Available != amt("70") || b.Held != amt("30") {
		t.Fatalf("after the hold: %+v", b)
	}
	e.Do("POST", actionPath(w1, "complete"), owner, nil).Fails(t, 403, "forbidden")
	e.Do("POST", actionPath(w1, "complete"), viewer, nil).Fails(t, 403, "forbidden")
	var done withdrawal
	e.Do("POST", actionPath(w1, "complete"), admin, nil, "Idempotency-Key", "c1").OK(t, 200, &done)
	if done.Status != "completed" || done.CompletedAt == nil || done.Reason != nil {
		t.Fatalf("completed %+v", done)
	}
	if b := e.balance(owner, "user/7"); b.Available != amt("70") || b.Held != amt("0") || b.Withdrawn != amt("30") {
		t.Fatalf("after completion: %+v", b)
	}
	// The same key replays; a new attempt is an invalid transition.
	e.Do("POST", actionPath(w1, "complete"), admin, nil, "Idempotency-Key", "c1").OK(t, 200, nil)
	e.Do("POST", actionPath(w1, "complete"), admin, nil).Fails(t, 409, "invalid_state_transition")
	e.Do("POST", actionPath(w1, "fail"), admin, map[string]any{"reason": "late"}).Fails(t, 409, "invalid_state_transition")
	e.Do("POST", actionPath(w1, "cancel"), owner, nil).Fails(t, 409, "invalid_state_transition")
}

func withdrawalFails(t *testing.T, e *env, c callers) withdrawal {
	admin, owner := c.admin, c.owner
	// pending → failed: the hold is released.
	w2 := e.withdraw(t, admin, "team", 3, "50")
	e.Do("POST", actionPath(w2, "fail"), admin, map[string]any{}).Fails(t, 400, "validation_failed")
	e.Do("POST", actionPath(w2, "fail"), admin, map[string]any{"reason": strings.Repeat("x", 501)}).
		FailsOn(t, 400, "validation_failed", "reason")
	var failed withdrawal
	e.Do("POST", actionPath(w2, "fail"), admin, map[string]any{"reason": "bank refused"}).OK(t, 200, &failed)
	if failed.Status != "failed" || failed.Reason == nil || *failed.Reason != "bank refused" || failed.CompletedAt != nil {
		t.Fatalf("failed %+v", failed)
	}
	if b := e.balance(owner, "team/3"); b.Available != amt("50") || b.Held != amt("0") {
		t.Fatalf("team after failure: %+v", b)
	}
	e.Do("POST", actionPath(w2, "complete"), admin, nil).Fails(t, 409, "invalid_state_transition")
	return w2
}

func withdrawalCancels(t *testing.T, e *env, c callers) {
	admin, owner, other, viewer := c.admin, c.owner, c.other, c.viewer
	// Cancel: another user does not see it; a viewer may not; the owner may.
	w3 := e.withdraw(t, owner, "user", 7, "20")
	e.Do("POST", actionPath(w3, "cancel"), other, nil).Fails(t, 404, "not_found")
	e.Do("POST", actionPath(w3, "cancel"), viewer, nil).Fails(t, 403, "forbidden")
	e.Do("GET", fmt.Sprintf("%s/%d", withdrawalsPath, w3.ID), other, nil).Fails(t, 404, "not_found")
	var cancelled withdrawal
	e.Do("POST", actionPath(w3, "cancel"), owner, nil).OK(t, 200, &cancelled)
	if cancelled.Status != "failed" || cancelled.Reason == nil || *cancelled.Reason != "cancelled" {
		t.Fatalf("cancelled %+v", cancelled)
	}
	if b := e.balance(owner, "user/7"); b.Available != amt("70") || b.Held != amt("0") {
		t.Fatalf("after cancel: %+v", b)
	}
	e.Do("POST", withdrawalsPath+"/999999/complete", admin, nil).Fails(t, 404, "not_found")
}

// withdrawalLists: after the three above, the lists, the outbox and the
// ledger.
func withdrawalLists(t *testing.T, e *env, c callers, w2 withdrawal) {
	owner, other, viewer := c.owner, c.other, c.viewer
	// Lists: the owner sees its own; filters apply.
	var ws []withdrawal
	r := e.Do("GET", withdrawalsPath, owner, nil).OK(t, 200, &ws)
	if *r.Env.Total != 2 {
		t.Fatalf("owner sees %d withdrawals, want its 2", *r.Env.Total)
	}
	r = e.Do("GET", withdrawalsPath+"?status=failed&from_type=team&owner_id=3", viewer, nil).OK(t, 200, &ws)
	if *r.Env.Total != 1 || ws[0].ID != w2.ID {
		t.Fatalf("filtered list = %s", r.Raw)
	}
	e.Do("GET", withdrawalsPath+"?status=nope", viewer, nil).Fails(t, 400, "validation_failed")
	e.Do("GET", withdrawalsPath, other, nil).OK(t, 200, &ws)
	if len(ws) != 0 {
		t.Fatalf("another user sees %d withdrawals", len(ws))
	}

	got := e.outboxTypes()
	if got[eventbus.TypeWithdrawalRequested] != 3 || got[eventbus.TypeWithdrawalCompleted] != 1 || got[eventbus.TypeWithdrawalFailed] != 2 {
		t.Fatalf("outbox = %v", got)
	}
	e.checkLedger()
}

// TestRolesAndValidation covers who may read and move what.
func TestRolesAndValidation(t *testing.T) {
	e := newEnv(t)
	e.credit(7, 3, "100", "50", "10")
	e.credit(8, 4, "5", "5", "0")
	c := newCallers(e)
	_ = t.Run("reads", func(t *testing.T) { balanceReads(t, e, c) }) &&
		t.Run("withdrawals", func(t *testing.T) { withdrawalRoles(t, e, c) }) &&
		t.Run("reallocations", func(t *testing.T) { reallocationRoles(t, e, c) }) &&
		t.Run("ledger", func(t *testing.T) { ledgerRoles(t, e, c) })
}

func balanceReads(t *testing.T, e *env, c callers) {
	admin, owner, viewer := c.admin, c.owner, c.viewer
	// Reads.
	if b := e.balance(owner, "user/7"); b.Credited != amt("100") || b.OwnerType != "user" || b.OwnerID != 7 {
		t.Fatalf("own balance %+v", b)
	}
	e.balance(owner, "team/3")
	e.Do("GET", "/api/v1/balances/user/8", owner, nil).Fails(t, 404, "not_found")
	e.Do("GET", "/api/v1/balances/team/4", owner, nil).Fails(t, 404, "not_found")
	e.Do("GET", "/api/v1/balances/platform/0", owner, nil).Fails(t, 404, "not_found")
	e.Do("GET", "/api/v1/balances/nope/1", admin, nil).Fails(t, 404, "not_found")
	e.Do("GET", "/api/v1/balances/platform/1", admin, nil).Fails(t, 404, "not_found")
	if b := e.balance(viewer, "platform/0"); b.Available != amt("10") || b.OwnerType != "platform" {
		t.Fatalf("platform %+v", b)
	}
	if b := e.balance(viewer, "user/999"); b.Available != amt("0") || b.Credited != amt("0") {
		t.Fatalf("never credited %+v", b)
	}
	var bs []balance
	r := e.Do("GET", "/api/v1/balances", owner, nil).OK(t, 200, &bs)
	if *r.Env.Total != 2 {
		t.Fatalf("owner lists %s", r.Raw)
	}
	r = e.Do("GET", "/api/v1/balances?owner_type=team&limit=1", viewer, nil).OK(t, 200, &bs)
	if *r.Env.Total != 2 || len(bs) != 1 || bs[0].OwnerType != "team" {
		t.Fatalf("viewer lists teams %s", r.Raw)
	}
	e.Do("GET", "/api/v1/balances?owner_type=system", viewer, nil).Fails(t, 400, "validation_failed")
}

func withdrawalRoles(t *testing.T, e *env, c callers) {
	admin, owner, viewer := c.admin, c.owner, c.viewer
	// Withdrawals: a user only from its own user account.
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 8, "1")).Fails(t, 404, "not_found")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("team", 3, "1")).Fails(t, 403, "forbidden")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("platform", 0, "1")).Fails(t, 404, "not_found")
	e.Do("POST", withdrawalsPath, viewer, withdrawalBody("user", 7, "1")).Fails(t, 403, "forbidden")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "0")).Fails(t, 400, "invalid_amount")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "-1")).Fails(t, 400, "invalid_amount")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "0.000000001")).Fails(t, 400, "invalid_amount")
	e.Do("POST", withdrawalsPath, owner, `{"from_type":"user","owner_id":7,"amount":"1","x":1}`).Fails(t, 400, "invalid_json")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, "100.00000001")).Fails(t, 422, "insufficient_balance")
	e.Do("POST", withdrawalsPath, owner, withdrawalBody("user", 7, 12.5)).OK(t, 201, nil)
	e.Do("POST", withdrawalsPath, admin, map[string]any{"from_type": "platform", "currency": "USD", "amount": "10"}).OK(t, 201, nil)
	e.Do("POST", withdrawalsPath, "", withdrawalBody("user", 7, "1")).Fails(t, 401, "unauthenticated")
}

func reallocationRoles(t *testing.T, e *env, c callers) {
	admin, owner, viewer := c.admin, c.owner, c.viewer
	// Reallocations: admin only; validation; 422.
	realloc := func(fromType string, fromID int64, toType string, toID int64, amount any, reason string) map[string]any {
		return map[string]any{"from_type": fromType, "from_id": fromID, "to_type": toType, "to_id": toID, "currency": "USD",
			"amount": amount, "reason": reason}
	}
	e.Do("POST", reallocationsPath, owner, realloc("user", 7, "team", 3, "1", "x")).Fails(t, 403, "forbidden")
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "user", 7, "1", "x")).Fails(t, 400, "validation_failed")
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "team", 3, "1", " ")).Fails(t, 400, "validation_failed")
	// A reason has at most 500 characters (docs/api.md#text-fields): one of
	// 200 000, which as "<" would make an event of 1.2 MB once escaped, is
	// refused and stores nothing (the list below holds only the one accepted).
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "team", 3, "1", strings.Repeat("x", 200_000))).
		FailsOn(t, 400, "validation_failed", "reason")
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "team", 3, "1", strings.Repeat("<", 501))).
		FailsOn(t, 400, "validation_failed", "reason")
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "team", 3, "0", "x")).Fails(t, 400, "invalid_amount")
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "team", 3, "87.50000001", "x")).Fails(t, 422, "insufficient_balance")
	var re struct {
		ID     int64  `json:"id"`
		Amount string `json:"amount"`
		ToType string `json:"to_type"`
	}
	e.Do("POST", reallocationsPath, admin, realloc("user", 7, "team", 4, "7.5", "bonus")).OK(t, 201, &re)
	if re.Amount != amt("7.5") || re.ToType != "team" {
		t.Fatalf("reallocation %+v", re)
	}
	if b := e.balance(admin, "user/7"); b.ReallocatedOut != amt("7.5") || b.Available != amt("80") {
		t.Fatalf("source after reallocation %+v", b)
	}
	if b := e.balance(admin, "team/4"); b.ReallocatedIn != amt("7.5") || b.Available != amt("12.5") {
		t.Fatalf("destination after reallocation %+v", b)
	}
	e.Do("GET", reallocationsPath, owner, nil).Fails(t, 403, "forbidden")
	r := e.Do("GET", reallocationsPath+"?from_type=user&to_type=team", viewer, nil).OK(t, 200, nil)
	if *r.Env.Total != 1 {
		t.Fatalf("reallocations %s", r.Raw)
	}
	r = e.Do("GET", reallocationsPath+"?to_type=user", viewer, nil).OK(t, 200, nil)
	if *r.Env.Total != 0 {
		t.Fatalf("reallocations to users %s", r.Raw)
	}
}

func ledgerRoles(t *testing.T, e *env, c callers) {
	owner, viewer := c.owner, c.viewer
	// The ledger: admin and viewer only.
	e.Do("GET", "/api/v1/ledger/entries", owner, nil).Fails(t, 403, "forbidden")
	e.Do("GET", "/api/v1/ledger/verify", owner, nil).Fails(t, 403, "forbidden")
	var es []entry
	r := e.Do("GET", "/api/v1/ledger/entries?account=user:7", viewer, nil).OK(t, 200, &es)
	if *r.Env.Total != 3 || es[0].Kind != "reallocation" || es[0].Amount != "-7.50000000" || len(es[0].Hash) != 64 {
		t.Fatalf("entries of user:7 = %s", r.Raw)
	}
	var v verification
	e.Do("GET", "/api/v1/ledger/verify", viewer, nil).OK(t, 200, &v)
	if !v.OK || v.FirstBadEntryID != nil || v.Entries == 0 || v.Accounts == 0 {
		t.Fatalf("verify = %+v", v)
	}
	e.checkLedger()
	e.outboxTypes()
}

// TestTamperingIsFound: entries cannot be updated or deleted; one edited
// behind the trigger's back breaks the chain at that entry.
func TestTamperingIsFound(t *testing.T) {
	e := newEnv(t)
	e.credit(7, 3, "100", "50", "10")
	e.credit(7, 3, "1", "1", "1")
	admin := e.Token(1, "admin")
	e.Do("POST", withdrawalsPath, admin, withdrawalBody("user", 7, "30")).OK(t, 201, nil)
	ctx := context.Background()
	var target int64
	if err := e.Pool.QueryRow(ctx, `SELECT id FROM entries WHERE account = 'user:7' ORDER BY id LIMIT 1 OFFSET 1`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE entries SET amount = amount + 1 WHERE id = $1`, target); err == nil {
		t.Fatal("an UPDATE of an entry was allowed")
	}
	if _, err := e.Pool.Exec(ctx, `DELETE FROM entries WHERE id = $1`, target); err == nil {
		t.Fatal("a DELETE of an entry was allowed")
	}
	var v verification
	e.Do("GET", "/api/v1/ledger/verify", admin, nil).OK(t, 200, &v)
	if !v.OK {
		t.Fatalf("verify before tampering = %+v", v)
	}
	// Tamper as an attacker with the table owner's rights would.
	err := pg.InTx(ctx, e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `ALTER TABLE entries DISABLE TRIGGER entries_immutable`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE entries SET amount = amount + 1 WHERE id = $1`, target); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `ALTER TABLE entries ENABLE TRIGGER entries_immutable`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Do("GET", "/api/v1/ledger/verify", admin, nil).OK(t, 200, &v)
	if v.OK || v.FirstBadEntryID == nil || *v.FirstBadEntryID != target {
		t.Fatalf("verify after tampering with entry %d = %+v", target, v)
	}
}

// TestBalanceAtAnInstant: ?at= answers what a replay of the postings up to
// that instant gives, at every step of a history.
func TestBalanceAtAnInstant(t *testing.T) {
	e := newEnv(t)
	admin := e.Token(1, "admin")
	var instants []time.Time
	mark := func() {
		time.Sleep(2 * time.Millisecond)
		instants = append(instants, time.Now().UTC())
		time.Sleep(2 * time.Millisecond)
	}
	mark()
	e.credit(7, 3, "100", "50", "10")
	mark()
	var w1, w2 withdrawal
	e.Do("POST", withdrawalsPath, admin, withdrawalBody("user", 7, "30")).OK(t, 201, &w1)
	mark()
	e.Do("POST", reallocationsPath, admin, map[string]any{"from_type": "team", "from_id": 3, "to_type": "user", "to_id": 7,
		"currency": "USD", "amount": "5", "reason": "r"}).OK(t, 201, nil)
	mark()
	e.Do("POST", fmt.Sprintf("%s/%d/complete", withdrawalsPath, w1.ID), admin, nil).OK(t, 200, nil)
	mark()
	e.Do("POST", withdrawalsPath, admin, withdrawalBody("user", 7, "10")).OK(t, 201, &w2)
	mark()
	e.Do("POST", fmt.Sprintf("%s/%d/cancel", withdrawalsPath, w2.ID), admin, nil).OK(t, 200, nil)
	mark()

	var es []entry
	e.Do("GET", "/api/v1/ledger/entries?limit=1000", admin, nil).OK(t, 200, &es)
	for _, at := range instants {
		for _, acct := range []struct{ path, account string }{{"user/7", "user:7"}, {"team/3", "team:3"}} {
			// Replay: the buckets from the entries created up to at.
			var credited, rin, rout, held, withdrawn decimal.Decimal
			for _, en := range es {
				if en.CreatedAt.After(at) {
					continue
				}
				a := dec(en.Amount)
				switch {
				case en.Account == acct.account && en.Kind == "profit_credit":
					credited = credited.Add(a)
				case en.Account == acct.account && en.Kind == "reallocation" && a.IsPositive():
					rin = rin.Add(a)
				case en.Account == acct.account && en.Kind == "reallocation":
					rout = rout.Sub(a)
				case en.Account == "held:"+acct.account:
					held = held.Add(a)
					if en.Kind == "withdrawal_payout" {
						withdrawn = withdrawn.Sub(a)
					}
				}
			}
			available := credited.Add(rin).Sub(rout).Sub(held).Sub(withdrawn)
			got := e.balance(admin, acct.path+"?at="+at.Format(time.RFC3339Nano))
			want := balance{OwnerType: strings.Split(acct.path, "/")[0], OwnerID: got.OwnerID, Currency: "USD",
				Credited: money.Format(credited), ReallocatedIn: money.Format(rin), ReallocatedOut: money.Format(rout),
				Held: money.Format(held), Withdrawn: money.Format(withdrawn), Available: money.Format(available)}
			if got != want {
				t.Errorf("%s at %s = %+v, replay says %+v", acct.path, at.Format(time.RFC3339Nano), got, want)
			}
		}
	}
	// The last instant is now.
	if now, last := e.balance(admin, "user/7"), e.balance(admin, "user/7?at="+instants[len(instants)-1].Format(time.RFC3339Nano)); now != last {
		t.Errorf("now %+v, at the end %+v", now, last)
	}
	if first := e.balance(admin, "user/7?at="+instants[0].Format(time.RFC3339Nano)); first.Available != amt("0") {
		t.Errorf("before anything: %+v", first)
	}
	e.Do("GET", "/api/v1/balances/user/7?at=yesterday", admin, nil).Fails(t, 400, "validation_failed")
	e.checkLedger()
}

// TestDeletedEntryIsFound: an entry deleted behind the trigger's back
// breaks the link of the account's next entry, and a deleted latest entry
// no longer matches the account's last hash.
func TestDeletedEntryIsFound(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.credit(7, 3, "1", "1", "1")
	}
	admin := e.Token(1, "admin")
	ctx := context.Background()
	rows, err := e.Pool.Query(ctx, `SELECT id FROM entries WHERE account = 'user:7' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) != 3 {
		t.Fatalf("entries of user:7 = %v, %v", ids, err)
	}
	remove := func(id int64) {
		t.Helper()
		err := pg.InTx(ctx, e.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `ALTER TABLE entries DISABLE TRIGGER entries_immutable`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM entries WHERE id = $1`, id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `ALTER TABLE entries ENABLE TRIGGER entries_immutable`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var v verification
	remove(ids[2])
	e.Do("GET", "/api/v1/ledger/verify", admin, nil).OK(t, 200, &v)
	if v.OK || v.FirstBadEntryID != nil {
		t.Fatalf("verify after deleting the latest entry = %+v, want not ok without a bad entry", v)
	}
	remove(ids[0])
	e.Do("GET", "/api/v1/ledger/verify", admin, nil).OK(t, 200, &v)
	if v.OK || v.FirstBadEntryID == nil || *v.FirstBadEntryID != ids[1] {
		t.Fatalf("verify after deleting entry %d = %+v, want %d reported", ids[0], v, ids[1])
	}
}
