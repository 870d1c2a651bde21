package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	goopenai "github.com/sashabaranov/go-openai"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

// These tests drive the gateway with the client libraries apps really use.

func goOpenAIClient(h *harness, key string) *goopenai.Client {
	cfg := goopenai.DefaultConfig(key)
	cfg.BaseURL = h.srv.URL + "/v1"
	return goopenai.NewClientWithConfig(cfg)
}

func TestGoOpenAIClient(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 12, CompletionTokens: 9})
	client := goOpenAIClient(h, h.key)
	ctx := context.Background()
	msgs := []goopenai.ChatCompletionMessage{{Role: goopenai.ChatMessageRoleUser, Content: "Say hello."}}

	t.Run("Chat", func(t *testing.T) {
		resp, err := client.CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{Model: testModel, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].Message.Content != providertest.DefaultText || resp.Usage.TotalTokens != 21 {
			t.Fatalf("answer %+v", resp)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		stream, err := client.CreateChatCompletionStream(ctx, goopenai.ChatCompletionRequest{Model: testModel, Messages: msgs, Stream: true,
			StreamOptions: &goopenai.StreamOptions{IncludeUsage: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		var text strings.Builder
		var usage *goopenai.Usage
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
			if chunk.Usage != nil {
				usage = chunk.Usage
			}
		}
		if text.String() != providertest.DefaultText || usage == nil || usage.CompletionTokens != 9 {
			t.Fatalf("streamed %q usage %+v", text.String(), usage)
		}
	})
	t.Run("Embeddings", func(t *testing.T) {
		resp, err := client.CreateEmbeddings(ctx, goopenai.EmbeddingRequestStrings{Model: "test-embed", Input: []string{"first text here", "second text here"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || len(resp.Data[0].Embedding) == 0 {
			t.Fatalf("embeddings %+v", resp)
		}
	})
	t.Run("Models", func(t *testing.T) {
		list, err := client.ListModels(ctx)
		if err != nil || len(list.Models) != 2 {
			t.Fatalf("models %+v %v", list, err)
		}
	})
	t.Run("InsufficientQuotaIs402", func(t *testing.T) {
		poor := newHarness(t, 10)
		_, err := goOpenAIClient(poor, poor.key).CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{Model: testModel, Messages: msgs})
		var apiErr *goopenai.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != http.StatusPaymentRequired || apiErr.Type != "insufficient_quota" || apiErr.Code != "insufficient_quota" {
			t.Fatalf("want a 402 insufficient_quota APIError, got %#v", err)
		}
	})
	if calls := h.calls(); len(calls) != 3 {
		t.Fatalf("want 3 billed calls (chat, stream, embeddings) in the log, got %d", len(calls))
	}
}

func TestOfficialOpenAIClient(t *testing.T) {
	h := newHarness(t, usd)
	h.upstream.SetBehavior(providertest.Behavior{PromptTokens: 12, CompletionTokens: 9})
	client := oai.NewClient(option.WithBaseURL(h.srv.URL+"/v1/"), option.WithAPIKey(h.key), option.WithMaxRetries(0))
	ctx := context.Background()
	params := oai.ChatCompletionNewParams{Model: testModel, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("Say hello.")}}

	t.Run("Chat", func(t *testing.T) {
		resp, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Choices[0].Message.Content != providertest.DefaultText || resp.Usage.CompletionTokens != 9 {
			t.Fatalf("answer %+v", resp)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		var acc oai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != providertest.DefaultText {
			t.Fatalf("streamed %q", acc.Choices[0].Message.Content)
		}
	})
	t.Run("Embeddings", func(t *testing.T) {
		resp, err := client.Embeddings.New(ctx, oai.EmbeddingNewParams{Model: "test-embed",
			Input: oai.EmbeddingNewParamsInputUnion{OfString: oai.String("a sentence to embed")}})
		if err != nil || len(resp.Data) != 1 {
			t.Fatalf("embeddings %+v %v", resp, err)
		}
	})
	t.Run("Models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil || len(page.Data) != 2 || page.Data[1].ID != testModel {
			t.Fatalf("models %+v %v", page, err)
		}
	})
	t.Run("InsufficientQuotaIs402", func(t *testing.T) {
		poor := newHarness(t, 10)
		c := oai.NewClient(option.WithBaseURL(poor.srv.URL+"/v1/"), option.WithAPIKey(poor.key))
		_, err := c.Chat.Completions.New(ctx, params)
		var apiErr *oai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusPaymentRequired || apiErr.Code != "insufficient_quota" {
			t.Fatalf("want 402 insufficient_quota, got %v", err)
		}
		if poor.upstream.CallCount() != 0 {
			t.Fatal("upstream called")
		}
		// x-should-retry: false keeps the SDK from retrying: exactly one 402 logged.
		if recs := poor.calls(); len(recs) != 1 {
			t.Fatalf("the SDK retried a 402: %d calls", len(recs))
		}
	})
}
