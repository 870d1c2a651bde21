package billing

import (
	"iter"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// OpenAI chat-format overhead, for the router's prompt estimate: every message
// costs PerMessageTokens on top of its content, a message with a "name" costs
// PerNameTokens more, and the reply is primed with ReplyPrimingTokens.
const (
	PerMessageTokens   = 3
	ReplyPrimingTokens = 3
	PerNameTokens      = 1
)

// Tiktoken encoding names used by EncodingForModel.
const (
	encO200k  = "o200k_base"
	encCL100k = "cl100k_base"
)

func init() {
	// The default tiktoken loader downloads the BPE files over HTTP on first
	// use. A gateway must never do that at run time, so load the copies that
	// ship inside the loader module instead. This runs before any goroutine of
	// ours can call into tiktoken, so it does not race with GetEncoding.
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
}

// o200kFamilies and cl100kFamilies are OpenAI model-name prefixes, checked in
// this order (o200k first, so "gpt-4o" is not caught by "gpt-4").
var (
	o200kFamilies  = []string{"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "gpt-oss"}
	oSeries        = []string{"o1", "o3", "o4"} // need a boundary: "o1", "o1-mini", not "o1x"
	cl100kFamilies = []string{"gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3-", "text-embedding-ada-", "davinci-002", "babbage-002"}
)

// EncodingForModel names the tiktoken encoding used to count a model's
// tokens: "o200k_base" for the GPT-4o/4.1/4.5/5 and o-series families,
// "cl100k_base" for GPT-4, GPT-3.5 and OpenAI's text-embedding-3/ada models, and
// "o200k_base" for every non-OpenAI model, where it is only the basis of an
// estimate (see CountTokens). Fine-tuned names ("ft:gpt-4o-mini:...") count
// as their base model.
func EncodingForModel(model string) string {
	enc, _ := openAIEncoding(model)
	if enc == "" {
		return encO200k
	}
	return enc
}

// IsOpenAIFamily reports whether model is an OpenAI model whose real
// tokenizer is tiktoken, so CountTokens is exact for it rather than an
// estimate.
func IsOpenAIFamily(model string) bool {
	_, ok := openAIEncoding(model)
	return ok
}

func openAIEncoding(model string) (string, bool) {
	m := strings.ToLower(model)
	m = strings.TrimPrefix(m, "ft:")
	for _, p := range o200kFamilies {
		if strings.HasPrefix(m, p) {
			return encO200k, true
		}
	}
	for _, p := range oSeries {
		if m == p || strings.HasPrefix(m, p+"-") {
			return encO200k, true
		}
	}
	for _, p := range cl100kFamilies {
		if strings.HasPrefix(m, p) {
			return encCL100k, true
		}
	}
	return "", false
}

// encoder lazily builds one tiktoken encoder; the BPE table is large, so each
// is built once and shared (EncodeOrdinary is safe for concurrent use).
type encoder struct {
	once sync.Once
	tk   *tiktoken.Tiktoken
}

var encoders = map[string]*encoder{encO200k: {}, encCL100k: {}}

func getEncoder(name string) *tiktoken.Tiktoken {
	e := encoders[name]
	if e == nil {
		return nil
	}
	e.once.Do(func() {
		tk, err := tiktoken.GetEncoding(name)
		if err == nil {
			e.tk = tk
		}
	})
	return e.tk
}

// CountTokens counts text's tokens for model with tiktoken, used to meter a
// call whose upstream reported no usage. Special-token text such as
// "<|endoftext|>" is counted as ordinary text, so user content can never make
// it fail. For OpenAI models the count is exact for any text without a run of
// more than 256 letters, spaces or symbols (see segments). For other models
// tiktoken is not their tokenizer, so the result is an estimate meant to stay
// at or above the real count: the o200k count plus 25%, rounded up, but never
// more than TokenUpperBound(text), which no byte-level tokenizer can exceed.
func CountTokens(model, text string) int64 {
	if text == "" {
		return 0
	}
	tk := getEncoder(EncodingForModel(model))
	if tk == nil {
		// Unreachable with the embedded BPE files; if it ever happens, the
		// byte bound still never undercounts.
		return TokenUpperBound(text)
	}
	var n int64
	for seg := range segments(text) {
		n += int64(len(tk.EncodeOrdinary(seg)))
	}
	if IsOpenAIFamily(model) {
		return n
	}
	return min((n*5+3)/4, TokenUpperBound(text))
}

// TokenUpperBound is a count no tiktoken encoding can exceed, computed without
// tokenizing: a byte-level BPE token always covers at least one byte, so a
// text has at most as many tokens as bytes. It equals len(text) for valid
// UTF-8; each invalid byte counts 3, because tiktoken-go first turns it into
// U+FFFD, which is three bytes long. Use it to size a hold cheaply before the
// exact count is known.
func TokenUpperBound(text string) int64 {
	if utf8.ValidString(text) {
		return int64(len(text))
	}
	var n int64
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && size == 1 {
			n += 3 // len("\uFFFD")
		} else {
			n += int64(size)
		}
		i += size
	}
	return n
}

// maxRun is the longest run of same-class characters (letters, spaces,
// symbols) that CountTokens hands to tiktoken in one piece.
const maxRun = 256

// segments splits text for tokenizing so that no run of letters, spaces or
// symbols is longer than maxRun runes. tiktoken-go merges byte pairs in time
// quadratic in a pre-tokenized piece's length, and a piece is at most about
// two such runs, so without this a prompt of 100 KB of spaces or one unbroken
// CJK sentence takes seconds to count. Ordinary text comes back as a single
// segment and counts exactly; a longer run is cut inside itself, which
// changes its count by about one token per cut. Digit runs are never cut:
// both encodings split them into pieces of at most three digits anyway.
func segments(text string) iter.Seq[string] {
	return func(yield func(string) bool) {
		start, run := 0, 0
		prev := classNone
		for i := 0; i < len(text); {
			r, size := utf8.DecodeRuneInString(text[i:])
			c := runeClass(r)
			if c == prev {
				run++
			} else {
				prev, run = c, 1
			}
			if run > maxRun && c != classNumber {
				if !yield(text[start:i]) {
					return
				}
				start, run = i, 1
			}
			i += size
		}
		if start < len(text) {
			yield(text[start:])
		}
	}
}

// Character classes as tiktoken's pre-tokenizer patterns see them.
const (
	classNone = iota
	classLetter
	classNumber
	classSpace
	classOther
)

// runeClass groups runes the way tiktoken's pre-tokenizer patterns do:
// letters with marks, numbers, whitespace, and everything else (including the
// U+FFFD that stands in for an invalid byte).
func runeClass(r rune) int {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			return classLetter
		case '0' <= r && r <= '9':
			return classNumber
		case r == ' ' || '\t' <= r && r <= '\r':
			return classSpace
		}
		return classOther
	}
	switch {
	case unicode.IsLetter(r) || unicode.Is(unicode.M, r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}
