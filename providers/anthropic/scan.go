package anthropic

// scanDelta parses the one event that arrives for almost every token,
// {"type":"content_block_delta","index":N,"delta":{"type":T,"text"|"partial_json"|
// "thinking"|"signature":S}}, members in any order, without allocating. It accepts
// only a strict subset of JSON and reports false for anything else (other event
// types, other or repeated members, escaped member names, numbers that are not
// plain integers, invalid JSON), which then goes to encoding/json: so the scanner
// never accepts what encoding/json would read differently. The text members of ev
// alias data.
func scanDelta(data []byte, ev *event) bool {
	s := scanner{b: data}
	var seen uint8
	var typ, dtype []byte
	var index int
	var text, partial, thinking []byte
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "type":
			return once(&seen, 1) && s.plainString(&typ)
		case "index":
			return once(&seen, 2) && s.uint(&index)
		case "delta":
			var dseen uint8
			return once(&seen, 4) && s.object(func(key []byte) bool {
				var ignored []byte
				switch string(key) {
				case "type":
					return once(&dseen, 1) && s.plainString(&dtype)
				case "text":
					return once(&dseen, 2) && s.string(&text)
				case "partial_json":
					return once(&dseen, 4) && s.string(&partial)
				case "thinking":
					return once(&dseen, 8) && s.string(&thinking)
				case "signature":
					return once(&dseen, 16) && s.string(&ignored)
				}
				return false
			})
		}
		return false
	})
	s.ws()
	if !ok || s.i != len(s.b) || seen != 7 || string(typ) != "content_block_delta" {
		return false
	}
	ev.reset()
	ev.Type = "content_block_delta"
	ev.Index = index
	ev.Delta.Type = internDelta(dtype)
	ev.Delta.Text, ev.Delta.PartialJSON, ev.Delta.Thinking = text, partial, thinking
	return true
}

// internDelta returns the delta type as a string without allocating for the known
// types.
func internDelta(b []byte) string {
	switch string(b) {
	case "text_delta":
		return "text_delta"
	case "input_json_delta":
		return "input_json_delta"
	case "thinking_delta":
		return "thinking_delta"
	case "signature_delta":
		return "signature_delta"
	case "citations_delta":
		return "citations_delta"
	}
	return string(b)
}

// once records bit in seen and reports whether it was new: a repeated member goes
// to encoding/json, whose last-one-wins rule the scanner does not copy.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// scanner walks JSON text; every method reports false at anything it does not
// accept.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object scans an object, calling member for each name with the scanner at the
// value; names with escapes are refused.
func (s *scanner) object(member func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		var key []byte
		s.ws()
		if !s.plainString(&key) || !s.consume(':') {
			return false
		}
		s.ws()
		if !member(key) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// string scans a JSON string and sets out to it, quotes and escapes included.
func (s *scanner) string(out *[]byte) bool {
	s.ws()
	start := s.i
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			*out = s.b[start:s.i]
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex(s.b[s.i+2:s.i+6]) {
					return false
				}
				s.i += 6
			default:
				return false
			}
		default:
			s.i++
		}
	}
	return false
}

// plainString scans a string of ASCII without escapes (a member name or a type)
// and sets out to its contents.
func (s *scanner) plainString(out *[]byte) bool {
	var raw []byte
	if !s.string(&raw) {
		return false
	}
	for _, c := range raw {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	*out = raw[1 : len(raw)-1]
	return true
}

// uint scans a non-negative integer small enough not to overflow.
func (s *scanner) uint(out *int) bool {
	s.ws()
	start, n := s.i, 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		n = n*10 + int(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	if digits == 0 || digits > 9 || (digits > 1 && s.b[start] == '0') {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return false
	}
	*out = n
	return true
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// nullOr scans null, or, when the next byte is open, runs value.
func (s *scanner) nullOr(open byte, value func() bool) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		return s.literal("null")
	}
	if s.i >= len(s.b) || s.b[s.i] != open {
		return false
	}
	return value()
}

// optString scans a string (kept encoded) or null (leaving out unset).
func (s *scanner) optString(out *[]byte) bool {
	return s.nullOr('"', func() bool { return s.string(out) })
}

// optPlain scans a plain ASCII string into out, or null.
func (s *scanner) optPlain(out *string) bool {
	return s.nullOr('"', func() bool {
		var b []byte
		if !s.plainString(&b) {
			return false
		}
		*out = string(b)
		return true
	})
}

// literal scans the literal word.
func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// array scans an array, calling elem with the scanner at each element.
func (s *scanner) array(elem func() bool) bool {
	if !s.consume('[') {
		return false
	}
	if s.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

// maxSkipDepth bounds the nesting of values skipped by hand; deeper ones go to
// encoding/json.
const maxSkipDepth = 16

// skip scans any JSON value without keeping it.
func (s *scanner) skip(depth int) bool {
	s.ws()
	if s.i >= len(s.b) || depth > maxSkipDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		var raw []byte
		return s.string(&raw)
	case c == '{':
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case c == '[':
		return s.array(func() bool { return s.skip(depth + 1) })
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	}
	return false
}

// number scans a JSON number.
func (s *scanner) number() bool {
	digits := func() int {
		start := s.i
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
		}
		return s.i - start
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	start := s.i
	n := digits()
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
