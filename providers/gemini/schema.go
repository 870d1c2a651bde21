package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Gemini takes function parameters and response schemas as its Schema object, a
// subset of OpenAPI 3.0, and refuses the whole request over one member it does not
// know. JSON Schema from OpenAI clients (pydantic, zod, …) is converted:
//
//   - kept: type (upper-cased), format (only those Gemini accepts for the type:
//     enum and date-time for strings, float and double for numbers, int32 and int64
//     for integers), title, description, nullable, enum, properties, required,
//     items, anyOf, minItems, maxItems, minLength, maxLength, minProperties,
//     maxProperties, minimum, maximum, pattern, default, example, propertyOrdering;
//   - rewritten: a "null" type or a {"type":"null"} branch of anyOf/oneOf becomes
//     nullable; a type list keeps its first non-null type; oneOf becomes anyOf; an
//     anyOf left with one branch is inlined; const becomes a one-value enum; enum
//     values become strings, and an enum on a non-string type moves into the
//     description (Gemini allows enums on strings only); allOf branches are merged;
//     a local $ref to $defs or definitions is inlined (cycles end in an error); a
//     tuple's items keeps its first schema; required names missing from properties
//     are dropped; empty properties are dropped;
//   - dropped: everything else, notably $schema, $id, $defs, definitions,
//     additionalProperties, patternProperties, unevaluatedProperties, not, if/then/else,
//     exclusiveMinimum, exclusiveMaximum, multipleOf, uniqueItems, examples, const
//     (after conversion), readOnly, writeOnly, deprecated, $comment and strict.
//
// The model sees less validation than the client wrote (Gemini cannot enforce it);
// the shape and descriptions survive.

// maxSchemaDepth bounds nesting (each inlined $ref counts), so a deep or cyclic
// schema cannot make the translation run away.
const maxSchemaDepth = 32

var errSchemaTooDeep = errors.New("the schema is nested too deeply or has a $ref cycle")

// allowedFormats lists the formats Gemini accepts, by type.
var allowedFormats = map[string][]string{
	"STRING":  {"enum", "date-time"},
	"NUMBER":  {"float", "double"},
	"INTEGER": {"int32", "int64"},
}

var schemaTypes = map[string]bool{"STRING": true, "NUMBER": true, "INTEGER": true, "BOOLEAN": true, "ARRAY": true, "OBJECT": true}

// copiedCounts are the integer members kept as they are.
var copiedCounts = []string{"minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"}

// convertSchema converts a JSON Schema to Gemini's Schema; null or absent gives nil.
func convertSchema(raw json.RawMessage) (json.RawMessage, error) {
	m, err := convertRoot(raw)
	if err != nil || m == nil {
		return nil, err
	}
	return marshal(m)
}

// functionParameters converts a function's parameter schema. An object without
// properties (a function without arguments) gives nil: Gemini refuses an OBJECT
// parameter schema whose properties are empty.
func functionParameters(raw json.RawMessage) (json.RawMessage, error) {
	m, err := convertRoot(raw)
	if err != nil || m == nil {
		return nil, err
	}
	if _, ok := m["properties"]; !ok {
		if t, _ := m["type"].(string); t == "" || t == "OBJECT" {
			if _, hasAny := m["anyOf"]; !hasAny {
				return nil, nil
			}
		}
	}
	return marshal(m)
}

func convertRoot(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the schema is not valid JSON: %v", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the schema must be a JSON object")
	}
	sc := schemaConverter{defs: map[string]map[string]any{}}
	for _, key := range []string{"$defs", "definitions"} {
		if defs, ok := root[key].(map[string]any); ok {
			for name, d := range defs {
				if dm, ok := d.(map[string]any); ok {
					sc.defs["#/"+key+"/"+name] = dm
				}
			}
		}
	}
	return sc.convert(root, 0)
}

type schemaConverter struct {
	defs map[string]map[string]any
}

