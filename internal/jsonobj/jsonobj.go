// Package jsonobj reads the top-level members of a JSON object without decoding
// their values, and writes members back: what the gateway needs to read a few fields
// of a request or an answer and forward the rest untouched, without parsing a body
// twice or re-encoding it through a map.
//
// Members reads what json.Unmarshal into a map[string]json.RawMessage reads; Find
// reads what json.Unmarshal into a struct of json.RawMessage fields reads.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

var (
	// ErrInvalid is returned for a body that is not valid JSON: a syntax error,
	// data after the value, or nesting deeper than encoding/json allows.
	ErrInvalid = errors.New("jsonobj: not valid JSON")
	// ErrNotObject is returned for valid JSON that is not an object (null included).
	ErrNotObject = errors.New("jsonobj: not a JSON object")
)

// A Member is one top-level member of a JSON object.
type Member struct {
	Key string // the name, unescaped
	Raw []byte // the value's JSON text, without surrounding space; it aliases the body
}

// smallObject is the member count up to which duplicate keys are found by comparing
// every pair; a larger object (only a hostile client sends one) uses a map.
const smallObject = 32

// Members returns the members of the JSON object body in the body's order. It refuses
// what json.Unmarshal into a map refuses, and null. A key that occurs more than once
// keeps only its last value, at its last position: the result of assigning members
// in order, as encoding/json does into a map or a struct, so that a rewritten body
// carries each key once and with the value the gateway read.
func Members(body []byte) ([]Member, error) {
	it, err := start(body)
	if err != nil {
		return nil, err
	}
	ms := make([]Member, 0, 16) // one allocation for a typical request
	var quotedArray [16][]byte
	quoted := quotedArray[:0]
	size := 0
	for {
		key, raw, ok := it.next()
		if !ok {
			break
		}
		ms = append(ms, Member{Raw: raw})
		quoted = append(quoted, key)
		size += len(key)
	}
	// The plain keys (nearly all) share one string, one allocation for them all.
	var b strings.Builder
	b.Grow(size)
	for _, q := range quoted {
		if plain(q[1 : len(q)-1]) {
			b.Write(q[1 : len(q)-1])
		}
	}
	keys := b.String()
	for i, q := range quoted {
		if n := len(q) - 2; plain(q[1 : len(q)-1]) {
			ms[i].Key, keys = keys[:n], keys[n:]
		} else {
			ms[i].Key = unquote(q)
		}
	}
	return dropDuplicates(ms), nil
}

// Find returns the values of the named top-level members of the JSON object body,
// values[i] for names[i] and nil where absent, without decoding the rest. Names match
// keys as encoding/json matches struct field names: case-insensitively
// (strings.EqualFold), the last matching member winning. It refuses what
// json.Unmarshal refuses (ErrInvalid) and any value but an object (ErrNotObject).
func Find(body []byte, names ...string) ([][]byte, error) {
	it, err := start(body)
	if err != nil {
		return nil, err
	}
	values := make([][]byte, len(names))
	for {
		key, raw, ok := it.next()
		if !ok {
			return values, nil
		}
		for i, name := range names {
			if keyMatches(key, name) {
				values[i] = raw
			}
		}
	}
}

// Each calls f with the key (quoted, as in the body) and the value of every member
// of the object obj, in order, and reports whether obj is an object. obj must be
// valid JSON, such as a value Members or Find returned: it is not checked again.
func Each(obj []byte, f func(quotedKey, raw []byte)) bool {
	if len(obj) == 0 || obj[0] != '{' {
		return false
	}
	it := iter{b: obj, i: 1}
	for {
		key, raw, ok := it.next()
		if !ok {
			return true
		}
		f(key, raw)
	}
}

