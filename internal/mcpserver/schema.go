package mcpserver

import (
	"reflect"

	"github.com/google/jsonschema-go/jsonschema"
)

// schemaFor infers T's JSON schema and spells "any value" sub-schemas as
// {"description": …} instead of the boolean schema true, which some MCP
// clients (the MCP Inspector among them) reject.
func schemaFor[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		return nil // let the SDK infer (and report) it
	}
	fixAny(s)
	return s
}

func fixAny(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	// ["null","array"] → "array": clients that read "type" as a string
	// (the MCP Inspector converts CLI arguments by it) understand this.
	if len(s.Types) == 2 && (s.Types[0] == "null" || s.Types[1] == "null") {
		s.Type = s.Types[0]
		if s.Type == "null" {
			s.Type = s.Types[1]
		}
		s.Types = nil
	}
	fix := func(p *jsonschema.Schema) {
		if p == nil {
			return
		}
		if reflect.DeepEqual(*p, jsonschema.Schema{}) {
			p.Description = "any JSON value"
			return
		}
		fixAny(p)
	}
	for _, p := range s.Properties {
		fix(p)
	}
	fix(s.Items)
	if s.AdditionalProperties != nil && s.AdditionalProperties.Not == nil {
		fix(s.AdditionalProperties)
	}
	for _, p := range s.PrefixItems {
		fix(p)
	}
	for _, p := range s.AnyOf {
		fix(p)
	}
	for _, p := range s.OneOf {
		fix(p)
	}
}
