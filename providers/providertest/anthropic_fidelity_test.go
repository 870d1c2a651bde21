package providertest

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

func readAnthropicCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/anthropic/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// anthropicEvents reads an event stream into the data of each kind of event (the
// event name, refined by the block or delta type) and the sequence of kinds, with
// repeats collapsed.
func anthropicEvents(t *testing.T, r io.Reader) (map[string][]byte, []string) {
	t.Helper()
	byKind := map[string][]byte{}
	var seq []string
	events := sse.NewReader(r)
	for {
		ev, err := events.Next()
		if err == io.EOF {
			return byKind, seq
		}
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type         string `json:"type"`
			ContentBlock struct {
				Type string `json:"type"`
			} `json:"content_block"`
			Delta struct {
				Type string `json:"type"`
			} `json:"delta"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			t.Fatalf("event %s is not JSON: %v: %s", ev.Name, err, ev.Data)
		}
		if e.Type != ev.Name {
			t.Errorf("event %q has data of type %q", ev.Name, e.Type)
		}
		kind := ev.Name
		switch ev.Name {
		case "content_block_start":
			kind += "/" + e.ContentBlock.Type
		case "content_block_delta":
			kind += "/" + e.Delta.Type
		}
		if len(seq) == 0 || seq[len(seq)-1] != kind {
			seq = append(seq, kind)
		}
		byKind[kind] = bytes.Clone(ev.Data)
	}
}

func TestAnthropicFakeMatchesCaptures(t *testing.T) {
	s := newAnthropicFake(t)

	t.Run("Message", func(t *testing.T) {
		s.SetBehavior(AnthropicBehavior{Text: "The capital of France is Paris.", CacheCreationTokens: 188, CacheReadTokens: 2048})
		resp := postAnthropic(t, s, "/messages", anthropicBody)
		sameShape(t, "message", readAnthropicCapture(t, "message.json"), readBody(t, resp))
	})
	t.Run("StreamWithToolUse", func(t *testing.T) {
		capture, captureSeq := anthropicEvents(t, bytes.NewReader(readAnthropicCapture(t, "message_stream_tool_use.txt")))
		s.SetBehavior(AnthropicBehavior{Text: "I'll look up the weather in Paris.", Chunks: 2, CacheReadTokens: 1536,
			ToolUse: &AnthropicToolUse{Name: "get_weather", Input: `{"city": "Paris", "unit": "celsius"}`}})
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		fake, fakeSeq := anthropicEvents(t, resp.Body)
		if !slices.Equal(fakeSeq, captureSeq) {
			t.Errorf("event sequence = %v\ncapture has       %v", fakeSeq, captureSeq)
		}
		for _, kind := range slices.Sorted(maps.Keys(capture)) {
			sameShape(t, kind+" event", capture[kind], fake[kind])
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for file, e := range map[string]*AnthropicError{
			"error_overloaded.json":     AnthropicOverloadedError(),
			"error_rate_limit.json":     AnthropicRateLimitError("30"),
			"error_credit_balance.json": AnthropicCreditBalanceError(),
		} {
			s.SetBehavior(AnthropicBehavior{Error: e})
			resp := postAnthropic(t, s, "/messages", anthropicBody)
			if resp.StatusCode != e.Status {
				t.Errorf("%s: status %d, want %d", file, resp.StatusCode, e.Status)
			}
			sameShape(t, file, readAnthropicCapture(t, file), readBody(t, resp))
		}
		s.SetBehavior(AnthropicBehavior{})
		resp := postAnthropic(t, s, "/messages", anthropicBody, "X-Api-Key", "sk-ant-wrong")
		capture := readAnthropicCapture(t, "error_authentication.json")
		body := readBody(t, resp)
		sameShape(t, "error_authentication.json", capture, body)
		if want := decode[anthropicErrorJSON](t, capture); resp.StatusCode != 401 || decode[anthropicErrorJSON](t, body).Error != want.Error {
			t.Errorf("wrong key: status %d, body %s", resp.StatusCode, body)
		}
	})
}
