package providertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

// completion is the part of a chat.completion the tests read.
type completion struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		TotalTokens         int `json:"total_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// streamResult is what a client saw of a stream.
type streamResult struct {
	text   string
	chunks int // content chunks
	usage  *completion
	done   bool
	err    error
}

func readStream(t *testing.T, r io.Reader) streamResult {
	t.Helper()
	var res streamResult
	events := sse.NewReader(r)
	for {
		ev, err := events.Next()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			return res
		}
		if string(ev.Data) == "[DONE]" {
			res.done = true
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content *string `json:"content"`
					Role    string  `json:"role"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			res.err = err
			return res
		}
		if len(c.Choices) == 0 {
			u := decode[completion](t, ev.Data)
			res.usage = &u
			continue
		}
		if d := c.Choices[0].Delta; d.Content != nil && d.Role == "" {
			res.text += *d.Content
			res.chunks++
		}
	}
}

func TestChatDefaults(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	c := decode[completion](t, readBody(t, post(t, s, "/chat/completions", chatBody)))
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != DefaultText || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("answer = %+v", c)
	}
	if c.Model != "gpt-4o-mini" {
		t.Errorf("model = %q", c.Model)
	}
	words := len(strings.Fields(DefaultText))
	wantPrompt := (len(chatBody) + 3) / 4
	if u := c.Usage; u == nil || u.PromptTokens != wantPrompt || u.CompletionTokens != words || u.TotalTokens != wantPrompt+words {
		t.Errorf("usage = %+v, want prompt %d, completion %d", c.Usage, wantPrompt, words)
	}
}

func TestChatUsageRules(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	t.Run("CompletionTokensIsMaxTokens", func(t *testing.T) {
		c := decode[completion](t, readBody(t, post(t, s, "/chat/completions", `{"model":"m","messages":[],"max_tokens":77}`)))
		if c.Usage.CompletionTokens != 77 {
			t.Errorf("completion_tokens = %d, want 77", c.Usage.CompletionTokens)
		}
	})
	t.Run("CompletionTokensIsMaxCompletionTokens", func(t *testing.T) {
		c := decode[completion](t, readBody(t, post(t, s, "/chat/completions", `{"model":"m","messages":[],"max_completion_tokens":12}`)))
		if c.Usage.CompletionTokens != 12 {
			t.Errorf("completion_tokens = %d, want 12", c.Usage.CompletionTokens)
		}
	})
	t.Run("ExplicitCounts", func(t *testing.T) {
		s.SetBehavior(Behavior{PromptTokens: 100, CompletionTokens: 20, CachedTokens: 40, ReasoningTokens: 5})
		defer s.SetBehavior(Behavior{})
		c := decode[completion](t, readBody(t, post(t, s, "/chat/completions", chatBody)))
		u := c.Usage
		if u.PromptTokens != 100 || u.CompletionTokens != 20 || u.TotalTokens != 120 ||
			u.PromptTokensDetails.CachedTokens != 40 || u.CompletionTokensDetails.ReasoningTokens != 5 {
			t.Errorf("usage = %+v", u)
		}
	})
	t.Run("NChoices", func(t *testing.T) {
		s.SetBehavior(Behavior{CompletionTokens: 3})
		defer s.SetBehavior(Behavior{})
		c := decode[completion](t, readBody(t, post(t, s, "/chat/completions", `{"model":"m","messages":[],"n":2}`)))
		if len(c.Choices) != 2 || c.Choices[1].Index != 1 || c.Usage.CompletionTokens != 6 {
			t.Errorf("answer = %+v", c)
		}
	})
	t.Run("NoUsage", func(t *testing.T) {
		s.SetBehavior(Behavior{NoUsage: true})
		defer s.SetBehavior(Behavior{})
		if c := decode[completion](t, readBody(t, post(t, s, "/chat/completions", chatBody))); c.Usage != nil {
			t.Errorf("usage = %+v, want none", c.Usage)
		}
	})
}

