package profit

import (
	"context"
	"errors"
	"testing"
)

// fakeEventStore records what the consumer asks of it.
type fakeEventStore struct {
	added  []Owners
	owners []Owners
	one    []NewProfit
	runs   [][]NewProfit
	fixes  []NAVCorrection
}

func (f *fakeEventStore) ApplyNAVCorrection(_ context.Context, c NAVCorrection) error {
	f.fixes = append(f.fixes, c)
	return nil
}

func (f *fakeEventStore) AddPortfolio(_ context.Context, o Owners) error {
	f.added = append(f.added, o)
	return nil
}

func (f *fakeEventStore) ApplyOwners(_ context.Context, o Owners) error {
	f.owners = append(f.owners, o)
	return nil
}

func (f *fakeEventStore) RecordProfit(_ context.Context, in NewProfit) (Allocation, error) {
	f.one = append(f.one, in)
	return NewAllocation(in), nil
}

func (f *fakeEventStore) RecordNAVProfits(_ context.Context, ins []NewProfit) error {
	f.runs = append(f.runs, ins)
	return nil
}

func TestConsumer(t *testing.T) {
	ctx := context.Background()
	c := NewConsumer()
	st := &fakeEventStore{}
	snap := int64(9)
	nav := NewProfit{PortfolioID: 1, Source: SourceNAV, SnapshotID: &snap, SourceEventID: "e", PeriodEnd: day(1), Amount: dec("5"), UserID: 7, TeamID: 3}
	if err := c.AddPortfolio(ctx, st, Owners{PortfolioID: 1, UserID: 7, TeamID: 3}); err != nil || len(st.added) != 1 || len(st.owners) != 0 {
		t.Fatalf("added: %v, %+v %+v", err, st.added, st.owners)
	}
	if err := c.ApplyOwners(ctx, st, Owners{PortfolioID: 1, UserID: 7, TeamID: 3}); err != nil || len(st.owners) != 1 || len(st.added) != 1 {
		t.Fatalf("owners: %v, %+v %+v", err, st.added, st.owners)
	}
	if _, err := c.RecordNAVProfit(ctx, st, nav); err != nil || len(st.one) != 1 {
		t.Fatalf("one profit: %v, %+v", err, st.one)
	}
	if err := c.RecordNAVProfits(ctx, st, nil); err != nil || len(st.runs) != 0 {
		t.Fatalf("an empty run reaches the store: %v, %+v", err, st.runs)
	}
	if err := c.RecordNAVProfits(ctx, st, []NewProfit{nav, nav}); err != nil || len(st.runs) != 1 || len(st.runs[0]) != 2 {
		t.Fatalf("a run: %v, %+v", err, st.runs)
	}
	incomplete := nav
	incomplete.UserID = 0
	if _, err := c.RecordNAVProfit(ctx, st, incomplete); !errors.Is(err, ErrIncompleteNAVProfit) || len(st.one) != 1 {
		t.Fatalf("an incomplete NAV profit: %v (store called %d times)", err, len(st.one))
	}
	if err := c.RecordNAVProfits(ctx, st, []NewProfit{nav, incomplete}); !errors.Is(err, ErrIncompleteNAVProfit) || len(st.runs) != 1 {
		t.Fatalf("a run with an incomplete NAV profit: %v (store called %d times)", err, len(st.runs))
	}
}

// A NAV correction that does not say what it corrects is refused before
// the store sees it.
func TestConsumerNAVCorrection(t *testing.T) {
	ctx := context.Background()
	st := &fakeEventStore{}
	good := NAVCorrection{CorrectionID: 1, PortfolioID: 2, SnapshotID: 3, SourceEventID: "e", UserID: 4, TeamID: 5}
	if err := NewConsumer().ApplyNAVCorrection(ctx, st, good); err != nil || len(st.fixes) != 1 {
		t.Fatalf("%v %+v", err, st.fixes)
	}
	bad := good
	bad.SnapshotID = 0
	if err := NewConsumer().ApplyNAVCorrection(ctx, st, bad); !errors.Is(err, ErrIncompleteNAVProfit) || len(st.fixes) != 1 {
		t.Fatalf("%v %+v", err, st.fixes)
	}
}
