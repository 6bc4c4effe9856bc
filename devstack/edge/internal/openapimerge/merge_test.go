package openapimerge

import (
	"encoding/json"
	"strings"
	"testing"
)

const docA = `{
  "openapi": "3.0.3",
  "info": {"title": "A", "version": "1", "description": "about a"},
  "security": [{"bearer": []}],
  "tags": [{"name": "meta", "description": "This document."}, {"name": "things"}],
  "paths": {
    "/openapi.json": {"get": {"operationId": "getOpenAPI", "tags": ["meta"], "security": [], "responses": {"200": {"$ref": "#/components/responses/OK"}}}},
    "/api/v1/things": {"get": {"operationId": "listThings", "tags": ["things"], "responses": {"200": {"$ref": "#/components/responses/OK"}}}}
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a's"}},
    "schemas": {
      "Error": {"type": "object", "properties": {"data": {"$ref": "#/components/schemas/ErrorData"}}},
      "ErrorData": {"type": "object", "description": "a's"},
      "Same": {"type": "string"},
      "Thing": {"type": "object"}
    },
    "responses": {"OK": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
  }
}`

const docB = `{
  "openapi": "3.0.3",
  "info": {"title": "B", "version": "1"},
  "security": [{"bearer": []}],
  "tags": [{"name": "meta", "description": "Its own description."}],
  "paths": {
    "/openapi.json": {"get": {"operationId": "getOpenAPI", "tags": ["meta"], "security": [], "responses": {"200": {"$ref": "#/components/responses/OK"}}}},
    "/api/v1/others": {"post": {"operationId": "postOther", "responses": {"200": {"$ref": "#/components/responses/OK"}}}}
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "b's"}},
    "schemas": {
      "Error": {"type": "object", "properties": {"data": {"$ref": "#/components/schemas/ErrorData"}}},
      "ErrorData": {"type": "object", "description": "b's"},
      "Same": {"type": "string"}
    },
    "responses": {"OK": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
  }
}`

func mergeAB(t *testing.T) map[string]any {
	t.Helper()
	out, err := Merge(Info{Title: "T", Version: "9"}, []Source{{"a", []byte(docA)}, {"b", []byte(docB)}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: not an object at %q", path, k)
		}
		v = o[k]
	}
	return v
}

func TestMergeRenamesCollidingComponentsAndTheirReferences(t *testing.T) {
	m := mergeAB(t)
	schemas := at(t, m, "components", "schemas").(map[string]any)
	for _, want := range []string{"a.ErrorData", "b.ErrorData", "a.Error", "b.Error", "Same", "Thing"} {
		if schemas[want] == nil {
			t.Errorf("no schema %s", want)
		}
	}
	for _, gone := range []string{"ErrorData", "Error", "a.Same", "a.Thing"} {
		if schemas[gone] != nil {
			t.Errorf("schema %s should not be there", gone)
		}
	}
	// Error is identical text in both, but it refers to ErrorData, which is not.
	if r := at(t, schemas, "b.Error", "properties", "data", "$ref"); r != "#/components/schemas/b.ErrorData" {
		t.Errorf("b.Error refers to %v", r)
	}
	if r := at(t, m, "components", "responses", "a.OK", "content", "application/json", "schema", "$ref"); r != "#/components/schemas/a.Error" {
		t.Errorf("a.OK refers to %v", r)
	}
	if r := at(t, m, "paths", "/api/v1/others", "post", "responses", "200", "$ref"); r != "#/components/responses/b.OK" {
		t.Errorf("postOther's response is %v", r)
	}
}

