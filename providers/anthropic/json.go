package anthropic

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tollgate-gw/tollgate/providers/internal/jsonenc"
)

// appendString appends s as a JSON string (see jsonenc.AppendString).
func appendString(b []byte, s string) []byte { return jsonenc.AppendString(b, s) }

// rawString is a JSON string member kept in its encoded form, so the stream
// translation can copy it into the other format without decoding and re-encoding.
// It is empty when the member is absent, null, or not a string.
type rawString []byte

// UnmarshalJSON implements json.Unmarshaler. The slice aliases the input, which
// encoding/json permits only for the duration of the call, so it is copied.
func (r *rawString) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		*r = nil
		return nil
	}
	*r = append(rawString(nil), b...)
	return nil
}

// text decodes the string with a single allocation; anything unusual (invalid
// UTF-8, a broken escape) is left to encoding/json, whose result it must equal.
func (r rawString) text() string {
	if len(r) < 2 {
		return ""
	}
	inner := r[1 : len(r)-1]
	if !hasEscape(inner) {
		if utf8.Valid(inner) {
			return string(inner)
		}
	} else {
		var stack [256]byte
		if b, ok := unescape(stack[:0], inner); ok {
			return string(b)
		}
	}
	var s string
	_ = json.Unmarshal(r, &s)
	return s
}

// unescape appends the decoded contents of a JSON string to b; ok is false for
// what it leaves to encoding/json.
func unescape(b, in []byte) (out []byte, ok bool) {
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			if c >= utf8.RuneSelf || c < 0x20 {
				if c < 0x20 {
					return nil, false
				}
				r, size := utf8.DecodeRune(in[i:])
				if r == utf8.RuneError && size == 1 {
					return nil, false
				}
				b = append(b, in[i:i+size]...)
				i += size
				continue
			}
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(in) {
			return nil, false
		}
		switch in[i+1] {
		case '"', '\\', '/':
			b = append(b, in[i+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, n := hex4(in[i+2:])
			if n < 0 {
				return nil, false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), -1
				if i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
					r2, n2 = hex4(in[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); n2 >= 0 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return b, true
}

// hex4 reads four hex digits; n is -1 when there are not.
func hex4(b []byte) (r rune, n int) {
	if len(b) < 4 {
		return 0, -1
	}
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, -1
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}

// empty reports whether the string is absent or "".
func (r rawString) empty() bool { return len(r) <= 2 }

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}
