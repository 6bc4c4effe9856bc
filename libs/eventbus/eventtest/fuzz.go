package eventtest

import (
	"slices"
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox/inboxfuzz"
	"github.com/fundplatform/platform/libs/money"
)

// Data are valid data objects of every event type, as their producers
// emit them: the samples of libs/eventbus's schema tests and the seeds of
// the consumers' fuzz targets.
var Data = map[string]string{
	eventbus.TypePortfolioCreated: `{"portfolio_id":42,"name":"Growth","user_id":7,"team_id":3,"currency":"USD"}`,
	eventbus.TypePortfolioUpdated: `{"portfolio_id":42,"name":"Growth II","user_id":8,"team_id":3,"currency":"EUR"}`,
	eventbus.TypePortfolioProfitRecorded: `{"portfolio_id":42,"snapshot_id":9,"user_id":7,"team_id":3,"as_of":"2026-03-01T12:00:00Z","period_end":"2026-03-01T12:00:00Z",` +
		`"profit":"-150.25000000","nav":"1000.00000000","prev_nav":"1100.25000000","net_flow":"50.00000000"}`,
	eventbus.TypePortfolioNAVCorrected: `{"correction_id":2,"portfolio_id":42,"snapshot_id":9,"user_id":7,"team_id":3,"as_of":"2026-03-01T12:00:00Z",` +
		`"period_end":"2026-03-01T12:00:00Z","old_profit":"100.00000000","profit":"-150.25000000","nav":"1000.00000000",` +
		`"prev_nav":"1100.25000000","net_flow":"50.00000000","currency":"USD"}`,
	eventbus.TypeProfitAllocationReversed: `{"reversal_id":1,"allocation_id":11,"correction_id":2,"portfolio_id":42,"source":"nav",` +
		`"status":"allocated","snapshot_id":9,"period_end":"2026-03-01T12:00:00Z","profit_amount":"100.00000000",` +
		`"loss_carryforward_before":"5.00000000",` +
		`"distributable":"100.00000000","to_team_amount":"20.00000000","to_platform_amount":"10.00000000",` +
		`"to_user_amount":"70.00000000","user_id":7,"team_id":3,"currency":"EUR"}`,
	eventbus.TypeProfitRatioChanged: `{"portfolio_id":42,"ratio_id":5,"version":2,"to_team":"0.2000","to_platform":"0.1000","to_user":"0.7000"}`,
	eventbus.TypeProfitAllocated: `{"allocation_id":11,"portfolio_id":42,"source":"manual","snapshot_id":null,"period_end":"2026-03-01T12:00:00Z",` +
		`"profit_amount":"100.00000000","distributable":"100.00000000","to_team_amount":"20.00000000",` +
		`"to_platform_amount":"10.00000000","to_user_amount":"70.00000000","user_id":7,"team_id":3,"ratio_id":5,"ratio_version":2}`,
	eventbus.TypeProfitOutcomeRecorded: `{"allocation_id":12,"portfolio_id":42,"source":"manual","status":"no_distribution",` +
		`"period_end":"2026-03-02T12:00:00Z","profit_amount":"-40.00000000","loss_carryforward_before":"10.00000000",` +
		`"loss_carryforward_after":"50.00000000","user_id":7,"team_id":3,"currency":"EUR"}`,
	eventbus.TypeWithdrawalRequested: `{"withdrawal_id":1,"from_type":"user","owner_id":7,"account":"user:7","amount":"12.50000000","status":"pending","reason":null}`,
	eventbus.TypeWithdrawalCompleted: `{"withdrawal_id":1,"from_type":"team","owner_id":3,"account":"team:3","amount":"12.50000000","status":"completed","reason":null}`,
	eventbus.TypeWithdrawalFailed:    `{"withdrawal_id":1,"from_type":"platform","owner_id":0,"account":"platform","amount":"12.50000000","status":"failed","reason":"cancelled"}`,
	eventbus.TypeFundsReallocated:    `{"reallocation_id":4,"from_account":"platform","to_account":"team:3","amount":"0.00000001","reason":"bonus"}`,
	eventbus.TypeLedgerCheckpoint: `{"key_id":"kid-1","taken_at":"2026-03-01T12:00:00Z","max_entry_id":12,"accounts":[{"account":"user:7:JPY","currency":"JPY",` +
		`"last_entry_id":12,"hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}],"signature":"c2ln"}`,
}

