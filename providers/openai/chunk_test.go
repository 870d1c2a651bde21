package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

// chunkSamples are chunks as OpenAI and compatible hosts send them; they seed the
// fuzz test and drive the benchmarks.
var chunkSamples = map[string]string{
	"Content":   `{"id":"chatcmpl-BkQ9aLr0Tn4WbHc7XkE2uJ5sVy8Qo","object":"chat.completion.chunk","created":1750241390,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_34a54ae93c","choices":[{"index":0,"delta":{"content":" capital"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	"Role":      `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}`,
	"Usage":     `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":24,"completion_tokens":7,"total_tokens":31,"prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
	"ToolCall":  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\": \"Paris, Fran"}}]},"logprobs":null,"finish_reason":null}]}`,
	"Reasoning": `{"id":"1","object":"chat.completion.chunk","created":1,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Ok, the user asks about é and 😀"},"logprobs":null,"finish_reason":null}]}`,
	"Logprobs":  `{"id":"1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.0012,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-1.2e-3,"bytes":[72,105]}]}],"refusal":null},"finish_reason":null}]}`,
}

func TestChunkParser(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		fast      bool // expected to stay on the fast path
		err       error
		text      string
		hasUsage  bool
		choices   int
		cached    int64
		reasoning int64
	}{
		{name: "Content", data: chunkSamples["Content"], fast: true, text: " capital", choices: 1},
		{name: "Usage", data: chunkSamples["Usage"], fast: true, hasUsage: true, cached: 8, reasoning: 2},
		{name: "ToolCall", data: chunkSamples["ToolCall"], fast: true, text: `{"location": "Paris, Fran`, choices: 1},
		{name: "Logprobs", data: chunkSamples["Logprobs"], fast: true, text: "Hi", choices: 1},
		{name: "WhiteSpace", data: " {\n\"choices\" : [ { \"delta\" : { \"content\" : \"a\" } } ] }\n", fast: true, text: "a", choices: 1},
		{name: "NullDelta", data: `{"choices":[{"delta":null},null]}`, fast: true, choices: 2},
		{name: "CaseVariantKey", data: `{"choices":[{"Delta":{"CONTENT":"x"}}]}`, fast: false, text: "x", choices: 1},
		{name: "DuplicateKey", data: `{"choices":[{"delta":{"content":"a","content":"b"}}]}`, fast: false, text: "b", choices: 1},
		{name: "WrongTypeIgnored", data: `{"choices":[{"delta":{"content":5}}]}`, fast: false, choices: 1},
		{name: "EscapedKey", data: `{"ch\u006fices":[{"delta":{"content":"x"}}]}`, fast: false, text: "x", choices: 1},
		{name: "FloatTokens", data: `{"usage":{"prompt_tokens":1.5}}`, fast: false, hasUsage: true},
		{name: "ErrorObject", data: `{"error":{"message":"boom"}}`, fast: false, err: errChunkError},
		{name: "ErrorNull", data: `{"error":null,"choices":[]}`, fast: true},
		{name: "NotJSON", data: `{"choices":[`, fast: false, err: errChunkInvalid},
		{name: "NotAnObject", data: `"hello"`, fast: false, err: errChunkInvalid},
		{name: "TrailingGarbage", data: `{"choices":[]} x`, fast: false, err: errChunkInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p chunkParser
			if got := p.parseFast([]byte(tt.data)); got != tt.fast {
				t.Errorf("parseFast = %v, want %v", got, tt.fast)
			}
			if err := p.parse([]byte(tt.data)); err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if string(p.text) != tt.text || p.hasUsage != tt.hasUsage || p.choices != tt.choices ||
				p.usage.PromptTokensDetails.CachedTokens != tt.cached || p.usage.CompletionTokensDetails.ReasoningTokens != tt.reasoning {
				t.Errorf("got text %q usage %v %+v choices %d", p.text, p.hasUsage, p.usage, p.choices)
			}
		})
	}
}

func TestChunkParserDoesNotAllocate(t *testing.T) {
	var p chunkParser
	for name, data := range chunkSamples {
		b := []byte(data)
		p.parse(b) // grow the buffers once
		if allocs := testing.AllocsPerRun(100, func() { p.parse(b) }); allocs != 0 {
			t.Errorf("%s: %v allocations per chunk", name, allocs)
		}
	}
}