func TestMergeSecurityTagsOperationIDsAndTheDocumentPaths(t *testing.T) {
	m := mergeAB(t)
	if m["security"] != nil {
		t.Errorf("top-level security %v: each service's belongs to its operations", m["security"])
	}
	sec := at(t, m, "paths", "/api/v1/others", "post", "security").([]any)
	if len(sec) != 1 || at(t, sec[0], "b.bearer") == nil {
		t.Errorf("postOther's security is %v, want b.bearer", sec)
	}
	if s := at(t, m, "paths", "/docs/openapi/a.json", "get", "security").([]any); len(s) != 0 {
		t.Errorf("the document's security is %v, want none", s)
	}
	if m["paths"].(map[string]any)["/openapi.json"] != nil {
		t.Error("/openapi.json is not a path of the edge")
	}
	for svc, wantID := range map[string]string{"a": "a.getOpenAPI", "b": "b.getOpenAPI"} {
		op := at(t, m, "paths", "/docs/openapi/"+svc+".json", "get")
		if id := at(t, op, "operationId"); id != wantID {
			t.Errorf("%s: operationId %v, want %s", svc, id, wantID)
		}
		if tags := at(t, op, "tags").([]any); len(tags) != 1 || tags[0] != svc+".meta" {
			t.Errorf("%s: tags %v", svc, tags)
		}
	}
	if id := at(t, m, "paths", "/api/v1/things", "get", "operationId"); id != "listThings" {
		t.Errorf("operationId %v", id)
	}
	var names []string
	for _, tag := range m["tags"].([]any) {
		names = append(names, tag.(map[string]any)["name"].(string))
	}
	if got := strings.Join(names, ","); got != "a.meta,things,b.meta" {
		t.Errorf("tags %s", got)
	}
	if d := at(t, m, "info", "description").(string); !strings.Contains(d, "# A") || !strings.Contains(d, "about a") || !strings.Contains(d, "# B") {
		t.Errorf("info.description %q", d)
	}
}

func TestMergeRefusesCollidingPathsAndRemoteRefs(t *testing.T) {
	dup := strings.Replace(docB, "/api/v1/others", "/api/v1/things", 1)
	if _, err := Merge(Info{}, []Source{{"a", []byte(docA)}, {"b", []byte(dup)}}); err == nil || !strings.Contains(err.Error(), "/api/v1/things") {
		t.Errorf("colliding paths: %v", err)
	}
	remote := strings.Replace(docB, `"#/components/schemas/ErrorData"`, `"other.json#/x"`, 1)
	if _, err := Merge(Info{}, []Source{{"a", []byte(docA)}, {"b", []byte(remote)}}); err == nil {
		t.Error("a remote $ref was accepted")
	}
}

// The merged document of the repository is self-consistent: every $ref
// resolves, every security requirement names a scheme, operationIds are
// unique and every operation's tag is declared.
func TestMergedRepositoryDocumentIsConsistent(t *testing.T) {
	out, err := FromRepo("../../../..", []string{"auth", "portfolio", "profit", "withdrawal", "stats"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	comps := m["components"].(map[string]any)
	for _, r := range refs(m, nil) {
		typ, name, _ := strings.Cut(r, "/")
		if d, _ := comps[typ].(map[string]any); d == nil || d[name] == nil {
			t.Errorf("$ref %s does not resolve", r)
		}
	}
	schemes := comps["securitySchemes"].(map[string]any)
	declared := map[string]bool{}
	for _, tag := range m["tags"].([]any) {
		declared[tag.(map[string]any)["name"].(string)] = true
	}
	ids := map[string]string{}
	for p, item := range m["paths"].(map[string]any) {
		for meth, op := range item.(map[string]any) {
			o, ok := op.(map[string]any)
			if !ok || !isMethod(meth) {
				continue
			}
			id, _ := o["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s %s: operationId %q (also %s)", meth, p, id, prev)
			}
			ids[id] = p
			sec, ok := o["security"].([]any)
			if !ok {
				t.Errorf("%s %s: no security", meth, p)
			}
			for _, req := range sec {
				for name := range req.(map[string]any) {
					if schemes[name] == nil {
						t.Errorf("%s %s: security scheme %s is not defined", meth, p, name)
					}
				}
			}
			tags, _ := o["tags"].([]any)
			for _, tag := range tags {
				if !declared[tag.(string)] {
					t.Errorf("%s %s: tag %v is not declared", meth, p, tag)
				}
			}
		}
	}
	if len(ids) < 40 {
		t.Errorf("only %d operations", len(ids))
	}
}
