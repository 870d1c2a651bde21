package billing

import (
	"strings"
	"sync"
	"testing"
)

func TestEncodingForModel(t *testing.T) {
	cases := []struct {
		model, want string
		openAI      bool
	}{
		{"gpt-4o", "o200k_base", true},
		{"gpt-4o-mini", "o200k_base", true},
		{"gpt-4o-2024-08-06", "o200k_base", true},
		{"chatgpt-4o-latest", "o200k_base", true},
		{"gpt-4.1-nano", "o200k_base", true},
		{"gpt-4.5-preview", "o200k_base", true},
		{"gpt-5", "o200k_base", true},
		{"gpt-5-mini", "o200k_base", true},
		{"gpt-5.1", "o200k_base", true},
		{"o1", "o200k_base", true},
		{"o1-mini", "o200k_base", true},
		{"o3", "o200k_base", true},
		{"o3-mini", "o200k_base", true},
		{"o4-mini", "o200k_base", true},
		{"gpt-oss-120b", "o200k_base", true},
		{"ft:gpt-4o-mini:acme::abc123", "o200k_base", true},
		{"gpt-4", "cl100k_base", true},
		{"gpt-4-turbo", "cl100k_base", true},
		{"gpt-4-0613", "cl100k_base", true},
		{"gpt-3.5-turbo", "cl100k_base", true},
		{"gpt-35-turbo", "cl100k_base", true},
		{"text-embedding-3-small", "cl100k_base", true},
		{"text-embedding-ada-002", "cl100k_base", true},
		{"ft:gpt-3.5-turbo:acme::x", "cl100k_base", true},
		{"claude-sonnet-4", "o200k_base", false},
		{"gemini-2.5-pro", "o200k_base", false},
		{"text-embedding-004", "o200k_base", false}, // Google's, despite the OpenAI-like name
		{"llama-3.3-70b-versatile", "o200k_base", false},
		{"o1x", "o200k_base", false},
		{"o10-mini", "o200k_base", false},
		{"deepseek-chat", "o200k_base", false},
		{"", "o200k_base", false},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			if got := EncodingForModel(tc.model); got != tc.want {
				t.Errorf("EncodingForModel(%q) = %q, want %q", tc.model, got, tc.want)
			}
			if got := IsOpenAIFamily(tc.model); got != tc.openAI {
				t.Errorf("IsOpenAIFamily(%q) = %v, want %v", tc.model, got, tc.openAI)
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	cases := []struct {
		name, model, text string
		want              int64
	}{
		{"HelloWorldGPT4o", "gpt-4o", "hello world", 2},
		{"HelloWorldGPT4", "gpt-4", "hello world", 2},
		{"EmptyIsZero", "gpt-4o", "", 0},
		{"EmptyNonOpenAIIsZero", "claude-sonnet-4", "", 0},
		// o200k: 2 tokens, ×5/4 = 2.5 → 3.
		{"NonOpenAIEstimateRoundsUp", "claude-sonnet-4", "hello world", 3},
		// One o200k token ×5/4 → 2, but the text is one byte long.
		{"NonOpenAIEstimateCappedAtBytes", "gemini-2.5-flash", "a", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CountTokens(tc.model, tc.text); got != tc.want {
				t.Fatalf("CountTokens(%q, %q) = %d, want %d", tc.model, tc.text, got, tc.want)
			}
		})
	}
	t.Run("SpecialTokensAreText", func(t *testing.T) {
		for _, model := range []string{"gpt-4o", "gpt-4", "claude-sonnet-4"} {
			n := CountTokens(model, "before <|endoftext|> <|fim_prefix|><|endofprompt|> after")
			if n <= 3 {
				t.Fatalf("%s: special-token text counted as %d tokens, want it tokenized as plain text", model, n)
			}
		}
	})
	t.Run("NonOpenAIAtLeastTiktoken", func(t *testing.T) {
		text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 50)
		exact := CountTokens("gpt-4o", text)
		est := CountTokens("claude-sonnet-4", text)
		if est < exact || est > TokenUpperBound(text) {
			t.Fatalf("estimate %d, want between o200k count %d and byte bound %d", est, exact, TokenUpperBound(text))
		}
	})
	t.Run("NeverAboveUpperBound", func(t *testing.T) {
		texts := []string{
			"hello", "   ", "\n\n\n", "日本語のテキスト", "😀😀😀", "a\xffb", "\xff\xfe\xfd", "\xe2\x82", "mixed ünïcödé and \x80 bytes",
			strings.Repeat(" ", 1000), strings.Repeat("ab", 300), "<|endoftext|>",
		}
		for _, text := range texts {
			for _, model := range []string{"gpt-4o", "gpt-4", "mistral-large-latest"} {
				if n, ub := CountTokens(model, text), TokenUpperBound(text); n > ub {
					t.Fatalf("CountTokens(%q, %q) = %d > TokenUpperBound = %d", model, text, n, ub)
				}
			}
		}
	})
	t.Run("ConcurrentCallsAreSafe", func(t *testing.T) {
		texts := []string{"hello world", strings.Repeat("concurrency is not parallelism ", 40), "日本語", "<|endoftext|>"}
		want := make([]int64, len(texts))
		for i, s := range texts {
			want[i] = CountTokens("gpt-4o", s)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 40 {
					k := (g + i) % len(texts)
					model := []string{"gpt-4o", "gpt-4", "claude-sonnet-4"}[i%3]
					got := CountTokens(model, texts[k])
					if model == "gpt-4o" && got != want[k] {
						t.Errorf("concurrent CountTokens = %d, want %d", got, want[k])
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

func TestSegments(t *testing.T) {
	texts := []struct {
		name, text string
		wantSegs   int
	}{
		{"OrdinaryTextIsOneSegment", benchText, 1},
		{"RunAtLimitIsOneSegment", strings.Repeat("a", maxRun), 1},
		{"LongLetterRunIsCut", strings.Repeat("a", 3*maxRun+5), 4},
		{"LongSpaceRunIsCut", "x" + strings.Repeat(" ", 2*maxRun) + "y", 2},
		{"LongCJKRunIsCut", strings.Repeat("日", maxRun+1), 2},
		{"InvalidBytesAreCut", strings.Repeat("\xff", maxRun+1), 2},
		{"DigitRunsAreNotCut", strings.Repeat("7", 10*maxRun), 1},
		{"Empty", "", 0},
	}
	for _, tc := range texts {
		t.Run(tc.name, func(t *testing.T) {
			var joined strings.Builder
			n := 0
			for seg := range segments(tc.text) {
				joined.WriteString(seg)
				n++
			}
			if joined.String() != tc.text {
				t.Fatal("segments do not reassemble the text")
			}
			if n != tc.wantSegs {
				t.Fatalf("got %d segments, want %d", n, tc.wantSegs)
			}
		})
	}
	t.Run("OrdinaryTextCountsExactly", func(t *testing.T) {
		tk := getEncoder("o200k_base")
		for _, text := range []string{benchText, "a" + strings.Repeat(" ", maxRun-1) + "b", "naïve café — ünïcödé, 日本語, emoji 😀!"} {
			if got, want := CountTokens("gpt-4o", text), int64(len(tk.EncodeOrdinary(text))); got != want {
				t.Fatalf("CountTokens = %d, tiktoken = %d", got, want)
			}
		}
	})
}

func TestTokenUpperBound(t *testing.T) {
	cases := []struct {
		name, text string
		want       int64
	}{
		{"Empty", "", 0},
		{"ASCII", "hello world", 11},
		{"MultiByte", "日本", 6},
		{"InvalidByteCountsAsReplacementChar", "a\xffb", 5},
		{"TruncatedSequence", "\xe2\x82", 6},
		{"ValidReplacementChar", "\uFFFD", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := TokenUpperBound(tc.text); got != tc.want {
				t.Fatalf("TokenUpperBound(%q) = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
}

// benchText is about 1000 o200k tokens of ordinary English prose.
var benchText = strings.Repeat("Tollgate holds a prepaid balance, prices every call exactly, and never lets a tenant overdraw. ", 55)

func BenchmarkCountTokens(b *testing.B) {
	n := CountTokens("gpt-4o", benchText) // also warms the encoder
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		CountTokens("gpt-4o", benchText)
	}
	b.ReportMetric(float64(n), "tokens/op")
}

// BenchmarkCountTokensLongRun is the pathological case segments exists for:
// 64 KB of one unbroken run, linear instead of quadratic.
func BenchmarkCountTokensLongRun(b *testing.B) {
	text := strings.Repeat(" ", 64<<10)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		CountTokens("gpt-4o", text)
	}
}

func BenchmarkTokenUpperBound(b *testing.B) {
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		TokenUpperBound(benchText)
	}
}
