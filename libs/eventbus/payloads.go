package eventbus

import (
	"time"

	"github.com/fundplatform/platform/libs/money"
)

// The data object of every event type (docs/api.md#events), declared once
// for the producer that builds it and every consumer that decodes it. Each
// matches the data of its type's JSON Schema in schemas/ field for field
// (TestPayloadsMatchSchemas): a field added to an event is added here and
// in its schema, and nowhere else. Money is money.Amount (a string with
// exactly 8 fractional digits), shares money.Ratio; a pointer is a field
// the schema allows to be null. Currency is the ISO 4217 code of every
// amount of its event; an event published before currencies existed has
// none ("" here), which consumers read as the base currency
// (eventbus.BaseCurrency), and so does an event in the base currency
// (EventCurrency).

// PortfolioData is the data of portfolio.created and portfolio.updated:
// the portfolio as it now is.
type PortfolioData struct {
	PortfolioID int64  `json:"portfolio_id"`
	Name        string `json:"name"`
	UserID      int64  `json:"user_id"`
	TeamID      int64  `json:"team_id"`
	Currency    string `json:"currency"`
}

// ProfitRecordedData is the data of portfolio.profit_recorded: a
// snapshot's non-zero profit and the owners it belongs to (those at as_of).
type ProfitRecordedData struct {
	PortfolioID int64        `json:"portfolio_id"`
	SnapshotID  int64        `json:"snapshot_id"`
	UserID      int64        `json:"user_id"`
	TeamID      int64        `json:"team_id"`
	AsOf        time.Time    `json:"as_of"`
	PeriodEnd   time.Time    `json:"period_end"`
	Profit      money.Amount `json:"profit"`
	NAV         money.Amount `json:"nav"`
	PrevNAV     money.Amount `json:"prev_nav"`
	NetFlow     money.Amount `json:"net_flow"`
	Currency    string       `json:"currency,omitempty"`
}

// NAVCorrectedData is the data of portfolio.nav_corrected: an admin
// replaced the values of a portfolio's latest snapshot (correction
// CorrectionID); OldProfit is the profit the snapshot recorded before,
// Profit the one it records now (nav − prev_nav − net_flow). The owners are
// the snapshot's, those its profit belongs to.
type NAVCorrectedData struct {
	CorrectionID int64        `json:"correction_id"`
	PortfolioID  int64        `json:"portfolio_id"`
	SnapshotID   int64        `json:"snapshot_id"`
	UserID       int64        `json:"user_id"`
	TeamID       int64        `json:"team_id"`
	AsOf         time.Time    `json:"as_of"`
	PeriodEnd    time.Time    `json:"period_end"`
	OldProfit    money.Amount `json:"old_profit"`
	Profit       money.Amount `json:"profit"`
	NAV          money.Amount `json:"nav"`
	PrevNAV      money.Amount `json:"prev_nav"`
	NetFlow      money.Amount `json:"net_flow"`
	Currency     string       `json:"currency,omitempty"`
}

// AllocationReversedData is the data of profit.allocation_reversed: the
// allocation AllocationID is reversed by reversal ReversalID because of
// the portfolio's NAV correction CorrectionID. The amounts are those the
// allocation credited (>= 0), now taken back: its consumers undo exactly
// what they did with its profit.allocated (or, for stats, its profit).
type AllocationReversedData struct {
	ReversalID       int64        `json:"reversal_id"`
	AllocationID     int64        `json:"allocation_id"`
	AllocationKey    string       `json:"allocation_key,omitempty"`
	CorrectionID     int64        `json:"correction_id"`
	PortfolioID      int64        `json:"portfolio_id"`
	Source           string       `json:"source"`
	Status           string       `json:"status"`
	SnapshotID       *int64       `json:"snapshot_id"`
	PeriodEnd        time.Time    `json:"period_end"`
	ProfitAmount     money.Amount `json:"profit_amount"`
	CarryBefore      money.Amount `json:"loss_carryforward_before"`
	Distributable    money.Amount `json:"distributable"`
	ToTeamAmount     money.Amount `json:"to_team_amount"`
	ToPlatformAmount money.Amount `json:"to_platform_amount"`
	ToUserAmount     money.Amount `json:"to_user_amount"`
	UserID           int64        `json:"user_id"`
	TeamID           int64        `json:"team_id"`
	Currency         string       `json:"currency,omitempty"`
}

// RatioChangedData is the data of profit.ratio_changed: the new version
// of a portfolio's allocation ratio.
type RatioChangedData struct {
	PortfolioID int64       `json:"portfolio_id"`
	RatioID     int64       `json:"ratio_id"`
	Version     int         `json:"version"`
	ToTeam      money.Ratio `json:"to_team"`
	ToPlatform  money.Ratio `json:"to_platform"`
	ToUser      money.Ratio `json:"to_user"`
}

// AllocatedData is the data of profit.allocated. SnapshotID is null for a
// manual profit (Source "manual"), the NAV snapshot's id otherwise.
// AllocationKey is the identity of a manual profit's allocation
// (ManualAllocationKey); a NAV profit's event omits it and consumers derive
// it (Key). Consumers dedupe on the identity beside the allocation id, so
// a profit recorded again after the profit database is restored (a new
// allocation id) is applied once (docs/decisions.md).
type AllocatedData struct {
	AllocationID     int64        `json:"allocation_id"`
	AllocationKey    string       `json:"allocation_key,omitempty"`
	PortfolioID      int64        `json:"portfolio_id"`
	Source           string       `json:"source"`
	SnapshotID       *int64       `json:"snapshot_id"`
	PeriodEnd        time.Time    `json:"period_end"`
	ProfitAmount     money.Amount `json:"profit_amount"`
	Distributable    money.Amount `json:"distributable"`
	ToTeamAmount     money.Amount `json:"to_team_amount"`
	ToPlatformAmount money.Amount `json:"to_platform_amount"`
	ToUserAmount     money.Amount `json:"to_user_amount"`
	UserID           int64        `json:"user_id"`
	TeamID           int64        `json:"team_id"`
	RatioID          int64        `json:"ratio_id"`
	RatioVersion     int          `json:"ratio_version"`
	Currency         string       `json:"currency,omitempty"`
}

