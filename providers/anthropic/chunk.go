package anthropic

import "strings"

// chunkScratch is the storage the hand-written chunk scanner fills, reused from
// chunk to chunk so that translating one does not allocate.
type chunkScratch struct {
	choice [1]oaChoice
	delta  oaOutput
	tools  []oaToolDelta
	finish string
}

// Member names of the structs encoding/json fills, by level: a member the scanner
// skips must not match one of these case-insensitively, as encoding/json would
// still read it.
var (
	answerMembers = []string{"id", "model", "choices", "usage", "error"}
	choiceMembers = []string{"index", "message", "delta", "finish_reason"}
	outputMembers = []string{"content", "refusal", "tool_calls"}
	toolMembers   = []string{"index", "id", "function"}
	fnMembers     = []string{"name", "arguments"}
)

// scan parses the common chat.completion.chunk — one choice whose delta has
// content, a refusal or tool calls, a finish_reason, null usage and error — into a
// without allocating (but for the id, read only when wantID, and tool call names).
// It reports false for anything else (several choices, usage, errors, escaped or
// non-ASCII member names, repeated members, invalid JSON), which then goes to
// encoding/json: a fuzz test holds the two to the same events. Text members of a
// alias data.
func (f *chunkScratch) scan(data []byte, a *oaAnswer, wantID bool) bool {
	*a = oaAnswer{}
	f.choice[0] = oaChoice{}
	f.delta = oaOutput{}
	f.tools = f.tools[:0]
	s := scanner{b: data}
	var seen, cseen, dseen uint8
	choices := 0
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			var id []byte
			if !once(&seen, 1) || !s.plainString(&id) {
				return false
			}
			if wantID {
				a.ID = string(id)
			}
			return true
		case "choices":
			return once(&seen, 2) && s.nullOr('[', func() bool {
				return s.array(func() bool {
					choices++
					return choices == 1 && s.object(func(key []byte) bool { return f.choiceMember(&s, key, &cseen, &dseen) })
				})
			})
		case "model":
			return once(&seen, 16) && s.skip(0) // the encoder names the client's model
		case "usage", "error":
			bit := uint8(4)
			if key[0] == 'e' {
				bit = 8
			}
			return once(&seen, bit) && s.literal("null")
		}
		return !folds(key, answerMembers) && s.skip(0)
	})
	s.ws()
	if !ok || s.i != len(s.b) {
		return false
	}
	if choices == 1 {
		f.delta.ToolCalls = f.tools
		a.Choices = f.choice[:]
	}
	return true
}

// choiceMember scans one member of the one element of choices.
func (f *chunkScratch) choiceMember(s *scanner, key []byte, seen, dseen *uint8) bool {
	c := &f.choice[0]
	switch string(key) {
	case "index":
		return once(seen, 1) && s.uint(&c.Index)
	case "delta":
		return once(seen, 2) && s.nullOr('{', func() bool {
			c.Delta = &f.delta
			return s.object(func(key []byte) bool { return f.deltaMember(s, key, dseen) })
		})
	case "finish_reason":
		return once(seen, 4) && s.nullOr('"', func() bool {
			var r []byte
			if !s.plainString(&r) {
				return false
			}
			f.finish = internFinish(r, f.finish)
			c.FinishReason = &f.finish
			return true
		})
	}
	return !folds(key, choiceMembers) && s.skip(0)
}

// deltaMember scans one member of a delta.
func (f *chunkScratch) deltaMember(s *scanner, key []byte, seen *uint8) bool {
	d := &f.delta
	switch string(key) {
	case "content":
		return once(seen, 1) && s.optString((*[]byte)(&d.Content))
	case "refusal":
		return once(seen, 2) && s.optString((*[]byte)(&d.Refusal))
	case "tool_calls":
		return once(seen, 4) && s.nullOr('[', func() bool {
			return s.array(func() bool {
				f.tools = append(f.tools, oaToolDelta{})
				tc := &f.tools[len(f.tools)-1]
				var tseen uint8
				return s.object(func(key []byte) bool {
					switch string(key) {
					case "index":
						return once(&tseen, 1) && s.uint(&tc.Index)
					case "id":
						return once(&tseen, 2) && s.optPlain(&tc.ID)
					case "function":
						var fseen uint8
						return once(&tseen, 4) && s.nullOr('{', func() bool {
							return s.object(func(key []byte) bool {
								switch string(key) {
								case "name":
									return once(&fseen, 1) && s.optPlain(&tc.Function.Name)
								case "arguments":
									return once(&fseen, 2) && s.optString((*[]byte)(&tc.Function.Arguments))
								}
								return !folds(key, fnMembers) && s.skip(0)
							})
						})
					}
					return !folds(key, toolMembers) && s.skip(0)
				})
			})
		})
	}
	return !folds(key, outputMembers) && s.skip(0)
}

// internFinish returns the finish reason as a string, without allocating for the
// common ones or a repeat of the previous one.
func internFinish(b []byte, prev string) string {
	switch string(b) {
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	case prev:
		return prev
	}
	return string(b)
}

// folds reports whether key matches one of names case-insensitively (the scanner
// only reads ASCII names, for which this is encoding/json's rule).
func folds(key []byte, names []string) bool {
	for _, n := range names {
		if len(n) == len(key) && strings.EqualFold(n, string(key)) {
			return true
		}
	}
	return false
}
