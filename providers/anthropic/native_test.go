package anthropic

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

const nativeBody = `{"model":"claude-sonnet-4-5","max_tokens":100,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u1"}}`

func TestMessages(t *testing.T) {
	fake, c := newFake(t)
	fake.SetBehavior(providertest.AnthropicBehavior{Text: "Hello.", InputTokens: 4, CacheCreationTokens: 30, CacheReadTokens: 60, OutputTokens: 2})
	resp, err := c.Messages(context.Background(), &MessagesRequest{Body: []byte(nativeBody), Model: "claude-sonnet-4-5"})
	if err != nil {
		t.Fatal(err)
	}
	want := providers.Usage{InputTokens: 94, CachedInputTokens: 60, CacheWriteTokens: 30, OutputTokens: 2}
	if resp.Usage == nil || *resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	call := fake.Calls()[0]
	if string(call.Body) != nativeBody || call.Header.Get("X-Api-Key") != testKey || call.Header.Get("Anthropic-Version") != DefaultVersion {
		t.Errorf("upstream got %s with %v", call.Body, call.Header)
	}
	m := decode[struct {
		Type    string `json:"type"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		Usage struct {
			CacheReadInputTokens int `json:"cache_read_input_tokens"`
		} `json:"usage"`
	}](t, resp.Body)
	if m.Type != "message" || m.Content[0].Text != "Hello." || m.Usage.CacheReadInputTokens != 60 {
		t.Errorf("body not Anthropic's verbatim: %s", resp.Body)
	}
}

func TestMessagesErrors(t *testing.T) {
	fake, c := newFake(t)
	for _, tt := range []struct {
		b      providertest.AnthropicBehavior
		status int
		code   string
		quota  bool
	}{
		{providertest.AnthropicBehavior{Error: providertest.AnthropicOverloadedError()}, 529, "overloaded_error", false},
		{providertest.AnthropicBehavior{Error: providertest.AnthropicCreditBalanceError()}, 400, "invalid_request_error", true},
		{providertest.AnthropicBehavior{RawBody: `{"type":"error","error":{"type":"api_error","message":"boom"}}`}, 500, "api_error", false},
		{providertest.AnthropicBehavior{RawBody: `not json`}, 0, "invalid_response", false},
	} {
		fake.SetBehavior(tt.b)
		_, err := c.Messages(context.Background(), &MessagesRequest{Body: []byte(nativeBody)})
		if ue := upstreamError(t, err); ue.Status != tt.status || ue.Code != tt.code || ue.Quota != tt.quota {
			t.Errorf("%+v: %+v", tt.b, ue)
		}
		_, err = c.MessagesStream(context.Background(), &MessagesRequest{Body: []byte(nativeBody), Stream: true})
		if ue := upstreamError(t, err); ue.Code != tt.code {
			t.Errorf("stream %+v: %+v", tt.b, ue)
		}
	}
}

func drainNative(t *testing.T, s NativeStream) ([]NativeEvent, error) {
	t.Helper()
	var out []NativeEvent
	for range 10000 {
		ev, err := s.Recv()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	t.Fatal("stream did not end")
	return nil, nil
}

func openNative(t *testing.T, c *Client) NativeStream {
	t.Helper()
	s, err := c.MessagesStream(context.Background(), &MessagesRequest{Body: []byte(`{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMessagesStreamVerbatim(t *testing.T) {
	fake, c := newFake(t)
	want := captureEvents(t, "message_stream_tool_use.txt")
	fake.SetBehavior(providertest.AnthropicBehavior{RawEvents: want})
	s := openNative(t, c)
	events, err := drainNative(t, s)
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF after message_stop", err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Errorf("Recv after the end = %v", err)
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	var text string
	var usages []providers.Usage
	for i, ev := range events {
		if ev.Name != want[i].Name || string(ev.Data) != want[i].Data {
			t.Errorf("event %d = %s %s, want %s %s", i, ev.Name, ev.Data, want[i].Name, want[i].Data)
		}
		text += ev.Text
		if ev.Usage != nil {
			usages = append(usages, *ev.Usage)
		}
	}
	if text != `I'll look up the weather in Paris.{"city": "Paris", "unit": "celsius"}` {
		t.Errorf("Text = %q", text)
	}
	wantUsage := []providers.Usage{
		{InputTokens: 1948, CachedInputTokens: 1536, OutputTokens: 2},  // message_start
		{InputTokens: 1948, CachedInputTokens: 1536, OutputTokens: 71}, // message_delta
	}
	if !slices.Equal(usages, wantUsage) {
		t.Errorf("usages = %+v, want %+v", usages, wantUsage)
	}
}

func TestMessagesStreamBroken(t *testing.T) {
	fake, c := newFake(t)
	tests := []struct {
		name   string
		b      providertest.AnthropicBehavior
		events []string // names of the events returned before the end
		code   string   // "" means io.EOF
	}{
		{"UnknownEventsForwarded", providertest.AnthropicBehavior{Text: "a", UnknownEvents: true},
			[]string{"message_start", "message_annotation", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_annotation", "message_delta", "message_stop"}, ""},
		{"ErrorEvent", providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultErrorEvent, FaultAfter: 1},
			[]string{"message_start", "content_block_start", "ping", "content_block_delta"}, "overloaded_error"},
		{"NoMessageStop", providertest.AnthropicBehavior{Text: "a", NoMessageStop: true},
			[]string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta"}, "stream_truncated"},
		{"Malformed", providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultMalformed, FaultAfter: 1},
			[]string{"message_start", "content_block_start", "ping", "content_block_delta"}, "invalid_chunk"},
		{"Cut", providertest.AnthropicBehavior{Text: "a b", Fault: providertest.FaultCut, FaultAfter: 1},
			[]string{"message_start", "content_block_start", "ping", "content_block_delta"}, "stream_truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetBehavior(tt.b)
			events, err := drainNative(t, openNative(t, c))
			var names []string
			for _, ev := range events {
				names = append(names, ev.Name)
			}
			if !slices.Equal(names, tt.events) {
				t.Errorf("events = %v, want %v", names, tt.events)
			}
			if tt.code == "" {
				if err != io.EOF {
					t.Errorf("err = %v", err)
				}
				return
			}
			if ue := upstreamError(t, err); ue.Code != tt.code {
				t.Errorf("%+v, want code %s", ue, tt.code)
			}
		})
	}
}
