package profit

import "context"

// Owners are what portfolio.created and portfolio.updated say about a
// portfolio's owners: the beneficiaries of its profits recorded from then
// on; and its currency, which never changes.
type Owners struct {
	PortfolioID, UserID, TeamID int64
	Currency                    string
}

// EventStore is the persistence the consumer needs, bound to the
// transaction the inbox applies an event (or a run of events) in, the one
// that also records the events' ids and offsets; the pgx adapter's
// Store.InTx implements it. RecordProfit and RecordNAVProfits lock the
// portfolios, fold the profits with Fold and write the outcome, as the
// Store's RecordManualProfit does for a manual profit.
type EventStore interface {
	// AddPortfolio records a portfolio the read model does not have yet;
	// one it has is left alone. The row can only be as new as the
	// portfolio's creation or newer (written by a lookup of the portfolio
	// service, Portfolios, or by a NAV profit carrying its owners), so the
	// creation's owners must not replace it.
	AddPortfolio(ctx context.Context, o Owners) error
	// ApplyOwners records a portfolio's owners in the read model; its
	// allocation state is left alone.
	ApplyOwners(ctx context.Context, o Owners) error
	// RecordProfit records and allocates one profit (once: a profit already
	// recorded is returned unchanged).
	RecordProfit(ctx context.Context, in NewProfit) (Allocation, error)
	// RecordNAVProfits records and allocates a run of NAV profits, in
	// order, with the effect of RecordProfit on each.
	RecordNAVProfits(ctx context.Context, ins []NewProfit) error
	// ApplyNAVCorrection reverses and replaces the allocations a NAV
	// correction changes (Correct), once.
	ApplyNAVCorrection(ctx context.Context, c NAVCorrection) error
}

// Consumer is what the service does with the events it consumes from
// portfolio.events (docs/api.md#allocation-rule, "Events consumed"): the
// event side of the service, as Service is the API side. Each call runs in
// the transaction st is bound to.
type Consumer interface {
	// AddPortfolio applies portfolio.created.
	AddPortfolio(ctx context.Context, st EventStore, o Owners) error
	// ApplyOwners applies portfolio.updated.
	ApplyOwners(ctx context.Context, st EventStore, o Owners) error
	// RecordNAVProfit applies one portfolio.profit_recorded.
	RecordNAVProfit(ctx context.Context, st EventStore, in NewProfit) (Allocation, error)
	// RecordNAVProfits applies a run of portfolio.profit_recorded, in
	// order, as RecordNAVProfit applies each.
	RecordNAVProfits(ctx context.Context, st EventStore, ins []NewProfit) error
	// ApplyNAVCorrection applies one portfolio.nav_corrected.
	ApplyNAVCorrection(ctx context.Context, st EventStore, c NAVCorrection) error
}

type consumer struct{}

// NewConsumer returns the event side of the service.
func NewConsumer() Consumer { return consumer{} }

func (consumer) AddPortfolio(ctx context.Context, st EventStore, o Owners) error {
	return st.AddPortfolio(ctx, o)
}

func (consumer) ApplyOwners(ctx context.Context, st EventStore, o Owners) error {
	return st.ApplyOwners(ctx, o)
}

// RecordNAVProfit records a NAV profit: one that says where it comes from
// (its snapshot and event) and whom it belongs to (CheckNAV). A NAV profit
// is never refused for its period (Admit).
func (consumer) RecordNAVProfit(ctx context.Context, st EventStore, in NewProfit) (Allocation, error) {
	if err := CheckNAV(in); err != nil {
		return Allocation{}, err
	}
	return st.RecordProfit(ctx, in)
}

func (consumer) RecordNAVProfits(ctx context.Context, st EventStore, ins []NewProfit) error {
	if len(ins) == 0 {
		return nil
	}
	for _, in := range ins {
		if err := CheckNAV(in); err != nil {
			return err
		}
	}
	return st.RecordNAVProfits(ctx, ins)
}

// ApplyNAVCorrection applies a NAV correction (docs/api.md#nav-corrections):
// like a NAV profit, a fact already recorded by the portfolio service,
// never refused.
func (consumer) ApplyNAVCorrection(ctx context.Context, st EventStore, c NAVCorrection) error {
	if c.CorrectionID <= 0 || c.SnapshotID <= 0 || c.SourceEventID == "" || c.UserID <= 0 || c.TeamID <= 0 {
		return ErrIncompleteNAVProfit
	}
	return st.ApplyNAVCorrection(ctx, c)
}
