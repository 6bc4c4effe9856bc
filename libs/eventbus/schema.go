package eventbus

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Schemas holds the JSON Schema (draft 2020-12) of every event type, as
// schemas/<type>.json: the envelope with that type's data object. They are
// the contract producers and consumers are tested against; other
// languages and tools can read the same files.
//
//go:embed schemas/*.json
var Schemas embed.FS

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

func compileSchemas() {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	compiled = make(map[string]*jsonschema.Schema, len(Types))
	for _, t := range Types {
		name := "schemas/" + t + ".json"
		raw, err := Schemas.ReadFile(name)
		if err != nil {
			compileErr = fmt.Errorf("eventbus: schema of %s: %w", t, err)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			compileErr = fmt.Errorf("eventbus: schema of %s: %w", t, err)
			return
		}
		if err := c.AddResource(name, doc); err != nil {
			compileErr = fmt.Errorf("eventbus: schema of %s: %w", t, err)
			return
		}
		s, err := c.Compile(name)
		if err != nil {
			compileErr = fmt.Errorf("eventbus: schema of %s: %w", t, err)
			return
		}
		compiled[t] = s
	}
}

// Validate checks value, a whole event message value (the envelope with
// its data), against the JSON Schema of eventType. It fails for an unknown
// type, JSON that does not parse, and any value the schema refuses: a
// missing or extra field, a wrong JSON type, an amount without exactly 8
// fractional digits, an envelope of another type.
func Validate(eventType string, value []byte) error {
	compileOnce.Do(compileSchemas)
	if compileErr != nil {
		return compileErr
	}
	s, ok := compiled[eventType]
	if !ok {
		return fmt.Errorf("eventbus: unknown event type %q", eventType)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("eventbus: %s: invalid JSON: %w", eventType, err)
	}
	if err := s.Validate(doc); err != nil {
		return fmt.Errorf("eventbus: %s does not match its schema: %w", eventType, err)
	}
	return nil
}
