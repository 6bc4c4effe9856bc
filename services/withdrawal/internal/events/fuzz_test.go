package events

import (
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/eventbus/eventtest"
	"github.com/fundplatform/platform/libs/inbox"
	"github.com/fundplatform/platform/libs/inbox/inboxfuzz"
)

// fuzzEvents are the types Handler decodes; the others it passes over.
var fuzzEvents = eventtest.FuzzEvents(eventbus.TypeProfitAllocated, eventbus.TypeProfitAllocationReversed)

// FuzzDecode runs what Handler does with a message before it touches the
// database (see inboxfuzz.Run) for the types the service consumes.
func FuzzDecode(f *testing.F) { inboxfuzz.Run(f, fuzzEvents, inbox.DecodeChecked) }
