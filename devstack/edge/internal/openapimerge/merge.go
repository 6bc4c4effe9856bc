// Package openapimerge merges the services' OpenAPI documents into the one
// document the edge serves at /docs/openapi.json.
//
// The rules, applied the same way to every document:
//   - paths are taken as they are and must not collide, except each
//     service's GET /openapi.json, which the edge serves at
//     /docs/openapi/{service}.json: it is listed under that path;
//   - a component (schema, parameter, header, response, security scheme…)
//     that one service defines keeps its name, and so does one that several
//     services define identically (and whose references lead only to
//     components that keep their names too); any other component is
//     renamed "{service}.{name}" in every service that defines it, and the
//     $refs and security requirements that name it are rewritten;
//   - tags follow the same rule as components; an operationId used by
//     several services becomes "{service}.{operationId}";
//   - each service's top-level security applies to its own operations (it is
//     copied into those that have none), and x-tagGroups groups the tags by
//     service.
//
// The output is deterministic (keys sorted, two-space indent, a final
// newline), so a checked-in copy can be compared byte for byte.
package openapimerge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// Source is one service's OpenAPI document.
type Source struct {
	Service string // e.g. "auth"
	Doc     []byte // its openapi.json
}

// Info describes the merged document.
type Info struct {
	Title       string
	Version     string
	Description string // placed before the per-service sections
}

type (
	object = map[string]any
	array  = []any
)

type service struct {
	name string
	doc  object
	// rename maps "type/name" (components) and "tag/name" to the new name
	// where it changes.
	rename map[string]string
	opIDs  map[string]string
}

const refPrefix = "#/components/"

