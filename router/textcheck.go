package router

import (
	"bytes"
	"unicode/utf8"
)

// validText reports whether a JSON body is valid UTF-8 and has no lone UTF-16
// surrogate escapes. encoding/json quietly turns both into U+FFFD, while the body
// itself is forwarded upstream: refusing them keeps what is billed and what is
// sent the same text.
//
// It jumps from quote to quote and, inside a string, from backslash to backslash
// (bytes.IndexByte), since only \u escapes need a closer look.
func validText(body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	for i := 0; i < len(body); {
		open := bytes.IndexByte(body[i:], '"')
		if open < 0 {
			return true
		}
		i += open + 1 // inside a string
		for {
			end := bytes.IndexByte(body[i:], '"')
			if end < 0 {
				end = len(body) - i // an unterminated string: its escapes are still checked
			}
			esc := bytes.IndexByte(body[i:i+end], '\\')
			if esc < 0 {
				i += end + 1 // past the closing quote
				break
			}
			i += esc
			n, ok := escapeLen(body, i)
			if !ok {
				return false
			}
			i += n
		}
	}
	return true
}

// escapeLen checks the escape at body[i] (a backslash) and returns its length: a
// \u escape must not be a lone UTF-16 surrogate.
func escapeLen(body []byte, i int) (int, bool) {
	if i+1 >= len(body) {
		return 0, false
	}
	if body[i+1] != 'u' {
		return 2, true // the escaped character, whatever it is
	}
	r, ok := hex4(body, i+2)
	if !ok {
		return 0, false
	}
	switch {
	case r >= 0xD800 && r <= 0xDBFF: // high surrogate: a low one must follow
		if i+7 >= len(body) || body[i+6] != '\\' || body[i+7] != 'u' {
			return 0, false
		}
		lo, ok := hex4(body, i+8)
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return 0, false
		}
		return 12, true
	case r >= 0xDC00 && r <= 0xDFFF: // a low surrogate on its own
		return 0, false
	}
	return 6, true
}

// hex4 reads four hex digits at body[at:].
func hex4(body []byte, at int) (rune, bool) {
	if at+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// strippedFields are body fields a client might send hoping to steer the gateway's
// upstream call; Tollgate never honours them and never forwards them.
var strippedFields = []string{"base_url", "api_base", "api_key", "api_version", "organization", "extra_headers", "extra_query"}
