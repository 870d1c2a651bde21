package gemini

import (
	"strings"
	"testing"
)

// TestConvertSchema covers each JSON Schema rewrite Gemini needs.
func TestConvertSchema(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"DropsUnknownKeys",
			`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","type":"object","title":"T","additionalProperties":false,"properties":{"a":{"type":"string","minLength":1,"maxLength":9,"pattern":"^a","examples":["a"],"$comment":"c","readOnly":true}},"patternProperties":{"^x":{}},"unevaluatedProperties":false}`,
			`{"type":"OBJECT","title":"T","properties":{"a":{"type":"STRING","minLength":1,"maxLength":9,"pattern":"^a"}}}`},
		{"NullableTypeList",
			`{"type":"object","properties":{"a":{"type":["string","null"]},"b":{"type":["null","integer","string"]}}}`,
			`{"type":"OBJECT","properties":{"a":{"type":"STRING","nullable":true},"b":{"type":"INTEGER","nullable":true}}}`},
		{"AnyOfWithNullInlined",
			`{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"null"}],"description":"maybe"}}}`,
			`{"type":"OBJECT","properties":{"a":{"type":"STRING","nullable":true,"description":"maybe"}}}`},
		{"OneOfBecomesAnyOf",
			`{"oneOf":[{"type":"string"},{"type":"number","format":"float"}]}`,
			`{"anyOf":[{"type":"STRING"},{"type":"NUMBER","format":"float"}]}`},
		{"ConstAndEnums",
			`{"type":"object","properties":{"k":{"const":"fixed"},"e":{"type":"string","enum":["a",null,"b"]},"n":{"type":"integer","enum":[1,2,3],"description":"Level."},"b":{"enum":[true,false]}}}`,
			`{"type":"OBJECT","properties":{"k":{"type":"STRING","enum":["fixed"],"format":"enum"},"e":{"type":"STRING","enum":["a","b"],"format":"enum","nullable":true},"n":{"type":"INTEGER","description":"Level. Allowed values: 1, 2, 3."},"b":{"type":"STRING","enum":["true","false"],"format":"enum"}}}`},
		{"FormatsOnlyWhereAllowed",
			`{"type":"object","properties":{"d":{"type":"string","format":"date-time"},"u":{"type":"string","format":"uri"},"e":{"type":"string","format":"email"},"f":{"type":"number","format":"double"},"i":{"type":"integer","format":"int64"},"x":{"type":"integer","format":"uint8"}}}`,
			`{"type":"OBJECT","properties":{"d":{"type":"STRING","format":"date-time"},"u":{"type":"STRING"},"e":{"type":"STRING"},"f":{"type":"NUMBER","format":"double"},"i":{"type":"INTEGER","format":"int64"},"x":{"type":"INTEGER"}}}`},
		{"RefsInlined",
			`{"type":"object","properties":{"home":{"$ref":"#/$defs/Address","description":"Home."},"work":{"$ref":"#/definitions/Address"}},"$defs":{"Address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},"definitions":{"Address":{"type":"object","properties":{"zip":{"type":"string"}}}}}`,
			`{"type":"OBJECT","properties":{"home":{"type":"OBJECT","description":"Home.","properties":{"city":{"type":"STRING"}},"required":["city"]},"work":{"type":"OBJECT","properties":{"zip":{"type":"STRING"}}}}}`},
		{"AllOfMerged",
			`{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"number"}},"required":["b"]}],"description":"Both."}`,
			`{"type":"OBJECT","description":"Both.","properties":{"a":{"type":"STRING"},"b":{"type":"NUMBER"}},"required":["a","b"]}`},
		{"RequiredFilteredAndTypesInferred",
			`{"properties":{"a":{"items":{"type":"string"}},"b":{"enum":["x"]}},"required":["a","ghost"]}`,
			`{"type":"OBJECT","properties":{"a":{"type":"ARRAY","items":{"type":"STRING"}},"b":{"type":"STRING","enum":["x"],"format":"enum"}},"required":["a"]}`},
		{"TupleKeepsFirstItem",
			`{"type":"array","items":[{"type":"integer"},{"type":"string"}],"minItems":1,"maxItems":2,"uniqueItems":true}`,
			`{"type":"ARRAY","items":{"type":"INTEGER"},"minItems":1,"maxItems":2}`},
		{"NumbersAndDefaultsKept",
			`{"type":"number","minimum":0.5,"maximum":1e3,"exclusiveMaximum":9,"multipleOf":0.5,"default":1,"example":2}`,
			`{"type":"NUMBER","minimum":0.5,"maximum":1e3,"default":1,"example":2}`},
		{"EmptyPropertiesDropped",
			`{"type":"object","properties":{"meta":{"type":"object","properties":{},"additionalProperties":true}}}`,
			`{"type":"OBJECT","properties":{"meta":{"type":"OBJECT"}}}`},
		{"TruePropertySchema",
			`{"type":"object","properties":{"any":true}}`,
			`{"type":"OBJECT","properties":{"any":{}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertSchema([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, got, tt.want)
		})
	}
}

func TestFunctionParameters(t *testing.T) {
	for _, in := range []string{``, `null`, `{}`, `{"type":"object"}`, `{"type":"object","properties":{}}`, `{"type":"object","properties":{},"additionalProperties":false}`} {
		got, err := functionParameters([]byte(in))
		if err != nil || got != nil {
			t.Errorf("functionParameters(%s) = %s, %v; want none (Gemini refuses empty OBJECT parameters)", in, got, err)
		}
	}
	got, err := functionParameters([]byte(`{"type":"object","properties":{"a":{"type":"string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `{"type":"OBJECT","properties":{"a":{"type":"STRING"}}}`)
}

func TestConvertSchemaErrors(t *testing.T) {
	deep := strings.Repeat(`{"type":"array","items":`, 40) + `{"type":"string"}` + strings.Repeat(`}`, 40)
	for name, in := range map[string]string{
		"NotObject":    `[1]`,
		"NotJSON":      `{"type":`,
		"TooDeep":      deep,
		"BadProperty":  `{"properties":{"a":7}}`,
		"BadAnyOf":     `{"anyOf":[1]}`,
		"DanglingRef":  `{"$ref":"#/$defs/missing"}`,
		"SelfRefCycle": `{"$defs":{"n":{"properties":{"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}`,
	} {
		if _, err := convertSchema([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