// Merge merges the documents, in the order given.
func Merge(info Info, sources []Source) ([]byte, error) {
	var svcs []*service
	for _, s := range sources {
		d := json.NewDecoder(bytes.NewReader(s.Doc))
		d.UseNumber()
		var doc object
		if err := d.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Service, err)
		}
		svcs = append(svcs, &service{name: s.Service, doc: doc, rename: map[string]string{}, opIDs: map[string]string{}})
	}
	if len(svcs) == 0 {
		return nil, fmt.Errorf("no documents")
	}
	version, _ := svcs[0].doc["openapi"].(string)
	for _, s := range svcs {
		if v, _ := s.doc["openapi"].(string); v != version || v == "" {
			return nil, fmt.Errorf("%s: openapi %q, %s has %q", s.name, v, svcs[0].name, version)
		}
	}

	if err := planComponents(svcs); err != nil {
		return nil, err
	}
	planTags(svcs)
	planOperationIDs(svcs)

	out := object{"openapi": version}
	components := object{}
	paths := object{}
	var tags array
	var groups array
	tagSeen := map[string]bool{}
	var desc strings.Builder
	desc.WriteString(info.Description)
	for _, s := range svcs {
		// Components, under their (possibly new) names.
		comps, _ := s.doc["components"].(object)
		for _, typ := range sortedKeys(comps) {
			defs, _ := comps[typ].(object)
			dst, _ := components[typ].(object)
			if dst == nil {
				dst = object{}
				components[typ] = dst
			}
			for _, name := range sortedKeys(defs) {
				newName := s.newName(typ, name)
				v, err := s.rewrite(defs[name])
				if err != nil {
					return nil, fmt.Errorf("%s: components/%s/%s: %w", s.name, typ, name, err)
				}
				if prev, ok := dst[newName]; ok && !reflect.DeepEqual(prev, v) {
					return nil, fmt.Errorf("%s: components/%s/%s collides with another service's %s", s.name, typ, name, newName)
				}
				dst[newName] = v
			}
		}

		// Paths, with the service's top-level security pushed down.
		topSecurity, hasTopSecurity := s.doc["security"]
		ps, _ := s.doc["paths"].(object)
		for _, p := range sortedKeys(ps) {
			item, err := s.rewrite(ps[p])
			if err != nil {
				return nil, fmt.Errorf("%s: paths %s: %w", s.name, p, err)
			}
			itemObj, ok := item.(object)
			if !ok {
				return nil, fmt.Errorf("%s: paths %s: not an object", s.name, p)
			}
			target := p
			if p == "/openapi.json" {
				target = "/docs/openapi/" + s.name + ".json"
				if get, ok := itemObj["get"].(object); ok {
					get["summary"] = "The " + s.name + " service's OpenAPI document"
					get["description"] = "**Who:** anyone (no token).\n\nThe " + s.name + " service's own document (its GET /openapi.json), proxied by the edge without the caller's Authorization and Cookie headers."
				}
			}
			if _, dup := paths[target]; dup {
				return nil, fmt.Errorf("%s: path %s is also another service's", s.name, target)
			}
			for _, m := range sortedKeys(itemObj) {
				op, ok := itemObj[m].(object)
				if !ok || !isMethod(m) {
					continue
				}
				if id, ok := op["operationId"].(string); ok {
					op["operationId"] = s.opID(id)
				}
				if ts, ok := op["tags"].(array); ok {
					for i, t := range ts {
						if name, ok := t.(string); ok {
							ts[i] = s.tagName(name)
						}
					}
				}
				sec, has := op["security"]
				if !has && hasTopSecurity {
					sec, has = topSecurity, true
				}
				if has {
					op["security"] = s.securityRequirements(sec)
				}
			}
			paths[target] = itemObj
		}

		// Tags, and one tag group per service.
		var groupTags array
		tl, _ := s.doc["tags"].(array)
		for _, t := range tl {
			to, ok := t.(object)
			if !ok {
				return nil, fmt.Errorf("%s: a tag is not an object", s.name)
			}
			name, _ := to["name"].(string)
			newName := s.tagName(name)
			groupTags = append(groupTags, newName)
			if tagSeen[newName] {
				continue
			}
			tagSeen[newName] = true
			c := object{}
			for k, v := range to {
				c[k] = v
			}
			c["name"] = newName
			tags = append(tags, c)
		}
		groups = append(groups, object{"name": s.name, "tags": groupTags})

		// The service's own description, as a section of the merged one.
		si, _ := s.doc["info"].(object)
		title, _ := si["title"].(string)
		if title == "" {
			title = s.name
		}
		fmt.Fprintf(&desc, "\n\n# %s\n\n", title)
		if v, _ := si["version"].(string); v != "" {
			fmt.Fprintf(&desc, "Version %s; its own document: [/docs/openapi/%s.json](/docs/openapi/%s.json).", v, s.name, s.name)
		}
		if d, _ := si["description"].(string); d != "" {
			desc.WriteString("\n\n" + d)
		}
	}

	out["info"] = object{"title": info.Title, "version": info.Version, "description": desc.String()}
	out["servers"] = array{object{"url": "/", "description": "The edge (every deployment serves this document at /docs/openapi.json)."}}
	out["paths"] = paths
	out["components"] = components
	out["tags"] = tags
	out["x-tagGroups"] = groups

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func isMethod(m string) bool {
	switch m {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
}

func sortedKeys(m object) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (s *service) newName(typ, name string) string {
	if n, ok := s.rename[typ+"/"+name]; ok {
		return n
	}
	return name
}

func (s *service) tagName(name string) string {
	if n, ok := s.rename["tag/"+name]; ok {
		return n
	}
	return name
}

func (s *service) opID(id string) string {
	if n, ok := s.opIDs[id]; ok {
		return n
	}
	return id
}

// planComponents decides which components are renamed (see the package doc).
func planComponents(svcs []*service) error {
	type def struct {
		svc *service
		val any
	}
	defs := map[string][]def{} // "type/name" → definitions
	for _, s := range svcs {
		comps, _ := s.doc["components"].(object)
		for typ, m := range comps {
			mo, ok := m.(object)
			if !ok {
				return fmt.Errorf("%s: components/%s is not an object", s.name, typ)
			}
			for name, v := range mo {
				if strings.ContainsAny(name, "/~") {
					return fmt.Errorf("%s: component name %q", s.name, name)
				}
				defs[typ+"/"+name] = append(defs[typ+"/"+name], def{s, v})
			}
		}
	}
	// Candidates for keeping the name: defined identically everywhere.
	renamed := map[string]bool{}
	for k, ds := range defs {
		for _, d := range ds[1:] {
			if !reflect.DeepEqual(d.val, ds[0].val) {
				renamed[k] = true
				break
			}
		}
	}
	// An identical definition that refers to a renamed component differs
	// after all (each copy now points at its own service's component).
	for changed := true; changed; {
		changed = false
		for k, ds := range defs {
			if renamed[k] || len(ds) < 2 {
				continue
			}
			for _, ref := range refs(ds[0].val, nil) {
				if renamed[ref] {
					renamed[k], changed = true, true
					break
				}
			}
		}
	}
	// Security requirements name schemes rather than $ref them: a renamed
	// scheme is renamed in the requirements (securityRequirements).
	for k := range renamed {
		typ, name, _ := strings.Cut(k, "/")
		for _, d := range defs[k] {
			d.svc.rename[typ+"/"+name] = d.svc.name + "." + name
		}
		for _, d := range defs[k] {
			if _, clash := defs[typ+"/"+d.svc.name+"."+name]; clash {
				return fmt.Errorf("components/%s/%s: the new name %s.%s is taken", typ, name, d.svc.name, name)
			}
		}
	}
	return nil
}

// refs lists the "type/name" of every local component $ref below v.
func refs(v any, acc []string) []string {
	switch x := v.(type) {
	case object:
		if r, ok := x["$ref"].(string); ok && strings.HasPrefix(r, refPrefix) {
			acc = append(acc, strings.TrimPrefix(r, refPrefix))
		}
		for _, k := range sortedKeys(x) {
			acc = refs(x[k], acc)
		}
	case array:
		for _, e := range x {
			acc = refs(e, acc)
		}
	}
	return acc
}

// planTags renames tags that several services declare differently.
func planTags(svcs []*service) {
	byName := map[string][]*service{}
	vals := map[string][]any{}
	for _, s := range svcs {
		tl, _ := s.doc["tags"].(array)
		for _, t := range tl {
			to, _ := t.(object)
			name, _ := to["name"].(string)
			byName[name] = append(byName[name], s)
			vals[name] = append(vals[name], t)
		}
	}
	for name, vs := range vals {
		for _, v := range vs[1:] {
			if !reflect.DeepEqual(v, vs[0]) {
				for _, s := range byName[name] {
					s.rename["tag/"+name] = s.name + "." + name
				}
				break
			}
		}
	}
}

// planOperationIDs prefixes operationIds that several services use.
func planOperationIDs(svcs []*service) {
	users := map[string][]*service{}
	for _, s := range svcs {
		ps, _ := s.doc["paths"].(object)
		for _, item := range ps {
			io, _ := item.(object)
			for m, op := range io {
				oo, ok := op.(object)
				if !ok || !isMethod(m) {
					continue
				}
				if id, ok := oo["operationId"].(string); ok {
					users[id] = append(users[id], s)
				}
			}
		}
	}
	for id, ss := range users {
		if len(ss) > 1 {
			for _, s := range ss {
				s.opIDs[id] = s.name + "." + id
			}
		}
	}
}

// securityRequirements returns a copy of a security requirement list with
// the scheme names renamed for s.
func (s *service) securityRequirements(v any) any {
	l, ok := v.(array)
	if !ok {
		return v
	}
	c := make(array, len(l))
	for i, e := range l {
		req, ok := e.(object)
		if !ok {
			c[i] = e
			continue
		}
		nr := object{}
		for name, scopes := range req {
			nr[s.newName("securitySchemes", name)] = scopes
		}
		c[i] = nr
	}
	return c
}

// rewrite returns a copy of v with its $refs renamed for s. Only local component references are allowed.
func (s *service) rewrite(v any) (any, error) {
	return s.rewriteAt(v, "")
}

func (s *service) rewriteAt(v any, key string) (any, error) {
	switch x := v.(type) {
	case object:
		c := object{}
		for k, e := range x {
			if k == "$ref" {
				r, ok := e.(string)
				if !ok || !strings.HasPrefix(r, refPrefix) {
					return nil, fmt.Errorf("$ref %v is not a local component reference", e)
				}
				typ, name, ok := strings.Cut(strings.TrimPrefix(r, refPrefix), "/")
				if !ok || strings.Contains(name, "/") {
					return nil, fmt.Errorf("$ref %q", r)
				}
				c[k] = refPrefix + typ + "/" + s.newName(typ, name)
				continue
			}
			ne, err := s.rewriteAt(e, k)
			if err != nil {
				return nil, err
			}
			c[k] = ne
		}
		if key == "mapping" {
			// discriminator.mapping values are $refs too.
			for k, e := range c {
				if r, ok := e.(string); ok && strings.HasPrefix(r, refPrefix) {
					typ, name, _ := strings.Cut(strings.TrimPrefix(r, refPrefix), "/")
					c[k] = refPrefix + typ + "/" + s.newName(typ, name)
				}
			}
		}
		return c, nil
	case array:
		c := make(array, len(x))
		for i, e := range x {
			ne, err := s.rewriteAt(e, key)
			if err != nil {
				return nil, err
			}
			c[i] = ne
		}
		return c, nil
	default:
		return v, nil
	}
}

// DocInfo is the merged document's info (its description is followed by
// one section per service).
var DocInfo = Info{
	Title:   "Fund platform API",
	Version: "1.0.0",
	Description: "Every service's API in one document, as reached through the edge: " +
		"the merge of services/{service}/api/openapi.json (generated by `go generate ./devstack/edge`; do not edit). " +
		"The edge serves it at [/docs/openapi.json](/docs/openapi.json), each service's own document at " +
		"/docs/openapi/{service}.json and an index of every operation at [/docs](/docs).\n\n" +
		"Components that services define differently under one name are prefixed with the service's name " +
		"(e.g. `auth.ErrorData`); identical ones appear once.",
}

// FromRepo merges services/{service}/api/openapi.json of the repository at
// root, in the order of services.
func FromRepo(root string, services []string) ([]byte, error) {
	var srcs []Source
	for _, s := range services {
		b, err := os.ReadFile(filepath.Join(root, "services", s, "api", "openapi.json"))
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, Source{Service: s, Doc: b})
	}
	return Merge(DocInfo, srcs)
}
