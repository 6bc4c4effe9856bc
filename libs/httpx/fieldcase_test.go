package httpx

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSONFieldNamesAreCaseSensitive(t *testing.T) {
	type inner struct {
		ID int64 `json:"id"`
	}
	type embedded struct {
		Note string `json:"note"`
	}
	type body struct {
		embedded
		Amount json.RawMessage `json:"amount"`
		Nested *inner          `json:"nested"`
		Items  []inner         `json:"items"`
		Extra  map[string]any  `json:"extra"`
	}
	for _, c := range []struct {
		body, field string // field: "" when accepted
	}{
		{`{"amount":"1","nested":{"id":1},"items":[{"id":2}],"note":"n","extra":{"ANY":1}}`, ""},
		{`{"AMOUNT":"1"}`, "AMOUNT"},
		{`{"Amount":"1"}`, "Amount"},
		{`{"nested":{"ID":1}}`, "nested.ID"},
		{`{"items":[{"id":1},{"Id":2}]}`, "items.Id"},
		{`{"NOTE":"n"}`, "NOTE"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		var v body
		err := DecodeJSON(r, &v)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		e, ok := As(err)
		if !ok || e.Status != 400 || e.Code != "invalid_json" || e.Fields[c.field] == "" {
			t.Errorf("%s: %+v, want 400 invalid_json naming %s", c.body, e, c.field)
		}
	}
}
