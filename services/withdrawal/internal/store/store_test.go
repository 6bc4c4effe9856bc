package store_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/libs/auth"
	"github.com/fundplatform/platform/libs/pg"
	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
	"github.com/fundplatform/platform/services/withdrawal/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// The history keeps its file names (goose records versions as applied,
// docs/operations.md): the libraries' migrations join it under the names
// the service released them with.
func TestMigrationsKeepTheirNames(t *testing.T) {
	if err := fstest.TestFS(store.Migrations(), "00001_init.sql", "00002_outbox.sql", "00003_inbox.sql", "00004_idempotency_keys.sql", "00005_idempotency_effect.sql"); err != nil {
		t.Fatal(err)
	}
}

// TestDatabaseGuards: the schema itself refuses an overdraft, a transfer
// that does not balance, and any change to a posted entry, whatever the Go
// code does; a credit applied twice is applied once.
func TestDatabaseGuards(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	credit := ledger.Credit{AllocationID: 1, Distributable: decimal.RequireFromString("10"),
		ToUser: decimal.RequireFromString("6"), ToTeam: decimal.RequireFromString("3"), ToPlatform: decimal.RequireFromString("1"),
		UserID: 7, TeamID: 3, Currency: "USD"}
	for range 2 {
		if err := pg.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error { return st.Credit(ctx, tx, credit) }); err != nil {
			t.Fatal(err)
		}
	}
	b, err := st.Balance(ctx, ledger.Owner{Type: auth.OwnerUser, ID: 7}, "USD", nil)
	if err != nil || !b.Credited.Equal(decimal.RequireFromString("6")) {
		t.Fatalf("user:7 = %+v, %v; want 6 credited once", b, err)
	}

	// A pending withdrawal of 1 opens the hold account held:user:7.
	if _, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: ledger.Owner{Type: auth.OwnerUser, ID: 7}, Currency: "USD",
		Amount: decimal.RequireFromString("1")}, 7); err != nil {
		t.Fatal(err)
	}
	for what, sql := range map[string]string{
		"an overdraft":    `UPDATE accounts SET withdrawn = withdrawn + 7, balance = balance - 7 WHERE account = 'user:7'`,
		"a hold below 0":  `UPDATE accounts SET balance = -1 WHERE account = 'held:user:7'`,
		"an entry edit":   `UPDATE entries SET amount = 1 WHERE account = 'user:7'`,
		"an entry delete": `DELETE FROM entries`,
		"a truncate":      `TRUNCATE entries CASCADE`,
		"a double credit": `INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, hash) SELECT transfer_id, account, amount, kind, ref_type, ref_id, created_at, hash FROM entries LIMIT 1`,
		"an unbalanced transfer": `WITH t AS (INSERT INTO transfers (kind, ref_type, ref_id, created_at) VALUES ('reallocation', 'reallocation', 99, now()) RETURNING id)
			INSERT INTO entries (transfer_id, account, amount, kind, ref_type, ref_id, created_at, hash)
			SELECT id, 'user:7', 1, 'reallocation', 'reallocation', 99, now(), '\x00' FROM t`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("the database accepted %s", what)
		}
	}
	if _, err := st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: ledger.Owner{Type: auth.OwnerUser, ID: 7}, Currency: "USD",
		Amount: decimal.RequireFromString("5.00000001")}, 7); !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Fatalf("overdraft = %v, want ErrInsufficientBalance", err)
	}
	if v, err := st.Verify(ctx); err != nil || !v.OK || v.Entries != 6 {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}

// TestErrorsCarryContext: the store's errors say what failed and still
// match the domain's sentinels (errors.Is); driver errors are wrapped with
// %w, so pg.Retryable (errors.As) still sees serialization failures.
func TestErrorsCarryContext(t *testing.T) {
	pool := pgtest.New(t, store.Migrations())
	st := store.New(pool)
	ctx := context.Background()
	_, err := st.Withdrawal(ctx, 999)
	if !errors.Is(err, ledger.ErrNotFound) || !strings.Contains(err.Error(), "withdrawal 999") {
		t.Errorf("unknown withdrawal: %v; want ErrNotFound with its id", err)
	}
	_, err = st.TransitionWithdrawal(ctx, ledger.Transition{WithdrawalID: 999, To: ledger.StatusCompleted})
	if !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("transition of an unknown withdrawal: %v; want ErrNotFound", err)
	}
	owner := ledger.Owner{Type: auth.OwnerTeam, ID: 4}
	_, err = st.RequestWithdrawal(ctx, ledger.NewWithdrawal{Owner: owner, Currency: "USD", Amount: decimal.RequireFromString("1")}, 1)
	if !errors.Is(err, ledger.ErrInsufficientBalance) || !strings.Contains(err.Error(), "team:4") {
		t.Errorf("overdraft: %v; want ErrInsufficientBalance naming the account", err)
	}
}
