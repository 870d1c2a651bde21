package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/router"
)

// decimal is a JSON money or price field kept as the text the client wrote, either a
// string ("12.5") or a bare number (12.5). Keeping the literal lets billing's exact
// decimal parsers read it; going through float64 would round amounts.
type decimal struct {
	text string // the amount's characters, unquoted
	set  bool   // present and not null
	kind string // for a value that is neither string nor number: its JSON kind
}

// UnmarshalJSON records the literal; judging it is left to usd and perMTok, which
// know the field's name and so can say which one is wrong.
func (d *decimal) UnmarshalJSON(b []byte) error {
	*d = decimal{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		d.text, d.set = s, true
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		d.text, d.set = string(b), true
	default:
		d.set, d.kind = true, jsonKindOf(b[0])
	}
	return nil
}

func jsonKindOf(first byte) string {
	switch first {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "that value"
}

// usd parses the field as a USD amount (up to 9 decimals, exact).
func (d decimal) usd(param string) (billing.Nanos, error) {
	if d.kind != "" {
		return 0, invalid(param, "%s must be a USD amount written as a decimal string such as \"12.50\" (a plain JSON number also works), not %s.", param, d.kind)
	}
	n, err := billing.ParseUSD(d.text)
	switch {
	case errors.Is(err, billing.ErrOverflow):
		return 0, invalid(param, "%s %q is far too large.", param, shorten(d.text, 40))
	case err != nil:
		return 0, invalid(param, "%s %q is not a plain decimal USD amount: write digits with an optional '-' and at most 9 decimal places, e.g. \"12.50\" (no exponent, no spaces, no currency sign).", param, shorten(d.text, 40))
	}
	return n, nil
}

// perMTok parses the field as a price in USD per million tokens (up to 6 decimals,
// never negative, exact).
func (d decimal) perMTok(param string) (billing.PicoPerToken, error) {
	if d.kind != "" {
		return 0, invalid(param, "%s must be a price in USD per 1M tokens written as a decimal string such as \"2.50\" (a plain JSON number also works), not %s.", param, d.kind)
	}
	p, err := billing.ParsePerMTok(d.text)
	switch {
	case errors.Is(err, billing.ErrOverflow):
		return 0, invalid(param, "%s %q is far too large.", param, shorten(d.text, 40))
	case err != nil:
		return 0, invalid(param, "%s %q is not a price in USD per 1M tokens: write a non-negative decimal with at most 6 decimal places, e.g. \"2.50\" or \"0.0375\" (no exponent, no spaces).", param, shorten(d.text, 40))
	}
	return p, nil
}

// decodeBody reads exactly one JSON object into dst, refusing unknown fields (a
// misspelt field must not be silently ignored) and bodies over maxBodyBytes. Errors
// name the offending field where JSON allows it.
func decodeBody(c *gin.Context, dst any) error {
	body := c.Request.Body
	if body == nil {
		body = http.NoBody
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, dst)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err, dst)
		}
		return invalid("", "The request body must hold exactly one JSON object, but more follows it.")
	}
	return nil
}

// decodeError turns encoding/json's errors into 400s (413 for size) that say what is
// wrong in the client's terms.
func decodeError(err error, dst any) error {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	const unknownPrefix = `json: unknown field "`
	switch {
	case errors.As(err, &tooBig):
		return router.APIError(router.ErrRequestTooLarge, "", "The request body is larger than %d bytes.", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return invalid("", "The request body is empty; send a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "The request body is not valid JSON: it ends before the object is complete.")
	case errors.As(err, &syntax):
		return invalid("", "The request body is not valid JSON (at byte %d: %v).", syntax.Offset, syntax)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return invalid("", "The request body must be a JSON object, not %s.", typeErr.Value)
		}
		return invalid(typeErr.Field, "%s must be %s, not %s.", typeErr.Field, jsonKindName(typeErr.Type), typeErr.Value)
	case strings.HasPrefix(err.Error(), unknownPrefix):
		name := strings.TrimSuffix(strings.TrimPrefix(err.Error(), unknownPrefix), `"`)
		return invalid(name, "Unknown field %q. This endpoint accepts: %s.", name, strings.Join(jsonFields(dst), ", "))
	}
	return invalid("", "The request body is not valid JSON: %v.", err)
}

// jsonKindName describes a Go type the way a JSON client thinks of it.
func jsonKindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a different type"
}

// jsonFields lists the JSON names of a request struct's fields, for the message
// that refuses an unknown one.
func jsonFields(dst any) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
