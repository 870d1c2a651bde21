package router

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	goopenai "github.com/sashabaranov/go-openai"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

const claude = "claude-sonnet-4"

func anthropicSDK(h *harness, key string) anthropic.Client {
	return anthropic.NewClient(anthropicoption.WithAPIKey(key), anthropicoption.WithBaseURL(h.srv.URL+"/"), anthropicoption.WithMaxRetries(0))
}

func weatherParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 200,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages: []anthropic.MessageParam{
			anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?")),
			anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_1", map[string]any{"city": "Paris"}, "get_weather")),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_1", "18C and sunny", false)),
		},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather",
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}},
	}
}

// TestMessagesIngressNative: the Anthropic SDK calls /v1/messages, an Anthropic
// channel serves it natively, and Anthropic's usage (input excluding cache reads and
// writes) is billed exactly, with cache reads and writes at their own prices.
func TestMessagesIngressNative(t *testing.T) {
	h := newHarness(t, usd)
	fake := providertest.NewAnthropic()
	defer fake.Close()
	fake.SetBehavior(providertest.AnthropicBehavior{Text: "Sunny, 18C.", InputTokens: 100, CacheReadTokens: 50, CacheCreationTokens: 20, OutputTokens: 30,
		ToolUse: &providertest.AnthropicToolUse{Name: "get_weather", Input: `{"city":"Lyon"}`}})
	h.addProviderChannel("anthropic", fake.URL(), "sk-ant-upstream", claude)
	want := defaultCost(t, claude, billing.Usage{PromptTokens: 170, CachedTokens: 50, CacheWriteTokens: 20, CompletionTokens: 30})
	client := anthropicSDK(h, h.key)
	ctx := context.Background()

	t.Run("Plain", func(t *testing.T) {
		before := h.wallet().Balance
		msg, err := client.Messages.New(ctx, weatherParams(claude))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 2 || msg.Content[0].Text != "Sunny, 18C." || msg.Content[1].Name != "get_weather" || msg.Usage.CacheReadInputTokens != 50 || msg.StopReason != "tool_use" {
			t.Fatalf("message %+v", msg)
		}
		if got := before - h.wallet().Balance; got != want {
			t.Fatalf("billed %s, want %s", got, want)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		before := h.wallet().Balance
		st := client.Messages.NewStreaming(ctx, weatherParams(claude))
		var acc anthropic.Message
		for st.Next() {
			if err := acc.Accumulate(st.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Content[0].Text != "Sunny, 18C." || string(acc.Content[1].Input) != `{"city":"Lyon"}` || acc.Usage.OutputTokens != 30 {
			t.Fatalf("accumulated %+v", acc)
		}
		if got := before - h.wallet().Balance; got != want {
			t.Fatalf("billed %s, want %s", got, want)
		}
	})
	t.Run("UpstreamGotTheKeyAndTheMappedBody", func(t *testing.T) {
		c := fake.Calls()[0]
		if c.Header.Get("X-Api-Key") != "sk-ant-upstream" || strings.Contains(string(c.Body), h.key) {
			t.Fatalf("upstream headers %v", c.Header)
		}
	})
	t.Run("CountTokens", func(t *testing.T) {
		n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: claude,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello there, how are you?"))}})
		if err != nil || n.InputTokens < 5 || n.InputTokens > 40 {
			t.Fatalf("count %+v %v", n, err)
		}
	})
}

// TestMessagesIngressTranslated: an Anthropic-format call for a model an OpenAI
// channel serves is translated there and back, plain and streaming.
func TestMessagesIngressTranslated(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{Text: "It is sunny in Paris.", PromptTokens: 40, CompletionTokens: 6})
	client := anthropicSDK(h, h.key)
	ctx := context.Background()
	msg, err := client.Messages.New(ctx, weatherParams(testModel))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "It is sunny in Paris." || msg.Usage.OutputTokens != 6 {
		t.Fatalf("message %+v", msg)
	}
	up := h.upstream.Calls()[0]
	if up.Model != "upstream-model" || !strings.Contains(string(up.Body), `"tool_calls"`) || up.MaxTokens != 200 {
		t.Fatalf("translated upstream request %s", up.Body)
	}
	st := client.Messages.NewStreaming(ctx, weatherParams(testModel))
	var acc anthropic.Message
	for st.Next() {
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil || acc.Content[0].Text != "It is sunny in Paris." {
		t.Fatalf("stream %+v %v", acc, err)
	}
	if w := h.wallet(); w.Balance != usd-2*costOf(40, 6) || w.Held != 0 {
		t.Fatalf("balance %s, want two calls of %s", w.Balance, costOf(40, 6))
	}
}

// TestMessagesErrorsInAnthropicShape: every refusal on /v1/messages is Anthropic's
// error body, the 402 a billing_error.
func TestMessagesErrorsInAnthropicShape(t *testing.T) {
	poor := newHarness(t, 1000)
	ctx := context.Background()
	cases := []struct {
		name   string
		client anthropic.Client
		params anthropic.MessageNewParams
		status int
		typ    string
	}{
		{"InsufficientCredit", anthropicSDK(poor, poor.key), weatherParams(testModel), 402, "billing_error"},
		{"BadKey", anthropicSDK(poor, "sk-tg-nope"), weatherParams(testModel), 401, "authentication_error"},
		{"UnknownModel", anthropicSDK(poor, poor.key), weatherParams("claude-unknown"), 404, "not_found_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Messages.New(ctx, tc.params)
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status || !strings.Contains(apiErr.RawJSON(), `"type":"`+tc.typ+`"`) {
				t.Fatalf("want %d %s, got %v", tc.status, tc.typ, err)
			}
		})
	}
	resp, body := poor.post("/v1/messages", map[string]any{"model": testModel, "messages": []map[string]any{{"role": "user", "content": "hi"}}})
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"type":"error"`) || !strings.Contains(string(body), "max_tokens") {
		t.Fatalf("missing max_tokens: %d %s", resp.StatusCode, body)
	}
	if poor.upstream.CallCount() != 0 {
		t.Fatal("a refused call reached the upstream")
	}
}

// TestOpenAIClientsAgainstAnthropic: OpenAI SDKs call a Claude model; the adapter
// maps Anthropic's usage so OpenAI's prompt_tokens include the cached tokens.
func TestOpenAIClientsAgainstAnthropic(t *testing.T) {
	h := newHarness(t, usd)
	fake := providertest.NewAnthropic()
	defer fake.Close()
	fake.SetBehavior(providertest.AnthropicBehavior{Text: "Bonjour.", InputTokens: 10, CacheReadTokens: 90, OutputTokens: 5})
	h.addProviderChannel("anthropic", fake.URL(), "sk-ant", claude)
	want := defaultCost(t, claude, billing.Usage{PromptTokens: 100, CachedTokens: 90, CompletionTokens: 5})
	ctx := context.Background()

	before := h.wallet().Balance
	resp, err := goOpenAIClient(h, h.key).CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{Model: claude,
		Messages: []goopenai.ChatCompletionMessage{{Role: "system", Content: "French."}, {Role: "user", Content: "Hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Bonjour." || resp.Usage.PromptTokens != 100 || resp.Usage.PromptTokensDetails.CachedTokens != 90 {
		t.Fatalf("answer %+v", resp)
	}
	if got := before - h.wallet().Balance; got != want {
		t.Fatalf("billed %s, want %s", got, want)
	}
	// max_tokens is required by Anthropic: the gateway supplies it from the hold.
	if c := fake.Calls()[0]; !strings.Contains(string(c.Body), `"max_tokens":`) {
		t.Fatalf("no max_tokens sent: %s", c.Body)
	}
	c := oai.NewClient(option.WithBaseURL(h.srv.URL+"/v1/"), option.WithAPIKey(h.key), option.WithMaxRetries(0))
	stream := c.Chat.Completions.NewStreaming(ctx, oai.ChatCompletionNewParams{Model: claude, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Hello")}})
	var acc oai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Bonjour." {
		t.Fatalf("stream %q %v", acc.Choices[0].Message.Content, err)
	}
	if got := before - h.wallet().Balance; got != 2*want {
		t.Fatalf("billed %s for two calls, want %s", got, 2*want)
	}
	_ = http.StatusOK
}
