package inbox_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fundplatform/platform/libs/eventbus"
	"github.com/fundplatform/platform/libs/inbox"
)

func TestDecodeData(t *testing.T) {
	type data struct {
		PortfolioID int64 `json:"portfolio_id"`
	}
	env := func(raw string) eventbus.Envelope {
		return eventbus.Envelope{Type: eventbus.TypePortfolioCreated, Data: json.RawMessage(raw)}
	}
	var d data
	if err := inbox.DecodeData(env(`{"portfolio_id": 4}`), &d); err != nil || d.PortfolioID != 4 {
		t.Fatalf("DecodeData = %v, %+v", err, d)
	}
	for _, raw := range []string{`{"portfolio_id": 4, "extra": 1}`, `{"portfolio_id": "4"}`, `{"portfolio_id": 4.5}`, `[`, ``} {
		err := inbox.DecodeData(env(raw), &d)
		if err == nil || !inbox.IsPermanent(err) {
			t.Errorf("DecodeData(%s) = %v, want a permanent error", raw, err)
			continue
		}
		if raw != `` && !strings.HasPrefix(err.Error(), "events: "+eventbus.TypePortfolioCreated+" data: ") {
			t.Errorf("DecodeData(%s) error = %q", raw, err)
		}
	}
}

func TestDecodeCheckedRefusesWhatTheSchemaRefuses(t *testing.T) {
	var d map[string]any
	// No such event type: no schema accepts it, whatever its data.
	err := inbox.DecodeChecked(eventbus.Envelope{Type: "no.such_type", Data: json.RawMessage(`{}`)}, &d)
	if err == nil || !inbox.IsPermanent(err) {
		t.Fatalf("DecodeChecked = %v, want a permanent error", err)
	}
}

func TestDecodeCheckedAcceptsAValidEvent(t *testing.T) {
	var d struct {
		PortfolioID int64  `json:"portfolio_id"`
		Name        string `json:"name"`
		UserID      int64  `json:"user_id"`
		TeamID      int64  `json:"team_id"`
		Currency    string `json:"currency"`
	}
	data := json.RawMessage(`{"portfolio_id":42,"name":"Growth","user_id":7,"team_id":3,"currency":"USD"}`)
	env, err := eventbus.NewEnvelope("portfolio", eventbus.TypePortfolioCreated, "42", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := inbox.DecodeChecked(env, &d); err != nil || d.PortfolioID != 42 || d.Currency != "USD" {
		t.Fatalf("DecodeChecked = %v, %+v", err, d)
	}
	// A field the target does not declare is refused even where the
	// schema would let it through.
	var narrow struct {
		PortfolioID int64 `json:"portfolio_id"`
	}
	if err := inbox.DecodeChecked(env, &narrow); err == nil || !inbox.IsPermanent(err) {
		t.Fatalf("DecodeChecked into a narrower type = %v, want a permanent error", err)
	}
}
