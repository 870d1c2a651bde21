package anthropic

import (
	"encoding/json"
	"testing"
)

var scanSeeds = []string{
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`,
	`{"type":"content_block_delta","index":12,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think\n"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}`,
	` { "delta" : { "text" : "é \u00e9 \ud83d\ude00" , "type" : "text_delta" } , "index" : 3 , "type" : "content_block_delta" } `,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a","text":"b"}}`,
	`{"Type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}`,
	`{"type":"content_block_delta","index":1.0,"delta":{"type":"text_delta","text":"a"}}`,
	`{"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"a"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":null}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"x"}}}`,
	`{"type":"content_block_\u0064elta","index":0,"delta":{"type":"text_delta","text":"a"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\x01"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}} x`,
	`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}`,
	`{"type":"ping"}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\xff"}}`,
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cut`,
	`{"type":"content_block_delta","index":00,"delta":{"type":"text_delta","text":"a"}}`,
}

// parseSlow is the reference: encoding/json alone.
func parseSlow(data []byte) (event, bool) {
	var ev event
	if firstNonSpace(data) != '{' {
		return ev, false
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); !ok {
			return ev, false
		}
	}
	return ev, true
}

// sameEvent compares what the adapters read of two parses.
func sameEvent(a, b *event) bool {
	return a.Type == b.Type && a.Index == b.Index && a.Delta.Type == b.Delta.Type &&
		a.Delta.Text.text() == b.Delta.Text.text() && a.Delta.PartialJSON.text() == b.Delta.PartialJSON.text() &&
		a.Delta.Thinking.text() == b.Delta.Thinking.text() &&
		a.Delta.Text.empty() == b.Delta.Text.empty() && a.Delta.PartialJSON.empty() == b.Delta.PartialJSON.empty()
}

func TestScanDeltaMatchesEncodingJSON(t *testing.T) {
	for _, s := range scanSeeds {
		checkScan(t, []byte(s))
	}
	var ev event
	if !scanDelta([]byte(scanSeeds[0]), &ev) {
		t.Error("the common text delta is not scanned by hand")
	}
}

func FuzzScanDelta(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkScan)
}

func checkScan(t *testing.T, data []byte) {
	var fast event
	if !scanDelta(data, &fast) {
		return // encoding/json reads it
	}
	slow, ok := parseSlow(data)
	if !ok {
		t.Fatalf("scanner accepted what encoding/json refuses: %q", data)
	}
	if !sameEvent(&fast, &slow) {
		t.Fatalf("scanner and encoding/json differ on %q:\n%+v\n%+v", data, fast, slow)
	}
}

var textSeeds = []string{
	`""`, `"plain"`, `"é😀"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u0041"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`,
	`"\ude00\ud83d"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\x01"`, `"\xff"`, `"a\u12"`, `"a\q"`, `"\"`,
}

func FuzzRawStringText(f *testing.F) {
	for _, s := range textSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkText)
}

func TestRawStringText(t *testing.T) {
	for _, s := range textSeeds {
		checkText(t, []byte(s))
	}
}

// checkText holds rawString.text to encoding/json's decoding of every valid string.
func checkText(t *testing.T, raw []byte) {
	var want string
	// rawString holds exactly one string token, as the scanner and UnmarshalJSON give it.
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' || json.Unmarshal(raw, &want) != nil {
		return
	}
	if got := rawString(raw).text(); got != want {
		t.Fatalf("text(%q) = %q, encoding/json says %q", raw, got, want)
	}
}

var chunkSeeds = []string{
	`{"id":"chatcmpl-BkQ9a","object":"chat.completion.chunk","created":1750241390,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_34a","choices":[{"index":0,"delta":{"content":" the weather"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Par"}}]}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"g","arguments":"{}"}},{"index":0,"function":{"arguments":"x"}}]}}]}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}`,
	`{"id":"c","choices":[{"index":1,"delta":{"content":"b"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}`,
	`{"id":"c","Choices":[{"index":0,"delta":{"content":"a"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"Content":"a","content":"b"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"},"delta":{"refusal":"b"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":null,"refusal":"No."},"finish_reason":"content_filter"}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a\"\u00e9\n"},"x":[1,-2.5e3,true,false,null,{"y":[]}]}]}`,
	`{"id":"c","choices":[{"index":0,"message":{"content":"a"}}]}`,
	`{"id":"c","choices":null}`,
	`{"error":{"message":"boom","type":"server_error"}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":5}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":null,"finish_reason":""}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}],"obfuscation":"x1"}`,
	`{"id":"c","choices":[{"index":00,"delta":{"content":"a"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]}garbage`,
	`[DONE]`,
}

// encoderPrelude puts an encoder in the middle of a stream with a text block open
// and a tool call known, so the chunk under test can take every branch.
var encoderPrelude = []string{
	`{"id":"p","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_0","function":{"name":"f","arguments":""}}]}}]}`,
	`{"id":"p","choices":[{"index":0,"delta":{"content":"open"}}]}`,
}

func TestEncoderFastPathMatchesEncodingJSON(t *testing.T) {
	for _, s := range chunkSeeds {
		checkEncoderPaths(t, []byte(s))
	}
	var e EventEncoder
	if !e.fast.scan([]byte(chunkSeeds[0]), &e.chunk, true) {
		t.Error("the common content chunk is not scanned by hand")
	}
}

func FuzzEncoderFastPath(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkEncoderPaths)
}

// checkEncoderPaths feeds chunk to two encoders in the same state, one of which may
// scan by hand: their events and errors must be the same.
func checkEncoderPaths(t *testing.T, chunk []byte) {
	fast, slow := NewEventEncoder("m", 7), NewEventEncoder("m", 7)
	slow.noFast = true
	for _, p := range encoderPrelude {
		fast.Encode([]byte(p))
		slow.Encode([]byte(p))
	}
	a, errA := fast.Encode(chunk)
	b, errB := slow.Encode(chunk)
	if (errA == nil) != (errB == nil) {
		t.Fatalf("%q: errors differ: %v / %v", chunk, errA, errB)
	}
	if len(a) != len(b) {
		t.Fatalf("%q: %d events by hand, %d by encoding/json", chunk, len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Data) != string(b[i].Data) {
			t.Fatalf("%q: event %d differs:\n%s %s\n%s %s", chunk, i, a[i].Name, a[i].Data, b[i].Name, b[i].Data)
		}
	}
}
