package events

import (
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/inbox/inboxfuzz"
)

// fuzzEvents are the types Handler decodes; the others it passes over
// (profit.ratio_changed it counts without reading its data).
var fuzzEvents = eventtest.FuzzEvents(eventbus.TypePortfolioCreated, eventbus.TypePortfolioUpdated,
	eventbus.TypePortfolioProfitRecorded, eventbus.TypeProfitAllocated, eventbus.TypeProfitOutcomeRecorded, eventbus.TypeWithdrawalRequested,
	eventbus.TypeWithdrawalCompleted, eventbus.TypeWithdrawalFailed, eventbus.TypeFundsReallocated, eventbus.TypeProfitAllocationReversed)

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