func TestStream(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	streamBody := `{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}`

	t.Run("ChunksPerWord", func(t *testing.T) {
		res := readStream(t, post(t, s, "/chat/completions", streamBody).Body)
		if res.err != nil || !res.done || res.text != DefaultText || res.chunks != len(strings.Fields(DefaultText)) {
			t.Fatalf("stream = %+v", res)
		}
		if res.usage == nil || res.usage.Usage.CompletionTokens != res.chunks {
			t.Errorf("usage = %+v, want %d completion tokens", res.usage, res.chunks)
		}
	})
	t.Run("FixedChunkCount", func(t *testing.T) {
		s.SetBehavior(Behavior{Text: "añb€cd", Chunks: 4})
		defer s.SetBehavior(Behavior{})
		res := readStream(t, post(t, s, "/chat/completions", streamBody).Body)
		if res.text != "añb€cd" || res.chunks != 4 {
			t.Fatalf("stream = %+v", res)
		}
	})
	t.Run("NoUsageChunkUnlessAsked", func(t *testing.T) {
		res := readStream(t, post(t, s, "/chat/completions", `{"model":"m","messages":[],"stream":true}`).Body)
		if res.usage != nil || !res.done {
			t.Fatalf("stream = %+v", res)
		}
	})
	t.Run("NoUsageBehavior", func(t *testing.T) {
		s.SetBehavior(Behavior{NoUsage: true})
		defer s.SetBehavior(Behavior{})
		if res := readStream(t, post(t, s, "/chat/completions", streamBody).Body); res.usage != nil || !res.done {
			t.Fatalf("stream = %+v", res)
		}
	})
	t.Run("EscapedText", func(t *testing.T) {
		text := "quote \" backslash \\ newline \n tab \t bell \a bad \xff end"
		s.SetBehavior(Behavior{Text: text, Chunks: 3})
		defer s.SetBehavior(Behavior{})
		res := readStream(t, post(t, s, "/chat/completions", streamBody).Body)
		if want := strings.ToValidUTF8(text, "\uFFFD"); res.text != want {
			t.Fatalf("text = %q, want %q", res.text, want)
		}
	})
	t.Run("RawEvents", func(t *testing.T) {
		s.SetBehavior(Behavior{RawEvents: []string{`{"choices":[{"delta":{"reasoning_content":"think"}}]}`, `{"x":1}`}})
		defer s.SetBehavior(Behavior{})
		resp := post(t, s, "/chat/completions", streamBody)
		body := string(readBody(t, resp))
		want := "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think\"}}]}\n\ndata: {\"x\":1}\n\ndata: [DONE]\n\n"
		if body != want {
			t.Fatalf("body = %q, want %q", body, want)
		}
	})
}