// OutcomeRecordedData is the data of profit.outcome_recorded: a manual
// profit or loss that distributed nothing (Status "no_distribution"), with
// the portfolio's loss carry-forward before and after it. Source is always
// "manual" (a NAV profit reaches stats through portfolio.profit_recorded,
// and has no snapshot here); an allocated profit publishes
// profit.allocated instead (docs/decisions.md).
type OutcomeRecordedData struct {
	AllocationID           int64        `json:"allocation_id"`
	AllocationKey          string       `json:"allocation_key,omitempty"`
	PortfolioID            int64        `json:"portfolio_id"`
	Source                 string       `json:"source"`
	Status                 string       `json:"status"`
	PeriodEnd              time.Time    `json:"period_end"`
	ProfitAmount           money.Amount `json:"profit_amount"`
	LossCarryforwardBefore money.Amount `json:"loss_carryforward_before"`
	LossCarryforwardAfter  money.Amount `json:"loss_carryforward_after"`
	UserID                 int64        `json:"user_id"`
	TeamID                 int64        `json:"team_id"`
	Currency               string       `json:"currency,omitempty"`
}

// WithdrawalData is the data of withdrawal.requested, .completed and
// .failed: the withdrawal as it now is. Reason is null unless it failed.
type WithdrawalData struct {
	WithdrawalID int64        `json:"withdrawal_id"`
	FromType     string       `json:"from_type"`
	OwnerID      int64        `json:"owner_id"`
	Account      string       `json:"account"`
	Amount       money.Amount `json:"amount"`
	Status       string       `json:"status"`
	Reason       *string      `json:"reason"`
	Currency     string       `json:"currency,omitempty"`
}

// ReallocatedData is the data of funds.reallocated.
type ReallocatedData struct {
	ReallocationID int64        `json:"reallocation_id"`
	FromAccount    string       `json:"from_account"`
	ToAccount      string       `json:"to_account"`
	Amount         money.Amount `json:"amount"`
	Reason         string       `json:"reason"`
	Currency       string       `json:"currency,omitempty"`
}

// CheckpointData is the data of ledger.checkpoint: the withdrawal
// ledger's chain heads at TakenAt, the last entry of each account (its id
// and hash, hex), signed with Ed25519 by the key whose id (the RFC 7638
// thumbprint of its public key, as the auth service's kid) is KeyID.
// Signature (base64) is over this object's JSON with Signature empty.
type CheckpointData struct {
	KeyID      string           `json:"key_id"`
	TakenAt    time.Time        `json:"taken_at"`
	MaxEntryID int64            `json:"max_entry_id"`
	Accounts   []CheckpointHead `json:"accounts"`
	Signature  string           `json:"signature"`
}

// CheckpointHead is one account's chain head in a CheckpointData.
type CheckpointHead struct {
	Account     string `json:"account"`
	Currency    string `json:"currency"`
	LastEntryID int64  `json:"last_entry_id"`
	Hash        string `json:"hash"`
}

// NewData is a pointer to a new zero data object of eventType, the type
// its consumers decode into; nil for an unknown type.
func NewData(eventType string) any {
	switch eventType {
	case TypePortfolioCreated, TypePortfolioUpdated:
		return new(PortfolioData)
	case TypePortfolioProfitRecorded:
		return new(ProfitRecordedData)
	case TypePortfolioNAVCorrected:
		return new(NAVCorrectedData)
	case TypeProfitAllocationReversed:
		return new(AllocationReversedData)
	case TypeProfitRatioChanged:
		return new(RatioChangedData)
	case TypeProfitAllocated:
		return new(AllocatedData)
	case TypeProfitOutcomeRecorded:
		return new(OutcomeRecordedData)
	case TypeWithdrawalRequested, TypeWithdrawalCompleted, TypeWithdrawalFailed:
		return new(WithdrawalData)
	case TypeFundsReallocated:
		return new(ReallocatedData)
	case TypeLedgerCheckpoint:
		return new(CheckpointData)
	}
	return nil
}

// BaseCurrency is the currency of an event published before events carried
// one: the portfolio service's default currency, the only one the platform
// booked in before currencies were kept apart (docs/decisions.md).
const BaseCurrency = "USD"

// EventCurrency is currency as the events of money movements carry it:
// none (the field is omitted) for the base currency, which every consumer
// reads a missing currency as (CurrencyOf), and currency itself otherwise.
// A consumer of the previous release, whose schemas refuse data fields
// they do not list, so still accepts the base currency's events during a
// rolling upgrade (and dead-letters another currency's rather than book
// it in the base currency's accounts); docs/decisions.md.
func EventCurrency(currency string) string {
	if currency == BaseCurrency {
		return ""
	}
	return currency
}

// CurrencyOf is currency, or BaseCurrency for an event without one.
func CurrencyOf(currency string) string {
	if currency == "" {
		return BaseCurrency
	}
	return currency
}
