package openai

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tollgate-gw/tollgate/internal/jsonobj"
)

// maxScanDepth bounds nesting in skipped values; deeper input goes to encoding/json.
const maxScanDepth = 64

// scanner is a minimal validating JSON reader over one chunk. Each method consumes
// one value at s.i (after optional white space) and returns false when the input is
// invalid or is something the fast path leaves to encoding/json.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // the usual case: compact JSON
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object consumes an object, calling member with each key; member consumes the value.
// Keys with escapes or non-ASCII bytes are refused, so a key can be compared as is.
func (s *scanner) object(member func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok || key.escaped || s.peek() != ':' {
			return false
		}
		s.i++
		if !member(key.raw) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// array consumes an array, calling elem to consume each element.
func (s *scanner) array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// nullOr consumes null, or a value starting with open through parse; any other type
// is refused.
func (s *scanner) nullOr(open byte, parse func() bool) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case open:
		return parse()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	s.ws()
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// str consumes a string and returns its raw contents.
func (s *scanner) str() (strSpan, bool) {
	if s.peek() != '"' {
		return strSpan{}, false
	}
	start := s.i + 1
	escaped := false
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if plain[c] {
			continue
		}
		switch {
		case c == '"':
			s.i = j + 1
			return strSpan{raw: s.b[start:j], escaped: escaped}, true
		case c == '\\':
			escaped = true
			j++
			if j >= len(s.b) {
				return strSpan{}, false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-j <= 4 || !isHex4(s.b[j+1:j+5]) {
					return strSpan{}, false
				}
				j += 4
			default:
				return strSpan{}, false
			}
		case c < 0x20:
			return strSpan{}, false
		default: // c >= utf8.RuneSelf
			escaped = true
		}
	}
	return strSpan{}, false
}

// plain marks the bytes a string can hold that need no attention: printable ASCII
// other than the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// optString consumes a string into dst, or null leaving dst empty.
func (s *scanner) optString(dst *strSpan) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	v, ok := s.str()
	*dst = v
	return ok
}

// number consumes a number in exact JSON grammar and returns its text.
func (s *scanner) number() ([]byte, bool) {
	s.ws()
	end := jsonobj.EndOfNumber(s.b, s.i)
	if end < 0 {
		return nil, false
	}
	text := s.b[s.i:end]
	s.i = end
	return text, true
}

// int consumes an integer into dst, or null leaving it alone; a fraction, exponent
// or overflow is refused, as encoding/json refuses it for an int64 field.
func (s *scanner) int(dst *int64) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	text, ok := s.number()
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	*dst = n
	return err == nil
}

// skip consumes any value.
func (s *scanner) skip(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.number()
	return ok
}

// usage consumes a usage object into u.
func (s *scanner) usage(u *usageJSON) bool {
	var seen uint8
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "prompt_tokens":
			return once(&seen, 1) && s.int(&u.PromptTokens)
		case "completion_tokens":
			return once(&seen, 2) && s.int(&u.CompletionTokens)
		case "total_tokens":
			return once(&seen, 4) && s.int(&u.TotalTokens)
		case "prompt_cache_hit_tokens":
			return once(&seen, 8) && s.int(&u.PromptCacheHitTokens)
		case "prompt_tokens_details":
			return once(&seen, 16) && s.nullOr('{', func() bool {
				return s.oneInt("cached_tokens", &u.PromptTokensDetails.CachedTokens)
			})
		case "completion_tokens_details":
			return once(&seen, 32) && s.nullOr('{', func() bool {
				return s.oneInt("reasoning_tokens", &u.CompletionTokensDetails.ReasoningTokens)
			})
		}
		return !foldsTo(key, "prompt_tokens", "completion_tokens", "total_tokens", "prompt_cache_hit_tokens",
			"prompt_tokens_details", "completion_tokens_details") && s.skip(0)
	})
}

// oneInt consumes an object of which only the integer member name is wanted.
func (s *scanner) oneInt(name string, dst *int64) bool {
	var seen uint8
	return s.object(func(key []byte) bool {
		if string(key) == name {
			return once(&seen, 1) && s.int(dst)
		}
		return !foldsTo(key, name) && s.skip(0)
	})
}

// function consumes a tool call object and records its function's arguments.
func (s *scanner) function(args *strSpan) bool {
	var seen uint8
	return s.object(func(key []byte) bool {
		if string(key) == "function" {
			return once(&seen, 1) && s.nullOr('{', func() bool { return s.arguments(args) })
		}
		return !foldsTo(key, "function") && s.skip(0)
	})
}

// arguments consumes a function object and records its arguments string.
func (s *scanner) arguments(args *strSpan) bool {
	var seen uint8
	return s.object(func(key []byte) bool {
		if string(key) == "arguments" {
			return once(&seen, 1) && s.optString(args)
		}
		return !foldsTo(key, "arguments") && s.skip(0)
	})
}

// foldsTo reports whether the ASCII key matches one of names ignoring case, as
// encoding/json would match it to a field; such a key goes to encoding/json.
func foldsTo(key []byte, names ...string) bool {
	for _, name := range names {
		if len(key) != len(name) {
			continue
		}
		same := true
		for i := range len(key) {
			if lower(key[i]) != name[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func hex4(b []byte) rune {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// appendString appends the decoded value of a scanned string exactly as
// encoding/json decodes it, including U+FFFD for invalid UTF-8 and lone surrogates.
func appendString(dst []byte, v strSpan) []byte {
	if !v.escaped {
		return append(dst, v.raw...)
	}
	b := v.raw
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			i++
			switch b[i] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(b[i+1:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
						r2 = hex4(b[i+3:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						i += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, b[i])
			}
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, b[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}