func (sc *schemaConverter) convert(s map[string]any, depth int) (map[string]any, error) {
	if depth > maxSchemaDepth {
		return nil, errSchemaTooDeep
	}
	if ref, ok := s["$ref"].(string); ok {
		target, ok := sc.defs[ref]
		if !ok {
			return nil, fmt.Errorf("$ref %q does not point into the schema's $defs or definitions", ref)
		}
		merged := make(map[string]any, len(target)+len(s))
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range s {
			if k != "$ref" {
				merged[k] = v // siblings of $ref (a description, say) win
			}
		}
		return sc.convert(merged, depth+1)
	}

	out := map[string]any{}
	nullable := false
	if all, ok := s["allOf"].([]any); ok {
		for _, item := range all {
			im, ok := item.(map[string]any)
			if !ok {
				return nil, errors.New("allOf must hold schema objects")
			}
			c, err := sc.convert(im, depth+1)
			if err != nil {
				return nil, err
			}
			mergeSchema(out, c)
		}
	}

	switch t := s["type"].(type) {
	case string:
		if strings.EqualFold(t, "null") {
			nullable = true
		} else if schemaTypes[strings.ToUpper(t)] {
			out["type"] = strings.ToUpper(t)
		}
	case []any:
		for _, e := range t {
			name, _ := e.(string)
			switch {
			case strings.EqualFold(name, "null"):
				nullable = true
			case out["type"] == nil && schemaTypes[strings.ToUpper(name)]:
				out["type"] = strings.ToUpper(name)
			}
		}
	}

	for _, key := range []string{"anyOf", "oneOf"} {
		list, ok := s[key].([]any)
		if !ok {
			continue
		}
		var branches []any
		for _, item := range list {
			im, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s must hold schema objects", key)
			}
			if t, _ := im["type"].(string); len(im) == 1 && strings.EqualFold(t, "null") {
				nullable = true
				continue
			}
			c, err := sc.convert(im, depth+1)
			if err != nil {
				return nil, err
			}
			branches = append(branches, c)
		}
		switch {
		case len(branches) == 1 && out["type"] == nil:
			mergeSchema(out, branches[0].(map[string]any))
		case len(branches) > 0:
			out["anyOf"] = append(asList(out["anyOf"]), branches...)
		}
	}

	for _, key := range []string{"title", "description", "pattern"} {
		if v, ok := s[key].(string); ok && v != "" {
			out[key] = v
		}
	}
	if v, ok := s["nullable"].(bool); ok && v {
		nullable = true
	}
	for _, key := range copiedCounts {
		if n, ok := s[key].(json.Number); ok {
			if _, err := n.Int64(); err == nil {
				out[key] = n
			}
		}
	}
	for _, key := range []string{"minimum", "maximum"} {
		if n, ok := s[key].(json.Number); ok {
			out[key] = n
		}
	}
	for _, key := range []string{"default", "example"} {
		if v, ok := s[key]; ok && v != nil {
			out[key] = v
		}
	}
	if order, ok := s["propertyOrdering"].([]any); ok {
		out["propertyOrdering"] = order
	}

	if props, ok := s["properties"].(map[string]any); ok && len(props) > 0 {
		converted := make(map[string]any, len(props))
		if prev, ok := out["properties"].(map[string]any); ok {
			for k, v := range prev {
				converted[k] = v
			}
		}
		for name, p := range props {
			pm, ok := p.(map[string]any)
			if !ok {
				if b, isBool := p.(bool); isBool && b {
					pm = map[string]any{} // "true" allows anything
				} else {
					return nil, fmt.Errorf("property %q must be a schema object", name)
				}
			}
			c, err := sc.convert(pm, depth+1)
			if err != nil {
				return nil, err
			}
			converted[name] = c
		}
		out["properties"] = converted
	}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok && !containsString(asList(out["required"]), name) {
				out["required"] = append(asList(out["required"]), name)
			}
		}
	}
	if props, ok := out["properties"].(map[string]any); ok {
		var kept []any
		for _, r := range asList(out["required"]) {
			if _, ok := props[r.(string)]; ok {
				kept = append(kept, r)
			}
		}
		out["required"] = kept
	} else {
		delete(out, "required")
	}
	if r := asList(out["required"]); len(r) == 0 {
		delete(out, "required")
	}

	switch items := s["items"].(type) {
	case map[string]any:
		c, err := sc.convert(items, depth+1)
		if err != nil {
			return nil, err
		}
		out["items"] = c
	case []any:
		if len(items) > 0 {
			if im, ok := items[0].(map[string]any); ok {
				c, err := sc.convert(im, depth+1)
				if err != nil {
					return nil, err
				}
				out["items"] = c
			}
		}
	}

	var enum []any
	if list, ok := s["enum"].([]any); ok {
		for _, e := range list {
			if e == nil {
				nullable = true
				continue
			}
			enum = append(enum, enumText(e))
		}
	} else if c, ok := s["const"]; ok && c != nil {
		enum = []any{enumText(c)}
	}

	if out["type"] == nil && out["anyOf"] == nil {
		switch {
		case out["properties"] != nil:
			out["type"] = "OBJECT"
		case out["items"] != nil:
			out["type"] = "ARRAY"
		case enum != nil:
			out["type"] = "STRING"
		}
	}
	if len(enum) > 0 {
		if t, _ := out["type"].(string); t == "STRING" {
			out["enum"] = enum
			out["format"] = "enum"
		} else {
			values := make([]string, len(enum))
			for i, e := range enum {
				values[i] = e.(string)
			}
			note := "Allowed values: " + strings.Join(values, ", ") + "."
			if d, _ := out["description"].(string); d != "" {
				note = d + " " + note
			}
			out["description"] = note
		}
	}
	if f, ok := s["format"].(string); ok && out["format"] == nil {
		t, _ := out["type"].(string)
		if containsString(toAny(allowedFormats[t]), f) {
			out["format"] = f
		}
	}
	if nullable {
		out["nullable"] = true
	}
	return out, nil
}

// mergeSchema adds src's members to dst: properties and required are unioned,
// anything else is taken from src only where dst lacks it.
func mergeSchema(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			props, _ := dst[k].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			for name, p := range v.(map[string]any) {
				props[name] = p
			}
			dst[k] = props
		case "required":
			for _, r := range asList(v) {
				if !containsString(asList(dst[k]), r.(string)) {
					dst[k] = append(asList(dst[k]), r)
				}
			}
		default:
			if _, ok := dst[k]; !ok {
				dst[k] = v
			}
		}
	}
}

// enumText renders an enum value as the string Gemini wants.
func enumText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func containsString(list []any, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
