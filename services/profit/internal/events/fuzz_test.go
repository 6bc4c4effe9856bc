package events

import (
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

// fuzzEvents are the types Handler decodes; the others it passes over.
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
}

// FuzzDecode runs what Handler does with a message before it touches the
// database (see inboxfuzz.Run) for the types the service consumes.
func FuzzDecode(f *testing.F) { inboxfuzz.Run(f, fuzzEvents, inbox.DecodeChecked) }
