package events

import (
	"slices"
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/inbox/inboxfuzz"
)

const fuzzPortfolioData = `{"portfolio_id":42,"name":"Growth","user_id":7,"team_id":3,"currency":"USD"}`

func fuzzPortfolio(t *testing.T, v any) {
	d := v.(*portfolioData)
	inboxfuzz.Positive(t, map[string]int64{"portfolio_id": d.PortfolioID, "user_id": d.UserID, "team_id": d.TeamID})
	if d.Name == "" || len(d.Currency) != 3 {
		t.Fatalf("portfolio %+v", d)
	}
}

// fuzzEvents are the types Handler decodes; the others it passes over
// (profit.ratio_changed it counts without reading its data).
var fuzzEvents = []inboxfuzz.Event{
	{Type: eventbus.TypePortfolioCreated, Data: fuzzPortfolioData, Into: func() any { return new(portfolioData) }, Check: fuzzPortfolio},
	{Type: eventbus.TypePortfolioUpdated, Data: fuzzPortfolioData, Into: func() any { return new(portfolioData) }, Check: fuzzPortfolio},
	{Type: eventbus.TypePortfolioProfitRecorded,
		Data: `{"portfolio_id":42,"snapshot_id":9,"user_id":7,"team_id":3,"as_of":"2026-03-01T12:00:00Z","period_end":"2026-03-01T12:00:00Z",` +
			`"profit":"-150.25000000","nav":"1000.00000000","prev_nav":"1100.25000000","net_flow":"50.00000000"}`,
		Into: func() any { return new(profitRecordedData) },
		Check: func(t *testing.T, v any) {
			d := v.(*profitRecordedData)
			inboxfuzz.Positive(t, map[string]int64{"portfolio_id": d.PortfolioID, "snapshot_id": d.SnapshotID, "user_id": d.UserID, "team_id": d.TeamID})
			inboxfuzz.UTC(t, "as_of", d.AsOf)
			inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
			inboxfuzz.Amount(t, "profit", d.Profit, inboxfuzz.AnySign)
			inboxfuzz.Amount(t, "nav", d.NAV, inboxfuzz.NotNegative)
			inboxfuzz.Amount(t, "prev_nav", d.PrevNAV, inboxfuzz.NotNegative)
			inboxfuzz.Amount(t, "net_flow", d.NetFlow, inboxfuzz.AnySign)
		}},
	{Type: eventbus.TypeProfitAllocated,
		Data: `{"allocation_id":11,"portfolio_id":42,"source":"manual","snapshot_id":null,"period_end":"2026-03-01T12:00:00Z",` +
			`"profit_amount":"100.00000000","distributable":"100.00000000","to_team_amount":"20.00000000",` +
			`"to_platform_amount":"10.00000000","to_user_amount":"70.00000000","user_id":7,"team_id":3,"ratio_id":5,"ratio_version":2}`,
		Into: func() any { return new(allocatedData) },
		Check: func(t *testing.T, v any) {
			d := v.(*allocatedData)
			fuzzAllocated(t, d.AllocationID, d.PortfolioID, d.UserID, d.TeamID, d.RatioID, int64(d.RatioVersion), d.SnapshotID, d.Source)
			inboxfuzz.UTC(t, "period_end", d.PeriodEnd)
			inboxfuzz.Amount(t, "profit_amount", d.ProfitAmount, inboxfuzz.AnySign)
			inboxfuzz.Amount(t, "distributable", d.Distributable, inboxfuzz.NotNegative)
			inboxfuzz.Amount(t, "to_team_amount", d.ToTeamAmount, inboxfuzz.NotNegative)
			inboxfuzz.Amount(t, "to_platform_amount", d.ToPlatformAmount, inboxfuzz.NotNegative)
			inboxfuzz.Amount(t, "to_user_amount", d.ToUserAmount, inboxfuzz.NotNegative)
		}},
	{Type: eventbus.TypeWithdrawalRequested, Data: `{"withdrawal_id":1,"from_type":"user","owner_id":7,"account":"user:7","amount":"12.50000000","status":"pending","reason":null}`,
		Into: func() any { return new(withdrawalData) }, Check: fuzzWithdrawal},
	{Type: eventbus.TypeWithdrawalCompleted, Data: `{"withdrawal_id":1,"from_type":"team","owner_id":3,"account":"team:3","amount":"12.50000000","status":"completed","reason":null}`,
		Into: func() any { return new(withdrawalData) }, Check: fuzzWithdrawal},
	{Type: eventbus.TypeWithdrawalFailed, Data: `{"withdrawal_id":1,"from_type":"platform","owner_id":0,"account":"platform","amount":"12.50000000","status":"failed","reason":"cancelled"}`,
		Into: func() any { return new(withdrawalData) }, Check: fuzzWithdrawal},
	{Type: eventbus.TypeFundsReallocated, Data: `{"reallocation_id":4,"from_account":"platform","to_account":"team:3","amount":"0.00000001","reason":"bonus"}`,
		Into: func() any { return new(reallocatedData) },
		Check: func(t *testing.T, v any) {
			d := v.(*reallocatedData)
			inboxfuzz.Positive(t, map[string]int64{"reallocation_id": d.ReallocationID})
			inboxfuzz.Amount(t, "amount", d.Amount, inboxfuzz.PositiveAmount)
			if d.FromAccount == "" || d.ToAccount == "" || d.Reason == "" {
				t.Fatalf("reallocation %+v", d)
			}
		}},
}