// Elements calls f with every element of the array arr, in order, and reports
// whether arr is an array. Like Each, it trusts arr to be valid JSON.
func Elements(arr []byte, f func(raw []byte)) bool {
	if len(arr) == 0 || arr[0] != '[' {
		return false
	}
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := endOfValue(arr, i)
		f(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return true
}

// Plain reports whether the quoted JSON string q is its own text between its quotes
// (no escapes, valid UTF-8), so that it can be used without decoding. q must be the
// string alone: with whitespace after it, its last byte is no quote.
func Plain(q []byte) bool {
	return len(q) >= 2 && q[0] == '"' && q[len(q)-1] == '"' && plain(q[1:len(q)-1])
}

// Get returns the value of the member named key (exactly), if there is one.
func Get(members []Member, key string) ([]byte, bool) {
	for _, m := range members {
		if m.Key == key {
			return m.Raw, true
		}
	}
	return nil, false
}

// AppendMember appends `"key":raw` to dst, which holds an object being written from
// its opening brace on, with a comma unless it is the object's first member. raw must
// be one valid JSON value.
func AppendMember(dst []byte, key string, raw []byte) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = AppendString(dst, key)
	dst = append(dst, ':')
	return append(dst, raw...)
}

// AppendString appends s as a JSON string. Plain text is copied as is; anything else
// is encoded by encoding/json.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// iter walks the members of an object in a body already known to be valid JSON, so
// it needs to find only where each key and value ends.
type iter struct {
	b []byte
	i int
}

// start validates body and returns an iterator over its object's members.
func start(body []byte) (iter, error) {
	if !Valid(body) {
		return iter{}, ErrInvalid
	}
	i := skipSpace(body, 0) // valid JSON is never only space
	if body[i] != '{' {
		return iter{}, ErrNotObject
	}
	return iter{b: body, i: i + 1}, nil
}

// next returns the next member's key (quoted, as in the body) and value, or false at
// the end of the object.
func (it *iter) next() (key, raw []byte, ok bool) {
	b := it.b
	i := skipSpace(b, it.i)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	if b[i] == '}' {
		return nil, nil, false
	}
	end := endOfString(b, i)
	key = b[i:end]
	i = skipSpace(b, end) // at the colon
	i = skipSpace(b, i+1) // at the value
	end = endOfValue(b, i)
	it.i = end
	return key, b[i:end], true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string whose opening quote is at i. Its
// closing quote is the first one not escaped, that is not after an odd run of
// backslashes; IndexByte finds quotes much faster than a loop over every byte.
func endOfString(b []byte, i int) int {
	for i++; ; i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		n := 0
		for b[i-1-n] == '\\' { // stops at the opening quote at the latest
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
	}
}

// endOfValue returns the index after the value that starts at i.
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = endOfString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	// A number or a literal: it ends where the object's grammar goes on.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// unquote returns a quoted key's text. Keys are almost always plain text; those with
// escapes or invalid UTF-8 are decoded by encoding/json, for its exact result
// (invalid bytes become U+FFFD).
func unquote(quoted []byte) string {
	s := quoted[1 : len(quoted)-1]
	if !plain(s) {
		var k string
		_ = json.Unmarshal(quoted, &k) // valid: the body was validated
		return k
	}
	return string(s)
}

// plain reports whether a string's body (between its quotes) is its own text: no
// escapes, valid UTF-8.
func plain(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || utf8.Valid(s)
}

// keyMatches reports whether a quoted key names the field name, as encoding/json
// matches keys to struct fields.
func keyMatches(quoted []byte, name string) bool {
	s := quoted[1 : len(quoted)-1]
	if !plain(s) {
		return strings.EqualFold(unquote(quoted), name)
	}
	return strings.EqualFold(string(s), name) // a short key converts on the stack
}

// dropDuplicates removes every member whose key comes again later, in place.
func dropDuplicates(ms []Member) []Member {
	later := func(i int) bool {
		for _, m := range ms[i+1:] {
			if m.Key == ms[i].Key {
				return true
			}
		}
		return false
	}
	if len(ms) > smallObject {
		last := make(map[string]int, len(ms))
		for i, m := range ms {
			last[m.Key] = i
		}
		later = func(i int) bool { return last[ms[i].Key] != i }
	}
	out := ms[:0]
	for i := range ms {
		if !later(i) {
			out = append(out, ms[i]) // writes at or before i: later members are intact
		}
	}
	return out
}
