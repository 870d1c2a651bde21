// Package sdkcheck runs Anthropic's official Go SDK against the fake upstream, the
// native relay and the ingress translation. It is a module of its own, kept in
// testdata, so the gateway's go.mod need not depend on the SDK:
//
//	cd providers/anthropic/testdata/sdkcheck && go test ./...
package sdkcheck

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/tollgate-gw/tollgate/providers"
	tganthropic "github.com/tollgate-gw/tollgate/providers/anthropic"
	"github.com/tollgate-gw/tollgate/providers/openai"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/providers/sse"
)

func sdkClient(url string) anthropic.Client {
	return anthropic.NewClient(option.WithAPIKey("k"), option.WithBaseURL(url+"/"), option.WithMaxRetries(0))
}

func params() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-x",
		MaxTokens: 100,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("weather?")),
			anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_1", map[string]any{"city": "Paris"}, "get_weather")),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_1", "18C", false)),
		},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}},
	}
}

// The real SDK against the fake: the fake's answers, streams and errors parse.
func TestSDKAgainstFake(t *testing.T) {
	fake := providertest.NewAnthropic()
	defer fake.Close()
	base := strings.TrimSuffix(fake.URL(), "/v1")
	c := sdkClient(base)
	fake.SetBehavior(providertest.AnthropicBehavior{Thinking: "hmm", Text: "Sunny.", CacheReadTokens: 50, CacheCreationTokens: 5, InputTokens: 9, OutputTokens: 4,
		ToolUse: &providertest.AnthropicToolUse{Name: "get_weather", Input: `{"city":"Lyon"}`}})
	msg, err := c.Messages.New(context.Background(), params())
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 3 || msg.Content[1].Text != "Sunny." || msg.Content[2].Name != "get_weather" || msg.Usage.CacheReadInputTokens != 50 || msg.StopReason != "tool_use" {
		t.Errorf("message = %+v", msg)
	}
	st := c.Messages.NewStreaming(context.Background(), params())
	var acc anthropic.Message
	for st.Next() {
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 3 || acc.Content[0].Thinking != "hmm" || acc.Content[1].Text != "Sunny." || string(acc.Content[2].Input) != `{"city":"Lyon"}` ||
		acc.Usage.OutputTokens != 4 || acc.Usage.InputTokens != 9 || acc.Usage.CacheReadInputTokens != 50 {
		t.Errorf("accumulated = %+v", acc)
	}
	fake.SetBehavior(providertest.AnthropicBehavior{Error: providertest.AnthropicOverloadedError()})
	_, err = c.Messages.New(context.Background(), params())
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 {
		t.Errorf("err = %v", err)
	}
	fake.SetBehavior(providertest.AnthropicBehavior{Text: "a b c", Fault: providertest.FaultErrorEvent, FaultAfter: 1})
	st = c.Messages.NewStreaming(context.Background(), params())
	for st.Next() {
	}
	if st.Err() == nil || !strings.Contains(st.Err().Error(), "overloaded") {
		t.Errorf("stream err = %v", st.Err())
	}
}

// An Anthropic-format client served by an OpenAI channel: the SDK's request is
// translated, served by the OpenAI fake through the OpenAI adapter, and its
// answer and stream translated back; the SDK must read them.
func TestSDKThroughIngressTranslation(t *testing.T) {
	oa := providertest.NewOpenAI()
	defer oa.Close()
	oa.SetBehavior(providertest.Behavior{Text: "It is sunny in Paris.", PromptTokens: 40, CachedTokens: 16, CompletionTokens: 6})
	oc := openai.New(openai.Config{BaseURL: oa.URL(), APIKey: "k", HTTPClient: oa.Client()})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		oaBody, model, stream, _, err := tganthropic.RequestToOpenAI(body)
		if err != nil {
			w.WriteHeader(400)
			w.Write(tganthropic.ErrorJSON("invalid_request_error", err.Error()))
			return
		}
		req := &providers.ChatRequest{Body: oaBody, Model: "gpt-4o-mini", Stream: stream}
		if !stream {
			resp, err := oc.Chat(r.Context(), req)
			if err != nil {
				t.Error(err)
				return
			}
			out, err := tganthropic.ResponseFromOpenAI(resp.Body, model)
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(out)
			return
		}
		s, err := oc.ChatStream(r.Context(), req)
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		sse.SetHeaders(w.Header())
		sw := sse.NewWriter(w)
		enc := tganthropic.NewEventEncoder(model, 40)
		var usage *providers.Usage
		for {
			ch, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Error(err)
				return
			}
			if ch.Usage != nil {
				usage = ch.Usage
			}
			evs, err := enc.Encode(ch.Data)
			if err != nil {
				t.Error(err)
			}
			for _, ev := range evs {
				sw.WriteEvent(ev.Name, ev.Data)
			}
		}
		for _, ev := range enc.Finish(usage) {
			sw.WriteEvent(ev.Name, ev.Data)
		}
	}))
	defer gw.Close()
	c := sdkClient(gw.URL)
	msg, err := c.Messages.New(context.Background(), params())
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "It is sunny in Paris." || msg.Usage.InputTokens != 24 || msg.Usage.CacheReadInputTokens != 16 || msg.Usage.OutputTokens != 6 || msg.Model != "claude-x" || msg.StopReason != "end_turn" {
		t.Errorf("message = %+v", msg)
	}
	call := oa.Calls()[0]
	if !bytes.Contains(call.Body, []byte(`"role":"tool"`)) || !bytes.Contains(call.Body, []byte(`"tool_calls"`)) {
		t.Errorf("OpenAI body = %s", call.Body)
	}
	st := c.Messages.NewStreaming(context.Background(), params())
	var acc anthropic.Message
	n := 0
	for st.Next() {
		n++
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Text != "It is sunny in Paris." || acc.Usage.OutputTokens != 6 || acc.Usage.CacheReadInputTokens != 16 || acc.Usage.InputTokens != 24 || acc.StopReason != "end_turn" {
		t.Errorf("accumulated (%d events) = %+v", n, acc)
	}

	// Tool calls streamed by an OpenAI host, in the shape OpenAI sends them.
	oa.SetBehavior(providertest.Behavior{RawEvents: []string{
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Nice\"}"}}]},"logprobs":null,"finish_reason":null}]}`,
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
		`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}`,
	}})
	st = c.Messages.NewStreaming(context.Background(), params())
	acc = anthropic.Message{}
	for st.Next() {
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Content) != 1 || acc.Content[0].Type != "tool_use" || acc.Content[0].ID != "call_A" || string(acc.Content[0].Input) != `{"city":"Nice"}` || acc.StopReason != "tool_use" || acc.Usage.OutputTokens != 12 {
		t.Errorf("accumulated = %+v", acc)
	}
}

// The adapter against the fake through a real SDK's eyes is covered above; here the
// adapter's own NativeStream relays a stream the SDK then reads.
func TestSDKThroughNativeRelay(t *testing.T) {
	fake := providertest.NewAnthropic()
	defer fake.Close()
	fake.SetBehavior(providertest.AnthropicBehavior{Text: "relayed", UnknownEvents: true, ToolUse: &providertest.AnthropicToolUse{Name: "f", Input: `{"a":1}`}})
	ac := tganthropic.New(tganthropic.Config{BaseURL: fake.URL(), APIKey: "k", HTTPClient: fake.Client()})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s, err := ac.MessagesStream(r.Context(), &tganthropic.MessagesRequest{Body: body, Stream: true})
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		sse.SetHeaders(w.Header())
		sw := sse.NewWriter(w)
		for {
			ev, err := s.Recv()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			sw.WriteEvent(ev.Name, ev.Data)
		}
	}))
	defer gw.Close()
	c := sdkClient(gw.URL)
	st := c.Messages.NewStreaming(context.Background(), params())
	var acc anthropic.Message
	for st.Next() {
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil || len(acc.Content) != 2 || acc.Content[0].Text != "relayed" || string(acc.Content[1].Input) != `{"a":1}` {
		t.Errorf("%v %+v", err, acc)
	}
}
