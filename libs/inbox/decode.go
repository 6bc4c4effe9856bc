package inbox

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/fundplatform/platform/libs/eventbus"
)

// DecodeData decodes an event's data into into, strictly: a field into does
// not declare or a value of the wrong type is refused. Data that cannot be
// decoded never will be, so the error is Permanent.
func DecodeData(env eventbus.Envelope, into any) error {
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return Permanent(fmt.Errorf("events: %s data: %w", env.Type, err))
	}
	return nil
}

// DecodeChecked checks the event against its type's schema
// (eventbus.Validate) and then decodes its data with DecodeData; every
// failure is Permanent. For consumers whose events were not validated when
// they were read.
func DecodeChecked(env eventbus.Envelope, into any) error {
	value, err := json.Marshal(env)
	if err != nil {
		return Permanent(err)
	}
	if err := eventbus.Validate(env.Type, value); err != nil {
		return Permanent(err)
	}
	return DecodeData(env, into)
}
