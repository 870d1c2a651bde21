package router

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	goopenai "github.com/sashabaranov/go-openai"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

// addProviderChannel adds a channel of any provider serving one model at its default price.
func (h *harness) addProviderChannel(provider, baseURL, apiKey, model string) {
	h.t.Helper()
	if _, err := h.store.CreateChannel(context.Background(), store.ChannelInput{Name: ptr(provider + "-ch"), Provider: ptr(provider),
		BaseURL: ptr(baseURL), APIKey: ptr(apiKey), Models: &[]string{model}, Priority: ptr(100)}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.gw.Reload(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// defaultCost prices usage with the built-in price book, as the gateway must.
func defaultCost(t *testing.T, model string, u billing.Usage) billing.Nanos {
	t.Helper()
	p, _, ok := billing.NewPriceBook(billing.DefaultPrices(), nil).Lookup(model)
	if !ok {
		t.Fatalf("no default price for %s", model)
	}
	c, err := p.Cost(u)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGeminiThroughOpenAIClients: OpenAI SDKs call a Gemini model through the
// gateway; Gemini's usageMetadata (prompt incl. cached, candidates + thoughts) is
// billed exactly, and the key never travels in a URL.
func TestGeminiThroughOpenAIClients(t *testing.T) {
	const model = "gemini-2.5-flash"
	h := newHarness(t, usd)
	gem := providertest.NewGemini()
	defer gem.Close()
	gem.RequireAPIKey("gemini-key")
	gem.SetBehavior(providertest.GeminiBehavior{Text: "Hello from Gemini.", PromptTokens: 1000, CachedTokens: 400, CandidatesTokens: 200, ThoughtsTokens: 50})
	h.addProviderChannel("gemini", gem.URL(), "gemini-key", model)
	want := defaultCost(t, model, billing.Usage{PromptTokens: 1000, CachedTokens: 400, CompletionTokens: 250, ReasoningTokens: 50})
	ctx := context.Background()
	msgs := []goopenai.ChatCompletionMessage{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}
	client := goOpenAIClient(h, h.key)

	t.Run("GoOpenAIChat", func(t *testing.T) {
		before := h.wallet().Balance
		resp, err := client.CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{Model: model, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].Message.Content != "Hello from Gemini." || resp.Usage.PromptTokens != 1000 || resp.Usage.CompletionTokens != 250 {
			t.Fatalf("answer %+v", resp)
		}
		if got := before - h.wallet().Balance; got != want {
			t.Fatalf("billed %s, want %s", got, want)
		}
	})
	t.Run("GoOpenAIStream", func(t *testing.T) {
		before := h.wallet().Balance
		stream, err := client.CreateChatCompletionStream(ctx, goopenai.ChatCompletionRequest{Model: model, Messages: msgs, Stream: true})
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		for {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(chunk.Choices) > 0 {
				text.WriteString(chunk.Choices[0].Delta.Content)
			}
		}
		stream.Close()
		if text.String() != "Hello from Gemini." {
			t.Fatalf("streamed %q", text.String())
		}
		if got := before - h.wallet().Balance; got != want {
			t.Fatalf("billed %s, want %s", got, want)
		}
	})
	t.Run("OfficialClientChat", func(t *testing.T) {
		c := oai.NewClient(option.WithBaseURL(h.srv.URL+"/v1/"), option.WithAPIKey(h.key), option.WithMaxRetries(0))
		resp, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: model, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Hi")}})
		if err != nil || resp.Choices[0].Message.Content != "Hello from Gemini." {
			t.Fatalf("answer %+v %v", resp, err)
		}
	})
	for _, c := range gem.Calls() {
		if strings.Contains(c.RawQuery, "key=") || c.Header.Get("x-goog-api-key") != "gemini-key" || c.Header.Get("Authorization") != "" {
			t.Fatalf("the Gemini key must travel only in x-goog-api-key: query %q headers %v", c.RawQuery, c.Header)
		}
	}
	if gem.CallCount() != 3 {
		t.Fatalf("gemini got %d calls", gem.CallCount())
	}
}
