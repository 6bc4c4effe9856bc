package identity_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/fundplatform/platform/libs/pg/pgtest"
	"github.com/fundplatform/platform/services/auth/internal/identity"
	"github.com/fundplatform/platform/services/auth/internal/keys"
	"github.com/fundplatform/platform/services/auth/internal/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestPasswordIsComparedWithNoConnectionHeld: on a pool of one connection,
// no connection is acquired (so no transaction is open) while a password
// is compared, for a right and a wrong password and an unknown email.
func TestPasswordIsComparedWithNoConnectionHeld(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.New(t, store.Migrations()).Config()
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st := store.New(pool)
	if _, err := identity.Bootstrap(ctx, st, "admin@fund.test", "admin-password-123", bcrypt.MinCost, time.Now()); err != nil {
		t.Fatal(err)
	}
	var compared, held atomic.Int32
	opts := identity.WithCompare(identity.Options{BcryptCost: bcrypt.MinCost}, func(hash, password []byte) error {
		compared.Add(1)
		if pool.Stat().AcquiredConns() != 0 {
			held.Add(1)
		}
		return bcrypt.CompareHashAndPassword(hash, password)
	})
	svc := identity.New(st, keys.NewSigner(keys.Generate(), "fund-auth", "fund-api", time.Minute), opts)
	for _, in := range []identity.LoginAttempt{
		{Email: "admin@fund.test", Password: "admin-password-123", Client: "10.0.0.1"},
		{Email: "admin@fund.test", Password: "wrong-password", Client: "10.0.0.1"},
		{Email: "nobody@fund.test", Password: "wrong-password", Client: "10.0.0.1"},
	} {
		_, _ = svc.Login(ctx, in)
	}
	if compared.Load() != 3 || held.Load() != 0 {
		t.Fatalf("%d comparisons, %d of them with a connection held; want 3, none", compared.Load(), held.Load())
	}
}
