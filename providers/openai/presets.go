package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate-gw/tollgate/providers"
)

// Preset describes one kind of OpenAI-compatible host, chosen by a channel's
// provider string: where it lives by default, what it offers and which quirks the
// adapter smooths over, so an operator configures a channel with a name and a key.
type Preset struct {
	// Name is the channel provider string, e.g. "deepseek".
	Name string
	// DefaultBaseURL is used when the channel gives none; "" means the channel must
	// give one (self-hosted servers, Azure resources).
	DefaultBaseURL string
	// Embeddings says whether the host serves /embeddings. A client of a preset
	// without them gets a 501 from Embeddings without a call being made, and
	// Client.Provider hides the capability from the router.
	Embeddings bool
	// KeyOptional says the host may run without an API key (local servers).
	KeyOptional bool
	// MaxTokensField is the output limit field the gateway should inject.
	MaxTokensField string
	// StreamUsage says the host accepts stream_options.include_usage. Where it does
	// not, the adapter removes stream_options; the host then reports usage on its own
	// (Mistral does, on its last chunk) or the gateway estimates it.
	StreamUsage bool
	// Options are the channel option keys the preset reads; others are refused.
	Options []string
	// Notes says, for operators, what is special about the host.
	Notes string
}

// presets is the table of known hosts, sorted by name.
var presets = []Preset{
	{Name: "azure", Embeddings: true, MaxTokensField: "max_completion_tokens", StreamUsage: true,
		Options: []string{"api_style", "api_version"},
		Notes: "Base URL is the resource endpoint (https://<resource>.openai.azure.com). The upstream model name is the deployment name. " +
			"Authenticates with the api-key header. Option api_version (default " + DefaultAzureAPIVersion + ") picks the dated API; " +
			`option api_style "v1" uses the version-less /openai/v1 API instead.`},
	{Name: "deepseek", DefaultBaseURL: "https://api.deepseek.com/v1", MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "No embeddings. Reports prompt_cache_hit_tokens, read as cached input tokens; deepseek-reasoner's reasoning_content is metered."},
	{Name: "groq", DefaultBaseURL: "https://api.groq.com/openai/v1", MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "No embeddings."},
	{Name: "mistral", DefaultBaseURL: "https://api.mistral.ai/v1", Embeddings: true, MaxTokensField: "max_tokens",
		Notes: "Mistral refuses stream_options and max_completion_tokens (422 extra_forbidden): the adapter drops stream_options " +
			"and renames max_completion_tokens to max_tokens. Mistral reports usage on its last stream chunk without being asked."},
	{Name: "ollama", DefaultBaseURL: "http://localhost:11434/v1", Embeddings: true, KeyOptional: true, MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "Local server; the API key is optional."},
	{Name: "openai", DefaultBaseURL: "https://api.openai.com/v1", Embeddings: true, MaxTokensField: "max_completion_tokens", StreamUsage: true,
		Notes: "OpenAI itself; reasoning models take max_completion_tokens only."},
	{Name: "openai-compatible", Embeddings: true, KeyOptional: true, MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "Any other host that speaks OpenAI's API; the base URL is required and the body is forwarded as is."},
	{Name: "openrouter", DefaultBaseURL: "https://openrouter.ai/api/v1", MaxTokensField: "max_tokens", StreamUsage: true,
		Options: []string{"http_referer", "x_title"},
		Notes:   "Chat only in this preset. Options http_referer and x_title are sent as OpenRouter's HTTP-Referer and X-Title app attribution headers."},
	{Name: "qwen", DefaultBaseURL: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", Embeddings: true, MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "Alibaba Cloud DashScope, OpenAI-compatible mode (international endpoint; use https://dashscope.aliyuncs.com/compatible-mode/v1 for mainland China)."},
	{Name: "together", DefaultBaseURL: "https://api.together.xyz/v1", Embeddings: true, MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "Together AI."},
	{Name: "vllm", Embeddings: true, KeyOptional: true, MaxTokensField: "max_tokens", StreamUsage: true,
		Notes: "Self-hosted vLLM server (its --api-key is optional); the base URL, e.g. http://host:8000/v1, is required. Embeddings need an embedding model served."},
}

// Presets lists the known OpenAI-compatible hosts, sorted by name.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		p.Options = slices.Clone(p.Options)
		out[i] = p
	}
	return out
}