// FuzzChunkParser holds the fast path to encoding/json's results: whenever the
// scanner accepts a chunk, the input is valid JSON and encoding/json reads the same
// text, usage and choice count from it.
func FuzzChunkParser(f *testing.F) {
	for _, s := range chunkSamples {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"choices":[{"delta":{"content":"\ud83d\ude00 \ud800 \udc00x \u0041\t"}}]}`,
		`{"choices":[{"delta":{"content":"bad utf8 \xff\xfe"}}]}`,
		`{"choices":null,"usage":{"prompt_tokens":-0,"completion_tokens":1e2}}`,
		`{"choices":[{"delta":{"tool_calls":[null,{"function":null},{"function":{"arguments":null}}]}}]}`,
		`{"choices":[{"delta":{"reasoning":"r","reasoning_content":""}}],"usage":{"prompt_cache_hit_tokens":3}}`,
		`{"a":[[[[{"b":true,"c":false,"d":null,"e":-1.5E+3}]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, slow chunkParser
		if !fast.parseFast(data) {
			slow.parse(data) // must not panic either
			return
		}
		if !json.Valid(data) {
			t.Fatalf("fast path accepted invalid JSON %q", data)
		}
		if err := slow.parseSlow(data); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json says %v", data, err)
		}
		if !bytes.Equal(fast.text, slow.text) || fast.usage != slow.usage || fast.hasUsage != slow.hasUsage || fast.choices != slow.choices {
			t.Fatalf("input %q\nfast: %q %+v %v %d\nslow: %q %+v %v %d", data,
				fast.text, fast.usage, fast.hasUsage, fast.choices, slow.text, slow.usage, slow.hasUsage, slow.choices)
		}
	})
}

// repeater yields data over and over, like an upstream that never stops.
type repeater struct {
	data []byte
	off  int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func (r *repeater) Close() error { return nil }

// BenchmarkRecv measures Recv per chunk without the network: SSE framing, chunk
// parsing and building the Chunk.
func BenchmarkRecv(b *testing.B) {
	for _, name := range []string{"Content", "ToolCall", "Reasoning", "Usage"} {
		b.Run(name, func(b *testing.B) {
			event := "data: " + chunkSamples[name] + "\n\n"
			body := &repeater{data: []byte(strings.Repeat(event, 64))}
			s := &stream{c: New(Config{}), ctx: context.Background(), body: body, events: sse.NewReader(body)}
			b.SetBytes(int64(len(event)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Recv(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChunkParse compares the fast path with encoding/json on one chunk.
func BenchmarkChunkParse(b *testing.B) {
	data := []byte(chunkSamples["Content"])
	var p chunkParser
	b.Run("Fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.parseFast(data)
		}
	})
	b.Run("EncodingJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.parseSlow(data)
		}
	})
}

// BenchmarkChatStreamLoopback streams from the fake upstream over loopback HTTP and
// reports the cost per chunk, fake included.
func BenchmarkChatStreamLoopback(b *testing.B) {
	fake := providertest.NewOpenAI()
	defer fake.Close()
	fake.SetRecording(false)
	const perStream = 1000
	fake.SetBehavior(providertest.Behavior{Text: strings.Repeat("tok ", perStream), Chunks: perStream})
	c := New(Config{BaseURL: fake.URL(), HTTPClient: fake.Client()})
	var st providers.ChatStream
	open := func() {
		var err error
		if st, err = c.ChatStream(context.Background(), chatReq(streamBody)); err != nil {
			b.Fatal(err)
		}
	}
	open()
	b.ReportAllocs()
	for b.Loop() {
		_, err := st.Recv()
		if err == io.EOF {
			st.Close()
			open()
		} else if err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
}

// usageSamples are usage objects the scanner reads and ones it leaves to
// encoding/json (a float, a duplicate, a key in other case or escaped, wrong types).
var usageSamples = []string{
	`{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}`,
	`{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":7}}`,
	` { "prompt_tokens" : 3 , "prompt_cache_hit_tokens" : 2 , "prompt_tokens_details" : null } `,
	`{"prompt_tokens":1e2,"completion_tokens":1}`,
	`{"prompt_tokens":1,"prompt_tokens":2}`,
	`{"Prompt_Tokens":5,"completion_tokens":1}`,
	`{"\u0070rompt_tokens":5}`,
	`{"prompt_tokens":"5","completion_tokens":[1],"completion_tokens_details":{"reasoning_tokens":true}}`,
	`{"prompt_tokens":99999999999999999999}`,
	`{"prompt_tokens_details":{"cached_tokens":4},"prompt_tokens_details":{}}`,
}

// FuzzDecodeUsage holds decodeUsage to encoding/json's result on every valid object.
func FuzzDecodeUsage(f *testing.F) {
	for _, s := range usageSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return // decodeUsage reads only members of a validated body
		}
		var want usageJSON
		_ = json.Unmarshal(data, &want)
		if got := decodeUsage(data); *got != want {
			t.Fatalf("input %q\ngot  %+v\nwant %+v", data, *got, want)
		}
	})
}

func TestDecodeUsageReadsTheUsualObjectWithoutEncodingJSON(t *testing.T) {
	raw := []byte(usageSamples[1])
	var u usageJSON
	if s := (scanner{b: raw}); !s.usage(&u) {
		t.Fatal("the scanner refused a usual usage object")
	}
	if got := decodeUsage(raw); got.PromptTokens != 9 || got.CompletionTokens != 12 || got.PromptTokensDetails.CachedTokens != 4 || got.CompletionTokensDetails.ReasoningTokens != 7 {
		t.Fatalf("got %+v", *got)
	}
	if n := testing.AllocsPerRun(100, func() { decodeUsage(raw) }); n > 1 && !raceDetector {
		t.Fatalf("decodeUsage allocates %v times, want only its result", n)
	}
}
