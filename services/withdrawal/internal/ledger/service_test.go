package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/fundplatform/platform/services/withdrawal/internal/ledger"
)

type creditStore struct{ calls [][]ledger.Credit }

func (s *creditStore) Credits(_ context.Context, cs []ledger.Credit) error {
	s.calls = append(s.calls, cs)
	return nil
}

// TestApplyCredits: the consumer's service checks every credit before the
// store sees any, and hands the valid ones over in order, in one call.
func TestApplyCredits(t *testing.T) {
	ctx := context.Background()
	good := func(id int64) ledger.Credit {
		return ledger.Credit{AllocationID: id, Distributable: dec("1"), ToUser: dec("1"), ToTeam: decimal.Zero,
			ToPlatform: decimal.Zero, UserID: 7, TeamID: 3, Currency: "USD"}
	}
	bad := good(3)
	bad.ToUser = dec("2")

	st := &creditStore{}
	if err := ledger.ApplyCredits(ctx, st, []ledger.Credit{good(1), bad, good(2)}); !errors.Is(err, ledger.ErrInvalidCredit) || len(st.calls) != 0 {
		t.Fatalf("a batch with an invalid credit: %v, %d store calls; want ErrInvalidCredit and none", err, len(st.calls))
	}
	if err := ledger.ApplyCredits(ctx, st, nil); err != nil || len(st.calls) != 0 {
		t.Fatalf("no credits: %v, %d store calls", err, len(st.calls))
	}
	if err := ledger.ApplyCredits(ctx, st, []ledger.Credit{good(2), good(1)}); err != nil || len(st.calls) != 1 ||
		len(st.calls[0]) != 2 || st.calls[0][0].AllocationID != 2 || st.calls[0][1].AllocationID != 1 {
		t.Fatalf("valid credits: %v, %+v", err, st.calls)
	}
}
