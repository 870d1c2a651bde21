package openai

import "github.com/tollgate-gw/tollgate/providers"

// usageJSON is OpenAI's usage object, plus the cache field DeepSeek reports instead
// of prompt_tokens_details.
type usageJSON struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	PromptCacheHitTokens int64 `json:"prompt_cache_hit_tokens"`
}

// toUsage maps OpenAI's names to the gateway's: prompt tokens (cached included) are
// input, completion tokens (reasoning included) are output.
func (u *usageJSON) toUsage() *providers.Usage {
	cached := u.PromptTokensDetails.CachedTokens
	if cached == 0 {
		cached = u.PromptCacheHitTokens
	}
	return &providers.Usage{
		InputTokens:       u.PromptTokens,
		CachedInputTokens: cached,
		OutputTokens:      u.CompletionTokens,
		ReasoningTokens:   u.CompletionTokensDetails.ReasoningTokens,
	}
}

// toEmbeddingUsage maps an embeddings usage object, whose only count is the input;
// hosts that send total_tokens alone are understood too.
func (u *usageJSON) toEmbeddingUsage() *providers.Usage {
	in := u.PromptTokens
	if in == 0 {
		in = u.TotalTokens
	}
	return &providers.Usage{InputTokens: in}
}
