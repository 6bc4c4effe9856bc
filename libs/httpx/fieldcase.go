package httpx

import (
	"encoding/json"
	"reflect"
	"strings"
)

// wrongCaseField finds a key of the JSON value data that encoding/json
// matched to a field of t only because it matches case-insensitively
// ("AMOUNT" for "amount"), and names it (dotted for nested objects). The
// API's field names are exact (docs/api.md#json-requests): a client that
// sends "AMOUNT" is told so instead of having it taken for "amount".
func wrongCaseField(data []byte, t reflect.Type, path string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[json.RawMessage]() {
			return "", false
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil {
			return "", false
		}
		fields := jsonFields(t)
		for key, raw := range obj {
			f, ok := fields[key]
			if !ok {
				return joinField(path, key), true
			}
			if name, bad := wrongCaseField(raw, f.Type, joinField(path, key)); bad {
				return name, true
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if t.Elem().Kind() == reflect.Uint8 || json.Unmarshal(data, &items) != nil {
			return "", false
		}
		for _, raw := range items {
			if name, bad := wrongCaseField(raw, t.Elem(), path); bad {
				return name, true
			}
		}
	}
	return "", false
}

// jsonFields are t's fields by their exact JSON names, those of embedded
// structs without a tag included.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
			for name, inner := range jsonFields(f.Type) {
				out[name] = inner
			}
		case tag == "":
			out[f.Name] = f
		default:
			out[tag] = f
		}
	}
	return out
}