func TestErrors(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	tests := []struct {
		name       string
		err        *APIError
		status     int
		code, typ  string
		retryAfter string
	}{
		{"RateLimit", RateLimitError("20"), 429, "rate_limit_exceeded", "requests", "20"},
		{"Quota", QuotaError(), 429, "insufficient_quota", "insufficient_quota", ""},
		{"PaymentRequired", PaymentRequiredError(), 402, "insufficient_quota", "insufficient_quota", ""},
		{"Auth", AuthError(), 401, "invalid_api_key", "invalid_request_error", ""},
		{"Server", ServerError(), 500, "", "server_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetBehavior(Behavior{Error: tt.err})
			for _, body := range []string{chatBody, `{"model":"m","messages":[],"stream":true}`} {
				resp := post(t, s, "/chat/completions", body)
				e := decode[struct {
					Error struct {
						Message string  `json:"message"`
						Type    string  `json:"type"`
						Code    *string `json:"code"`
					} `json:"error"`
				}](t, readBody(t, resp))
				code := ""
				if e.Error.Code != nil {
					code = *e.Error.Code
				}
				if resp.StatusCode != tt.status || code != tt.code || e.Error.Type != tt.typ || e.Error.Message == "" {
					t.Errorf("got %d %+v", resp.StatusCode, e)
				}
				if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
				}
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	tests := []struct {
		name, method, path, body string
		status                   int
		param                    string
	}{
		{"NotJSON", "POST", "/chat/completions", `{"model":`, 400, ""},
		{"NoModel", "POST", "/chat/completions", `{"messages":[]}`, 400, ""},
		{"NoMessages", "POST", "/chat/completions", `{"model":"m"}`, 400, "messages"},
		{"WrongType", "POST", "/chat/completions", `{"model":"m","messages":[],"stream":"yes"}`, 400, "stream"},
		{"StreamOptionsWithoutStream", "POST", "/chat/completions", `{"model":"m","messages":[],"stream_options":{"include_usage":true}}`, 400, "stream_options"},
		{"NoInput", "POST", "/embeddings", `{"model":"m"}`, 400, "input"},
		{"UnknownPath", "POST", "/completions", `{}`, 404, ""},
		{"WrongMethod", "GET", "/chat/completions", ``, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.URL()+tt.path, strings.NewReader(tt.body))
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			e := decode[struct {
				Error struct {
					Type  string  `json:"type"`
					Param *string `json:"param"`
				} `json:"error"`
			}](t, readBody(t, resp))
			param := ""
			if e.Error.Param != nil {
				param = *e.Error.Param
			}
			if resp.StatusCode != tt.status || e.Error.Type != "invalid_request_error" || param != tt.param {
				t.Errorf("got %d %+v", resp.StatusCode, e)
			}
		})
	}
}

func TestRequireAPIKey(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	s.RequireAPIKey("sk-upstream")
	for key, status := range map[string]int{"": 401, "sk-wrong": 401, "sk-upstream": 200} {
		req, _ := http.NewRequest("POST", s.URL()+"/chat/completions", strings.NewReader(chatBody))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("key %q: status %d, want %d", key, resp.StatusCode, status)
		}
	}
}

func TestFaults(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	streamBody := `{"model":"m","messages":[],"stream":true}`

	t.Run("CutAfterChunks", func(t *testing.T) {
		s.SetBehavior(Behavior{Text: "a b c d", Fault: FaultCut, FaultAfter: 2})
		res := readStream(t, post(t, s, "/chat/completions", streamBody).Body)
		if res.done || res.chunks != 2 || !errors.Is(res.err, io.ErrUnexpectedEOF) {
			t.Fatalf("stream = %+v, want 2 chunks then an unexpected EOF", res)
		}
	})
	t.Run("CutBody", func(t *testing.T) {
		s.SetBehavior(Behavior{Fault: FaultCut})
		resp := post(t, s, "/chat/completions", chatBody)
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want unexpected EOF", err)
		}
	})
	t.Run("StallUntilClientLeaves", func(t *testing.T) {
		s.SetBehavior(Behavior{Text: "a b", Fault: FaultStall, FaultAfter: 1})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/chat/completions", strings.NewReader(streamBody))
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res := readStream(t, resp.Body)
		resp.Body.Close()
		if res.chunks != 1 || res.done || !errors.Is(res.err, context.DeadlineExceeded) {
			t.Fatalf("stream = %+v, want 1 chunk then the client's deadline", res)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		s.SetBehavior(Behavior{Text: "a b", Fault: FaultMalformed, FaultAfter: 1})
		res := readStream(t, post(t, s, "/chat/completions", streamBody).Body)
		var syntax *json.SyntaxError
		if res.chunks != 1 || !errors.As(res.err, &syntax) {
			t.Fatalf("stream = %+v, want 1 chunk then invalid JSON", res)
		}
	})
	t.Run("MalformedBody", func(t *testing.T) {
		s.SetBehavior(Behavior{Fault: FaultMalformed})
		resp := post(t, s, "/chat/completions", chatBody)
		if b := readBody(t, resp); resp.StatusCode != 200 || json.Valid(b) {
			t.Fatalf("status %d, body %s: want 200 with broken JSON", resp.StatusCode, b)
		}
	})
	t.Run("ErrorEvent", func(t *testing.T) {
		s.SetBehavior(Behavior{Text: "a b c", Fault: FaultErrorEvent, FaultAfter: 2})
		body := string(readBody(t, post(t, s, "/chat/completions", streamBody)))
		if !strings.HasSuffix(body, "data: "+string(appendError(nil, ServerError()))+"\n\n") || strings.Contains(body, "[DONE]") {
			t.Fatalf("body = %s", body)
		}
	})
	t.Run("FaultAfterLastChunk", func(t *testing.T) {
		s.SetBehavior(Behavior{Text: "a b", Fault: FaultCut, FaultAfter: 99})
		res := readStream(t, post(t, s, "/chat/completions", streamBody).Body)
		if res.chunks != 2 || res.done || res.err == nil {
			t.Fatalf("stream = %+v", res)
		}
	})
	t.Run("StallReleasedByClose", func(t *testing.T) {
		s2 := NewOpenAI()
		s2.SetBehavior(Behavior{Fault: FaultStall})
		go func() {
			resp, err := s2.Client().Post(s2.URL()+"/chat/completions", "application/json", strings.NewReader(chatBody))
			if err == nil {
				resp.Body.Close()
			}
		}()
		for s2.CallCount() == 0 {
			time.Sleep(time.Millisecond)
		}
		closed := make(chan struct{})
		go func() { s2.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close hung on a stalled call")
		}
	})
}

