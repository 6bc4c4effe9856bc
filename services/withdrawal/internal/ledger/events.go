package ledger

import (
	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/money"
)

// Event types this service publishes on withdrawal.events
// (docs/api.md#events); their JSON Schemas, and the Go types of their data,
// are in libs/eventbus.
const (
	EventWithdrawalRequested = eventbus.TypeWithdrawalRequested
	EventWithdrawalCompleted = eventbus.TypeWithdrawalCompleted
	EventWithdrawalFailed    = eventbus.TypeWithdrawalFailed
	EventFundsReallocated    = eventbus.TypeFundsReallocated
)

// WithdrawalEventData is the data of w's event (withdrawal.requested,
// .completed or .failed): the withdrawal as it now is. Its account is the
// owner's name (Owner.Account), its currency beside it (none for the base
// currency: eventbus.EventCurrency).
func WithdrawalEventData(w Withdrawal) eventbus.WithdrawalData {
	return eventbus.WithdrawalData{
		WithdrawalID: w.ID, FromType: w.Owner.Type, OwnerID: w.Owner.ID, Account: w.Owner.Account(),
		Amount: money.NewAmount(w.Amount), Status: w.Status, Reason: w.Reason, Currency: eventbus.EventCurrency(w.Currency),
	}
}

// ReallocatedEventData is the data of r's funds.reallocated.
func ReallocatedEventData(r Reallocation) eventbus.ReallocatedData {
	return eventbus.ReallocatedData{
		ReallocationID: r.ID, FromAccount: r.From.Account(), ToAccount: r.To.Account(),
		Amount: money.NewAmount(r.Amount), Reason: r.Reason, Currency: eventbus.EventCurrency(r.Currency),
	}
}
