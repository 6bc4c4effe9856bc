package events

import (
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/inbox/inboxfuzz"
)

// fuzzEvents are the types Handler decodes; the others it passes over.
var fuzzEvents = []inboxfuzz.Event{
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
// database (see inboxfuzz.Run) for the types the service consumes.
func FuzzDecode(f *testing.F) { inboxfuzz.Run(f, fuzzEvents, inbox.DecodeChecked) }
