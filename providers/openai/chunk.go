package openai

import (
	"encoding/json"
	"errors"
)

// errChunkError marks a chunk that is an {"error":…} object rather than a completion.
var errChunkError = errors.New("chunk carries an error")

// errChunkInvalid marks a chunk that is not valid JSON.
var errChunkInvalid = errors.New("chunk is not valid JSON")

// chunkParser extracts what the gateway needs from one chat.completion.chunk: the
// generated text, the usage and whether the chunk has choices. It runs once per
// streamed event, so it first tries a hand-written scanner that does not allocate and
// falls back to encoding/json for anything the scanner does not handle exactly
// like encoding/json would (escaped or case-variant keys, duplicate keys, unexpected
// types, error objects, invalid JSON). A fuzz test holds the two to the same results.
type chunkParser struct {
	text     []byte // text of the chunk; reused between chunks
	usage    usageJSON
	hasUsage bool // usage was a JSON object
	choices  int  // number of entries in choices

	spans []strSpan // scratch: tool call arguments of one delta
}

// strSpan is a JSON string's contents as they appear in the input.
type strSpan struct {
	raw     []byte
	escaped bool // has escapes or non-ASCII bytes, so it must be decoded
}

// parse fills p from data, returning errChunkError or errChunkInvalid when the chunk
// cannot be used as a completion chunk.
func (p *chunkParser) parse(data []byte) error {
	if p.parseFast(data) {
		return nil
	}
	return p.parseSlow(data)
}

// chunkJSON is the part of a chunk the gateway reads, for encoding/json.
type chunkJSON struct {
	Choices []struct {
		Delta deltaJSON `json:"delta"`
	} `json:"choices"`
	Usage *usageJSON      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

type deltaJSON struct {
	Content          string `json:"content"`
	ReasoningContent string `json:"reasoning_content"` // DeepSeek, vLLM, Qwen
	Reasoning        string `json:"reasoning"`         // OpenRouter, newer vLLM
	ToolCalls        []struct {
		Function struct {
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
	FunctionCall struct {
		Arguments string `json:"arguments"`
	} `json:"function_call"`
}

func (p *chunkParser) reset() {
	p.text = p.text[:0]
	p.usage = usageJSON{}
	p.hasUsage = false
	p.choices = 0
}

// parseSlow is the reference: encoding/json into chunkJSON. Fields of an unexpected
// type are left empty rather than failing the chunk, since the chunk itself is still
// forwarded to the client as is.
func (p *chunkParser) parseSlow(data []byte) error {
	p.reset()
	if s := (scanner{b: data}); s.peek() != '{' {
		return errChunkInvalid // valid JSON perhaps, but not a chunk
	}
	var c chunkJSON
	if err := json.Unmarshal(data, &c); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return errChunkInvalid
		}
	}
	if isError(c.Error) {
		return errChunkError
	}
	p.choices = len(c.Choices)
	for i := range c.Choices {
		d := &c.Choices[i].Delta
		p.text = append(p.text, d.Content...)
		if d.ReasoningContent != "" {
			p.text = append(p.text, d.ReasoningContent...)
		} else {
			p.text = append(p.text, d.Reasoning...)
		}
		for _, tc := range d.ToolCalls {
			p.text = append(p.text, tc.Function.Arguments...)
		}
		p.text = append(p.text, d.FunctionCall.Arguments...)
	}
	if c.Usage != nil {
		p.usage, p.hasUsage = *c.Usage, true
	}
	return nil
}

// parseFast scans data without allocating; false means "ask encoding/json".
func (p *chunkParser) parseFast(data []byte) bool {
	p.reset()
	s := scanner{b: data}
	var seen uint8
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "choices":
			return once(&seen, 1) && s.nullOr('[', func() bool {
				return s.array(func() bool {
					p.choices++
					return s.nullOr('{', p.choice(&s))
				})
			})
		case "usage":
			return once(&seen, 2) && s.nullOr('{', func() bool {
				p.hasUsage = true
				return s.usage(&p.usage)
			})
		case "error":
			// An error object goes to encoding/json, which reports it.
			return once(&seen, 4) && s.literal("null")
		}
		return !foldsTo(key, "choices", "usage", "error") && s.skip(0)
	})
	s.ws()
	return ok && s.i == len(s.b)
}

// choice returns the member scanner of one element of choices.
func (p *chunkParser) choice(s *scanner) func() bool {
	return func() bool {
		var seen uint8
		return s.object(func(key []byte) bool {
			if string(key) == "delta" {
				return once(&seen, 1) && s.nullOr('{', func() bool { return p.delta(s) })
			}
			return !foldsTo(key, "delta") && s.skip(0)
		})
	}
}

// delta scans one delta object and appends its text in the reference order:
// content, reasoning, tool call arguments, function call arguments.
func (p *chunkParser) delta(s *scanner) bool {
	var content, reasoningContent, reasoning, fnArgs strSpan
	p.spans = p.spans[:0]
	var seen uint8
	ok := s.object(func(key []byte) bool {
		switch string(key) {
		case "content":
			return once(&seen, 1) && s.optString(&content)
		case "reasoning_content":
			return once(&seen, 2) && s.optString(&reasoningContent)
		case "reasoning":
			return once(&seen, 4) && s.optString(&reasoning)
		case "tool_calls":
			return once(&seen, 8) && s.nullOr('[', func() bool {
				return s.array(func() bool {
					var args strSpan
					ok := s.nullOr('{', func() bool { return s.function(&args) })
					p.spans = append(p.spans, args)
					return ok
				})
			})
		case "function_call":
			return once(&seen, 16) && s.nullOr('{', func() bool { return s.arguments(&fnArgs) })
		}
		return !foldsTo(key, "content", "reasoning_content", "reasoning", "tool_calls", "function_call") && s.skip(0)
	})
	if !ok {
		return false
	}
	p.text = appendString(p.text, content)
	if len(reasoningContent.raw) > 0 {
		p.text = appendString(p.text, reasoningContent)
	} else {
		p.text = appendString(p.text, reasoning)
	}
	for _, a := range p.spans {
		p.text = appendString(p.text, a)
	}
	p.text = appendString(p.text, fnArgs)
	return true
}

// once records bit in seen and reports whether it was new: a repeated key goes to
// encoding/json, whose last-one-wins rule the scanner does not copy.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}
