package ledger

import "github.com/fundplatform/platform/libs/money"

// Event types this service publishes on withdrawal.events
// (docs/api.md#events); their JSON Schemas are in libs/eventbus/schemas.
const (
	EventWithdrawalRequested = "withdrawal.requested"
	EventWithdrawalCompleted = "withdrawal.completed"
	EventWithdrawalFailed    = "withdrawal.failed"
	EventFundsReallocated    = "funds.reallocated"
)

// WithdrawalData is the data of withdrawal.requested, .completed and
// .failed: the withdrawal as it now is.
type WithdrawalData struct {
	WithdrawalID int64        `json:"withdrawal_id"`
	FromType     string       `json:"from_type"`
	OwnerID      int64        `json:"owner_id"`
	Account      string       `json:"account"`
	Amount       money.Amount `json:"amount"`
	Status       string       `json:"status"`
	Reason       *string      `json:"reason"`
}

// ReallocatedData is the data of funds.reallocated.
type ReallocatedData struct {
	ReallocationID int64        `json:"reallocation_id"`
	FromAccount    string       `json:"from_account"`
	ToAccount      string       `json:"to_account"`
	Amount         money.Amount `json:"amount"`
	Reason         string       `json:"reason"`
}

// WithdrawalEventData is the data of w's event.
func WithdrawalEventData(w Withdrawal) WithdrawalData {
	return WithdrawalData{
		WithdrawalID: w.ID, FromType: w.Owner.Type, OwnerID: w.Owner.ID, Account: w.Owner.Account(),
		Amount: money.NewAmount(w.Amount), Status: w.Status, Reason: w.Reason,
	}
}

// ReallocatedEventData is the data of r's funds.reallocated.
func ReallocatedEventData(r Reallocation) ReallocatedData {
	return ReallocatedData{
		ReallocationID: r.ID, FromAccount: r.From.Account(), ToAccount: r.To.Account(),
		Amount: money.NewAmount(r.Amount), Reason: r.Reason,
	}
}