// checks are what a decoded data object of each type guarantees: the
// rules of its schema that a consumer relies on.
var checks = map[string]func(t *testing.T, v any){
	eventbus.TypePortfolioCreated:         checkPortfolio,
	eventbus.TypePortfolioUpdated:         checkPortfolio,
	eventbus.TypePortfolioProfitRecorded:  checkProfitRecorded,
	eventbus.TypeProfitAllocated:          checkAllocated,
	eventbus.TypePortfolioNAVCorrected:    checkNAVCorrected,
	eventbus.TypeProfitAllocationReversed: checkReversed,
	eventbus.TypeProfitOutcomeRecorded:    checkOutcomeRecorded,
	eventbus.TypeWithdrawalRequested:      checkWithdrawal,
	eventbus.TypeWithdrawalCompleted:      checkWithdrawal,
	eventbus.TypeWithdrawalFailed:         checkWithdrawal,
	eventbus.TypeFundsReallocated:         checkReallocated,
}

// FuzzEvents is the inboxfuzz table of the given event types, those a
// consumer decodes: each with its Data, its data type (eventbus.NewData)
// and its checks. It panics for a type it has no checks for.
func FuzzEvents(types ...string) []inboxfuzz.Event {
	events := make([]inboxfuzz.Event, 0, len(types))
	for _, typ := range types {
		check, ok := checks[typ]
		if !ok {
			panic("eventtest: no fuzz checks for " + typ)
		}
		events = append(events, inboxfuzz.Event{Type: typ, Data: Data[typ],
			Into: func() any { return eventbus.NewData(typ) }, Check: check})
	}
	return events
}

func checkPortfolio(t *testing.T, v any) {
	d := v.(*eventbus.PortfolioData)
	inboxfuzz.Positive(t, map[string]int64{"portfolio_id": d.PortfolioID, "user_id": d.UserID, "team_id": d.TeamID})
	if d.Name == "" || len(d.Currency) != 3 {
		t.Fatalf("portfolio %+v", d)
	}
}

func checkProfitRecorded(t *testing.T, v any) {
	d := v.(*eventbus.ProfitRecordedData)
	inboxfuzz.Positive(t, map[string]int64{"portfolio_id": d.PortfolioID, "snapshot_id": d.SnapshotID, "user_id": d.UserID, "team_id": d.TeamID})
	inboxfuzz.UTC(t, "as_of", d.AsOf)
	inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
	inboxfuzz.Amounts(t, inboxfuzz.AnySign, map[string]money.Amount{"profit": d.Profit, "net_flow": d.NetFlow})
	inboxfuzz.Amounts(t, inboxfuzz.NotNegative, map[string]money.Amount{"nav": d.NAV, "prev_nav": d.PrevNAV})
}

func checkAllocated(t *testing.T, v any) {
	d := v.(*eventbus.AllocatedData)
	inboxfuzz.Positive(t, map[string]int64{"allocation_id": d.AllocationID, "portfolio_id": d.PortfolioID, "user_id": d.UserID,
		"team_id": d.TeamID, "ratio_id": d.RatioID, "ratio_version": int64(d.RatioVersion)})
	if d.SnapshotID != nil {
		inboxfuzz.Positive(t, map[string]int64{"snapshot_id": *d.SnapshotID})
	}
	if d.Source != "nav" && d.Source != "manual" && d.Source != "correction" {
		t.Fatalf("source %q", d.Source)
	}
	inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
	inboxfuzz.Amounts(t, inboxfuzz.AnySign, map[string]money.Amount{"profit_amount": d.ProfitAmount})
	inboxfuzz.Amounts(t, inboxfuzz.NotNegative, map[string]money.Amount{"distributable": d.Distributable,
		"to_team_amount": d.ToTeamAmount, "to_platform_amount": d.ToPlatformAmount, "to_user_amount": d.ToUserAmount})
}