func fuzzWithdrawal(t *testing.T, v any) {
	d := v.(*withdrawalData)
	inboxfuzz.Positive(t, map[string]int64{"withdrawal_id": d.WithdrawalID})
	inboxfuzz.Amount(t, "amount", d.Amount, inboxfuzz.PositiveAmount)
	if !slices.Contains([]string{"user", "team", "platform"}, d.FromType) || d.OwnerID < 0 || d.Account == "" {
		t.Fatalf("withdrawal %+v", d)
	}
}

func fuzzAllocated(t *testing.T, allocationID, portfolioID, userID, teamID, ratioID, ratioVersion int64, snapshotID *int64, source string) {
	t.Helper()
	inboxfuzz.Positive(t, map[string]int64{"allocation_id": allocationID, "portfolio_id": portfolioID, "user_id": userID,
		"team_id": teamID, "ratio_id": ratioID, "ratio_version": ratioVersion})
	if snapshotID != nil {
		inboxfuzz.Positive(t, map[string]int64{"snapshot_id": *snapshotID})
	}
	if source != "nav" && source != "manual" {
		t.Fatalf("source %q", source)
	}
}

// FuzzDecode runs what Handler does with a message before it touches the
// database: the inbox's eventbus.Decode, then validate (the schema check)
// and decode for the types the service reads. A refused event is a
// permanent error (dead-lettered, the consumer goes on); what decodes
// keeps the schema's rules.
func FuzzDecode(f *testing.F) {
	inboxfuzz.AddSeeds(f, fuzzEvents)
	f.Fuzz(func(t *testing.T, value []byte) {
		env, err := eventbus.Decode(value)
		if err != nil || eventbus.TopicOf(env.Type) == "" {
			return
		}
		if err := validate(env); err != nil {
			inboxfuzz.Permanent(t, env.Type, err)
			return
		}
		ev, ok := inboxfuzz.Pick(fuzzEvents, env.Type)
		if !ok {
			return
		}
		d := ev.Into()
		if err := inbox.DecodeData(env, d); err != nil {
			// Refused although the schema accepts it (e.g. 42.0 for an
			// integer): dead-lettered at once, the consumer goes on.
			inboxfuzz.Permanent(t, env.Type, err)
			return
		}
		ev.Check(t, d)
	})
}
