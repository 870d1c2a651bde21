package anthropic

import (
	"strconv"

	"github.com/tollgate-gw/tollgate/providers"
)

// usageJSON is Anthropic's usage object. Members are pointers because a
// message_delta reports only what changed: an absent member keeps the value that
// message_start reported.
type usageJSON struct {
	InputTokens              *int64 `json:"input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
}

// tally is the usage of one message as it is reported, in Anthropic's terms:
// input excludes the cache reads and writes.
type tally struct {
	input, cacheWrite, cacheRead, output int64
}

// merge applies a usage report: message_start's, then each message_delta's, whose
// counts are cumulative (so the last report wins, member by member).
func (t *tally) merge(u *usageJSON) {
	if u == nil {
		return
	}
	set := func(dst *int64, src *int64) {
		if src != nil && *src >= 0 {
			*dst = *src
		}
	}
	set(&t.input, u.InputTokens)
	set(&t.cacheWrite, u.CacheCreationInputTokens)
	set(&t.cacheRead, u.CacheReadInputTokens)
	set(&t.output, u.OutputTokens)
}

// usage converts to the gateway's convention, where input includes the cache:
// InputTokens = input + cache writes + cache reads.
func (t *tally) usage() *providers.Usage {
	return &providers.Usage{
		InputTokens:       t.input + t.cacheWrite + t.cacheRead,
		CachedInputTokens: t.cacheRead,
		CacheWriteTokens:  t.cacheWrite,
		OutputTokens:      t.output,
	}
}

// appendOpenAIUsage appends u as OpenAI's usage object: prompt_tokens includes the
// cache, and prompt_tokens_details.cached_tokens is the part read from it.
func appendOpenAIUsage(b []byte, u *providers.Usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens, 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, u.OutputTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens+u.OutputTokens, 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, u.CachedInputTokens, 10)
	return append(b, `}}`...)
}

// appendAnthropicUsage appends u as Anthropic's usage object, taking the cache out
// of the input count again.
func appendAnthropicUsage(b []byte, u *providers.Usage) []byte {
	input := max(0, u.InputTokens-u.CachedInputTokens-u.CacheWriteTokens)
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, input, 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, u.CacheWriteTokens, 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, u.CachedInputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, u.OutputTokens, 10)
	return append(b, '}')
}