func checkNAVCorrected(t *testing.T, v any) {
	d := v.(*eventbus.NAVCorrectedData)
	inboxfuzz.Positive(t, map[string]int64{"correction_id": d.CorrectionID, "portfolio_id": d.PortfolioID,
		"snapshot_id": d.SnapshotID, "user_id": d.UserID, "team_id": d.TeamID})
	inboxfuzz.UTC(t, "as_of", d.AsOf)
	inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
	inboxfuzz.Amounts(t, inboxfuzz.AnySign, map[string]money.Amount{"old_profit": d.OldProfit, "profit": d.Profit, "net_flow": d.NetFlow})
	inboxfuzz.Amounts(t, inboxfuzz.NotNegative, map[string]money.Amount{"nav": d.NAV, "prev_nav": d.PrevNAV})
}

func checkReversed(t *testing.T, v any) {
	d := v.(*eventbus.AllocationReversedData)
	inboxfuzz.Positive(t, map[string]int64{"reversal_id": d.ReversalID, "allocation_id": d.AllocationID,
		"correction_id": d.CorrectionID, "portfolio_id": d.PortfolioID, "user_id": d.UserID, "team_id": d.TeamID})
	if d.SnapshotID != nil {
		inboxfuzz.Positive(t, map[string]int64{"snapshot_id": *d.SnapshotID})
	}
	inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
	inboxfuzz.Amounts(t, inboxfuzz.AnySign, map[string]money.Amount{"profit_amount": d.ProfitAmount})
	inboxfuzz.Amounts(t, inboxfuzz.NotNegative, map[string]money.Amount{"distributable": d.Distributable,
		"to_team_amount": d.ToTeamAmount, "to_platform_amount": d.ToPlatformAmount, "to_user_amount": d.ToUserAmount,
		"loss_carryforward_before": d.CarryBefore})
}

func checkOutcomeRecorded(t *testing.T, v any) {
	d := v.(*eventbus.OutcomeRecordedData)
	inboxfuzz.Positive(t, map[string]int64{"allocation_id": d.AllocationID, "portfolio_id": d.PortfolioID, "user_id": d.UserID,
		"team_id": d.TeamID})
	if (d.Source != "manual" && d.Source != "correction") || d.Status != "no_distribution" {
		t.Fatalf("outcome %+v", d)
	}
	inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
	inboxfuzz.Amounts(t, inboxfuzz.AnySign, map[string]money.Amount{"profit_amount": d.ProfitAmount})
	inboxfuzz.Amounts(t, inboxfuzz.NotNegative, map[string]money.Amount{"loss_carryforward_before": d.LossCarryforwardBefore,
		"loss_carryforward_after": d.LossCarryforwardAfter})
}

func checkWithdrawal(t *testing.T, v any) {
	d := v.(*eventbus.WithdrawalData)
	inboxfuzz.Positive(t, map[string]int64{"withdrawal_id": d.WithdrawalID})
	inboxfuzz.Amounts(t, inboxfuzz.PositiveAmount, map[string]money.Amount{"amount": d.Amount})
	if !slices.Contains([]string{"user", "team", "platform"}, d.FromType) || d.OwnerID < 0 || d.Account == "" {
		t.Fatalf("withdrawal %+v", d)
	}
}

func checkReallocated(t *testing.T, v any) {
	d := v.(*eventbus.ReallocatedData)
	inboxfuzz.Positive(t, map[string]int64{"reallocation_id": d.ReallocationID})
	inboxfuzz.Amounts(t, inboxfuzz.PositiveAmount, map[string]money.Amount{"amount": d.Amount})
	if d.FromAccount == "" || d.ToAccount == "" || d.Reason == "" {
		t.Fatalf("reallocation %+v", d)
	}
}