func TestDelays(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	s.SetBehavior(Behavior{Text: "a b c", HeaderDelay: 50 * time.Millisecond, ChunkDelay: 20 * time.Millisecond})
	start := time.Now()
	resp := post(t, s, "/chat/completions", `{"model":"m","messages":[],"stream":true}`)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("headers after %v, want at least the header delay", d)
	}
	readStream(t, resp.Body)
	if d := time.Since(start); d < 110*time.Millisecond {
		t.Errorf("stream took %v, want at least 50ms + 3×20ms", d)
	}
}

func TestRecording(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	req, _ := http.NewRequest("POST", s.URL()+"/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","messages":[],"stream":true,"stream_options":{"include_usage":true},"max_tokens":9,"n":1,"extra":{"kept":true}}`))
	req.Header.Set("Authorization", "Bearer sk-up")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	post(t, s, "/embeddings", `{"model":"e","input":["a","b"]}`).Body.Close()

	calls := s.Calls()
	if len(calls) != 2 || s.CallCount() != 2 {
		t.Fatalf("calls = %d, count = %d", len(calls), s.CallCount())
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/v1/chat/completions" || c.Model != "gpt-4o" || !c.Stream || !c.IncludeUsage ||
		c.MaxTokens != 9 || c.N != 1 || c.Header.Get("Authorization") != "Bearer sk-up" || c.Time.IsZero() ||
		!strings.Contains(string(c.Body), `"extra":{"kept":true}`) {
		t.Errorf("call = %+v", c)
	}
	if calls[1].Path != "/v1/embeddings" || calls[1].Model != "e" {
		t.Errorf("second call = %+v", calls[1])
	}

	s.Reset()
	if len(s.Calls()) != 0 || s.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
	s.SetRecording(false)
	post(t, s, "/chat/completions", chatBody).Body.Close()
	if len(s.Calls()) != 0 || s.CallCount() != 1 {
		t.Errorf("with recording off: %d calls kept, count %d", len(s.Calls()), s.CallCount())
	}
}

func TestRespondHook(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	s.SetRespond(func(r RecordedRequest) *Behavior {
		if r.Model == "flaky" {
			return &Behavior{Error: ServerError()}
		}
		return nil
	})
	if resp := post(t, s, "/chat/completions", `{"model":"flaky","messages":[]}`); resp.StatusCode != 500 {
		t.Errorf("flaky: status %d", resp.StatusCode)
	}
	if resp := post(t, s, "/chat/completions", chatBody); resp.StatusCode != 200 {
		t.Errorf("default: status %d", resp.StatusCode)
	}
	s.SetRespond(nil)
	if resp := post(t, s, "/chat/completions", `{"model":"flaky","messages":[]}`); resp.StatusCode != 200 {
		t.Errorf("after removing the hook: status %d", resp.StatusCode)
	}
}

func TestEmbeddings(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	type list struct {
		Data []struct {
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	for _, tt := range []struct {
		name, body string
		n, dim     int
	}{
		{"String", `{"model":"e","input":"hello"}`, 1, DefaultEmbeddingDim},
		{"Strings", `{"model":"e","input":["a","b","c"]}`, 3, DefaultEmbeddingDim},
		{"Tokens", `{"model":"e","input":[1,2,3]}`, 1, DefaultEmbeddingDim},
		{"TokenArrays", `{"model":"e","input":[[1],[2]]}`, 2, DefaultEmbeddingDim},
		{"Dimensions", `{"model":"e","input":"x","dimensions":3}`, 1, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := decode[list](t, readBody(t, post(t, s, "/embeddings", tt.body)))
			if len(l.Data) != tt.n || l.Usage.PromptTokens != (len(tt.body)+3)/4 || l.Usage.TotalTokens != l.Usage.PromptTokens {
				t.Fatalf("answer = %+v", l)
			}
			for i, d := range l.Data {
				var v []float32
				if err := json.Unmarshal(d.Embedding, &v); err != nil || len(v) != tt.dim || d.Index != i {
					t.Errorf("embedding %d = %s (%v)", i, d.Embedding, err)
				}
			}
		})
	}
	t.Run("Base64", func(t *testing.T) {
		l := decode[list](t, readBody(t, post(t, s, "/embeddings", `{"model":"e","input":"x","encoding_format":"base64"}`)))
		var s string
		if err := json.Unmarshal(l.Data[0].Embedding, &s); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 4*DefaultEmbeddingDim {
			t.Fatalf("decoded %d bytes, %v", len(raw), err)
		}
	})
}

func TestModels(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	s.SetBehavior(Behavior{Models: []string{"a", "b"}})
	resp, err := s.Client().Get(s.URL() + "/models")
	if err != nil {
		t.Fatal(err)
	}
	l := decode[struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}](t, readBody(t, resp))
	if len(l.Data) != 2 || l.Data[0].ID != "a" || l.Data[1].ID != "b" {
		t.Fatalf("models = %+v", l)
	}
}

// TestConcurrentUse changes the behaviour while calls are in flight; run with -race.
func TestConcurrentUse(t *testing.T) {
	s := NewOpenAI()
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 10 {
				body := chatBody
				if i%2 == 0 {
					body = `{"model":"m","messages":[],"stream":true}`
				}
				readBody(t, post(t, s, "/chat/completions", body))
			}
		})
	}
	wg.Go(func() {
		for j := range 50 {
			s.SetBehavior(Behavior{Chunks: j%5 + 1})
			_ = s.Calls()
		}
	})
	wg.Wait()
	if s.CallCount() != 80 {
		t.Fatalf("CallCount = %d, want 80", s.CallCount())
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		text string
		n    int
		want []string
	}{
		{"Hello big  world", 0, []string{"Hello", " big", "  world"}},
		{"  lead", 0, []string{"  lead"}},
		{"abcdefg", 3, []string{"abc", "de", "fg"}},
		{"ab", 5, []string{"a", "b"}},
		{"añ€", 3, []string{"a", "ñ", "€"}},
	}
	for _, tt := range tests {
		if got := split(tt.text, tt.n); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("split(%q, %d) = %q, want %q", tt.text, tt.n, got, tt.want)
		}
	}
}
