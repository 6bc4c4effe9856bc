package ledger

// Step is what a withdrawal's change of status does: the transfer it posts
// and the event it publishes.
type Step struct {
	Transfer  Transfer
	EventType string
}

// Next is the withdrawal state machine (docs/api.md#withdrawal-service): a
// pending withdrawal is completed (withdrawal_payout, withdrawal.completed)
// or failed, which its owner's cancel also is (withdrawal_release,
// withdrawal.failed); completed and failed are final. Any other change is
// ErrInvalidStateTransition.
func Next(w Withdrawal, to string) (Step, error) {
	if w.Status != StatusPending {
		return Step{}, ErrInvalidStateTransition
	}
	switch to {
	case StatusCompleted:
		return Step{Transfer: PayoutTransfer(w), EventType: EventWithdrawalCompleted}, nil
	case StatusFailed:
		return Step{Transfer: ReleaseTransfer(w), EventType: EventWithdrawalFailed}, nil
	}
	return Step{}, ErrInvalidStateTransition
}