func lookupPreset(provider string) (Preset, bool) {
	i, ok := slices.BinarySearchFunc(presets, provider, func(p Preset, name string) int { return strings.Compare(p.Name, name) })
	if !ok {
		return Preset{}, false
	}
	return presets[i], true
}

// MaxTokensField is the output limit field a provider reads: OpenAI's own API and
// Azure want max_completion_tokens (their reasoning models refuse max_tokens); the
// compatible hosts, and unknown providers, read max_tokens.
func MaxTokensField(provider string) string {
	if p, ok := lookupPreset(provider); ok {
		return p.MaxTokensField
	}
	return "max_tokens"
}

// NewPreset returns a Client for a channel of the named provider. An empty
// cfg.BaseURL takes the preset's default; options are the channel's
// provider-specific settings (see Preset.Options). An unknown provider or option, a
// missing or malformed base URL, or a missing key the host needs is an error.
func NewPreset(provider string, cfg Config, options map[string]string) (*Client, error) {
	p, ok := lookupPreset(provider)
	if !ok {
		names := make([]string, len(presets))
		for i, p := range presets {
			names[i] = p.Name
		}
		return nil, fmt.Errorf("unknown provider %q (known: %s)", provider, strings.Join(names, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(options)) {
		if !slices.Contains(p.Options, k) {
			known := "none"
			if len(p.Options) > 0 {
				known = strings.Join(p.Options, ", ")
			}
			return nil, fmt.Errorf("provider %s: unknown option %q (known: %s)", provider, k, known)
		}
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = p.DefaultBaseURL
	}
	if cfg.BaseURL == "" {
		return nil, fmt.Errorf("provider %s needs a base URL", provider)
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provider %s: base URL %q is not an http(s) URL", provider, redactURL(cfg.BaseURL, cfg.APIKey))
	}
	if cfg.APIKey == "" && !p.KeyOptional {
		return nil, fmt.Errorf("provider %s needs an API key", provider)
	}
	headers := maps.Clone(cfg.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	cfg.Headers = nil
	c := New(cfg)
	c.headers = headers
	switch p.Name {
	case "azure":
		if err := configureAzure(c, options); err != nil {
			return nil, err
		}
	case "mistral":
		c.rewrite = dropStreamOptions
	case "openrouter":
		if v := options["http_referer"]; v != "" {
			headers["HTTP-Referer"] = v
		}
		if v := options["x_title"]; v != "" {
			headers["X-Title"] = v
		}
	}
	if !p.Embeddings {
		c.noEmbeddings = p.Name
	}
	return c, nil
}

func redactURL(s, key string) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, "[REDACTED]")
	}
	return s
}

// dropStreamOptions removes the members Mistral refuses: stream_options, and
// max_completion_tokens, whose value moves to max_tokens unless that is set.
func dropStreamOptions(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"stream_options"`)) && !bytes.Contains(body, []byte(`"max_completion_tokens"`)) {
		return body
	}
	var f map[string]json.RawMessage
	if json.Unmarshal(body, &f) != nil {
		return body // not an object: let the host say what is wrong
	}
	delete(f, "stream_options")
	if v, ok := f["max_completion_tokens"]; ok {
		if _, has := f["max_tokens"]; !has {
			f["max_tokens"] = v
		}
		delete(f, "max_completion_tokens")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(f) != nil {
		return body
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Provider returns the client as the router should hold it: a client of a preset
// whose host has no embeddings does not offer providers.Embedder, so the router
// never sends embeddings to it.
func (c *Client) Provider() providers.Provider {
	if c.noEmbeddings != "" {
		return chatOnly{c}
	}
	return c
}

// chatOnly is a Client without the Embedder capability.
type chatOnly struct{ c *Client }

// Chat sends a chat completion, as Client.Chat does.
func (p chatOnly) Chat(ctx context.Context, req *providers.ChatRequest) (*providers.ChatResponse, error) {
	return p.c.Chat(ctx, req)
}

// ChatStream sends a streaming chat completion, as Client.ChatStream does.
func (p chatOnly) ChatStream(ctx context.Context, req *providers.ChatRequest) (providers.ChatStream, error) {
	return p.c.ChatStream(ctx, req)
}

// Models lists the host's models, as Client.Models does.
func (p chatOnly) Models(ctx context.Context) ([]string, error) { return p.c.Models(ctx) }
