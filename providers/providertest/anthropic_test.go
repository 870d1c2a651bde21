package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers/sse"
)

const (
	anthropicKey  = "sk-ant-test-0123456789"
	anthropicBody = `{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`
	anthropicSSE  = `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
)

func newAnthropicFake(t *testing.T) *AnthropicServer {
	t.Helper()
	s := NewAnthropic()
	t.Cleanup(s.Close)
	s.RequireAPIKey(anthropicKey)
	return s
}

// postAnthropic sends body to path with the headers Anthropic's SDKs send; headers
// overrides them ("" deletes one).
func postAnthropic(t testing.TB, s *AnthropicServer, path, body string, headers ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", anthropicKey)
	req.Header.Set("Anthropic-Version", AnthropicVersion)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// anthropicMessage is the part of a message the tests read.
type anthropicMessageJSON struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Model      string `json:"model"`
	StopReason string `json:"stop_reason"`
	Content    []struct {
		Type     string          `json:"type"`
		Text     string          `json:"text"`
		Thinking string          `json:"thinking"`
		Name     string          `json:"name"`
		Input    json.RawMessage `json:"input"`
	} `json:"content"`
	Usage struct {
		InputTokens              int `json:"input_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
		OutputTokens             int `json:"output_tokens"`
	} `json:"usage"`
}

type anthropicErrorJSON struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// anthropicStream is what a client saw of a stream.
type anthropicStream struct {
	names    []string // event names in order
	text     string   // text deltas joined
	thinking string
	toolJSON string
	start    anthropicMessageJSON // message_start's message
	delta    struct {
		Delta struct {
			StopReason string `json:"stop_reason"`
		} `json:"delta"`
		Usage anthropicMessageJSON
	}
	errType string
	err     error
}

func readAnthropicStream(t *testing.T, r io.Reader) anthropicStream {
	t.Helper()
	var res anthropicStream
	events := sse.NewReader(r)
	for {
		ev, err := events.Next()
		if err != nil {
			if err != io.EOF {
				res.err = err
			}
			return res
		}
		res.names = append(res.names, ev.Name)
		var e struct {
			Type    string               `json:"type"`
			Message anthropicMessageJSON `json:"message"`
			Delta   struct {
				Type        string `json:"type"`
				Text        string `json:"text"`
				Thinking    string `json:"thinking"`
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			} `json:"delta"`
			Usage json.RawMessage `json:"usage"`
			Error struct {
				Type string `json:"type"`
			} `json:"error"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			res.err = err
			continue
		}
		if e.Type != ev.Name && ev.Name != "" {
			t.Errorf("event %q carries type %q", ev.Name, e.Type)
		}
		switch ev.Name {
		case "message_start":
			res.start = e.Message
		case "content_block_delta":
			res.text += e.Delta.Text
			res.thinking += e.Delta.Thinking
			res.toolJSON += e.Delta.PartialJSON
		case "message_delta":
			res.delta.Delta.StopReason = e.Delta.StopReason
			_ = json.Unmarshal(e.Usage, &res.delta.Usage.Usage)
		case "error":
			res.errType = e.Error.Type
		}
	}
}

func TestAnthropicMessage(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetBehavior(AnthropicBehavior{Text: "Paris.", InputTokens: 21, CacheCreationTokens: 188, CacheReadTokens: 2048, OutputTokens: 10})
	resp := postAnthropic(t, s, "/messages", anthropicBody)
	if resp.StatusCode != 200 || resp.Header.Get("Request-Id") == "" {
		t.Fatalf("status %d, request-id %q", resp.StatusCode, resp.Header.Get("Request-Id"))
	}
	m := decode[anthropicMessageJSON](t, readBody(t, resp))
	if m.Type != "message" || m.Model != "claude-sonnet-4-5" || m.StopReason != "end_turn" || len(m.Content) != 1 || m.Content[0].Text != "Paris." {
		t.Errorf("message = %+v", m)
	}
	if u := m.Usage; u.InputTokens != 21 || u.CacheCreationInputTokens != 188 || u.CacheReadInputTokens != 2048 || u.OutputTokens != 10 {
		t.Errorf("usage = %+v", u)
	}
	call := s.Calls()[0]
	if call.Model != "claude-sonnet-4-5" || call.MaxTokens != 64 || call.Stream || string(call.Body) != anthropicBody {
		t.Errorf("recorded %+v", call)
	}
}

func TestAnthropicMessageDefaults(t *testing.T) {
	s := newAnthropicFake(t)
	m := decode[anthropicMessageJSON](t, readBody(t, postAnthropic(t, s, "/messages", anthropicBody)))
	if m.Content[0].Text != DefaultText {
		t.Errorf("text = %q", m.Content[0].Text)
	}
	if want := (len(anthropicBody) + 3) / 4; m.Usage.InputTokens != want || m.Usage.OutputTokens != len(split(DefaultText, 0)) {
		t.Errorf("usage = %+v, want input %d", m.Usage, want)
	}
}

func TestAnthropicMessageBlocks(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetBehavior(AnthropicBehavior{Thinking: "Let me think.", Text: "Checking.",
		ToolUse: &AnthropicToolUse{Name: "get_weather", Input: `{"city":"Paris"}`}})
	m := decode[anthropicMessageJSON](t, readBody(t, postAnthropic(t, s, "/messages", anthropicBody)))
	var types []string
	for _, b := range m.Content {
		types = append(types, b.Type)
	}
	if !slices.Equal(types, []string{"thinking", "text", "tool_use"}) || m.StopReason != "tool_use" ||
		m.Content[2].Name != "get_weather" || string(m.Content[2].Input) != `{"city":"Paris"}` {
		t.Errorf("content = %v, stop %q: %+v", types, m.StopReason, m.Content)
	}
}

func TestAnthropicStream(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetBehavior(AnthropicBehavior{Text: "one two three", InputTokens: 7, CacheReadTokens: 100, CacheCreationTokens: 5})
	resp := postAnthropic(t, s, "/messages", anthropicSSE)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type = %q", ct)
	}
	res := readAnthropicStream(t, resp.Body)
	want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta", "content_block_delta",
		"content_block_stop", "message_delta", "message_stop"}
	if !slices.Equal(res.names, want) || res.err != nil {
		t.Fatalf("events = %v (%v), want %v", res.names, res.err, want)
	}
	if res.text != "one two three" || res.delta.Delta.StopReason != "end_turn" {
		t.Errorf("text %q, stop %q", res.text, res.delta.Delta.StopReason)
	}
	if u := res.start.Usage; u.InputTokens != 7 || u.CacheReadInputTokens != 100 || u.CacheCreationInputTokens != 5 || u.OutputTokens != 1 {
		t.Errorf("message_start usage = %+v", u)
	}
	if u := res.delta.Usage.Usage; u.InputTokens != 7 || u.CacheReadInputTokens != 100 || u.OutputTokens != 3 {
		t.Errorf("message_delta usage = %+v", u)
	}
}

func TestAnthropicStreamBlocks(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetBehavior(AnthropicBehavior{Thinking: "hmm ok", ToolUse: &AnthropicToolUse{Name: "f", Input: `{"a":[1,2,3]}`, Pieces: 4}})
	resp := postAnthropic(t, s, "/messages", anthropicSSE)
	defer resp.Body.Close()
	res := readAnthropicStream(t, resp.Body)
	if res.thinking != "hmm ok" || res.toolJSON != `{"a":[1,2,3]}` || res.text != "" || res.delta.Delta.StopReason != "tool_use" {
		t.Errorf("thinking %q, tool %q, text %q, stop %q", res.thinking, res.toolJSON, res.text, res.delta.Delta.StopReason)
	}
	// thinking: start, ping, 2 deltas, signature, stop; tool: start, empty delta, 4 pieces, stop
	if n := len(res.names); n != 1+6+7+2 {
		t.Errorf("%d events: %v", n, res.names)
	}
}

func TestAnthropicErrors(t *testing.T) {
	for name, e := range map[string]*AnthropicError{
		"Overloaded":    AnthropicOverloadedError(),
		"RateLimit":     AnthropicRateLimitError("17"),
		"CreditBalance": AnthropicCreditBalanceError(),
		"Billing":       AnthropicBillingError(),
		"Server":        AnthropicServerError(),
		"Permission":    AnthropicPermissionError(),
		"NotFound":      AnthropicNotFoundError("model: claude-nope"),
		"TooLarge":      AnthropicRequestTooLargeError(),
	} {
		t.Run(name, func(t *testing.T) {
			s := newAnthropicFake(t)
			s.SetBehavior(AnthropicBehavior{Error: e})
			for _, body := range []string{anthropicBody, anthropicSSE} {
				resp := postAnthropic(t, s, "/messages", body)
				got := decode[anthropicErrorJSON](t, readBody(t, resp))
				if resp.StatusCode != e.Status || got.Type != "error" || got.Error.Type != e.Type || got.Error.Message != e.Message {
					t.Errorf("status %d, body %+v", resp.StatusCode, got)
				}
				if resp.Header.Get("Retry-After") != e.RetryAfter {
					t.Errorf("retry-after = %q", resp.Header.Get("Retry-After"))
				}
			}
		})
	}
}

func TestAnthropicHeaders(t *testing.T) {
	s := newAnthropicFake(t)
	tests := []struct {
		name    string
		headers []string
		status  int
		typ     string
	}{
		{"MissingKey", []string{"X-Api-Key", ""}, 401, "authentication_error"},
		{"WrongKey", []string{"X-Api-Key", "sk-ant-wrong"}, 401, "authentication_error"},
		{"BearerIsNotEnough", []string{"X-Api-Key", "", "Authorization", "Bearer " + anthropicKey}, 401, "authentication_error"},
		{"MissingVersion", []string{"Anthropic-Version", ""}, 400, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := postAnthropic(t, s, "/messages", anthropicBody, tt.headers...)
			got := decode[anthropicErrorJSON](t, readBody(t, resp))
			if resp.StatusCode != tt.status || got.Error.Type != tt.typ {
				t.Errorf("status %d, body %+v", resp.StatusCode, got)
			}
		})
	}
	t.Run("AnyKeyWhenNoneRequired", func(t *testing.T) {
		s.RequireAPIKey("")
		defer s.RequireAPIKey(anthropicKey)
		if resp := postAnthropic(t, s, "/messages", anthropicBody, "X-Api-Key", "whatever"); resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestAnthropicBadRequests(t *testing.T) {
	s := newAnthropicFake(t)
	tests := []struct{ name, body, msg string }{
		{"NotJSON", `{"model":`, "error parsing the body"},
		{"NoModel", `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, "model: Field required"},
		{"NoMaxTokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, "max_tokens: Field required"},
		{"ZeroMaxTokens", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, "greater than or equal to 1"},
		{"NoMessages", `{"model":"m","max_tokens":5,"messages":[]}`, "messages: Field required"},
		{"SystemRole", `{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"be nice"}]}`, "messages.0.role"},
		{"UnknownMember", `{"model":"m","max_tokens":5,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, "stream_options: Extra inputs are not permitted"},
		{"EmptyText", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`, "non-empty"},
		{"EmptyString", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]}`, "non-empty"},
		{"Temperature", `{"model":"m","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"hi"}]}`, "temperature"},
		{"ImageMediaType", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AAAA"}}]}]}`, "media_type"},
		{"ToolResultWithoutToolUse", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_x","content":"1"}]}]}`, "unexpected `tool_use_id`"},
		{"ToolUseWithoutResult", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":"next"}]}`, "without `tool_result`"},
		{"ToolUseInputNotObject", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":"x"}]}]}`, "input object"},
		{"ToolChoiceWithoutTools", `{"model":"m","max_tokens":5,"tool_choice":{"type":"auto"},"messages":[{"role":"user","content":"hi"}]}`, "tool_choice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := postAnthropic(t, s, "/messages", tt.body)
			got := decode[anthropicErrorJSON](t, readBody(t, resp))
			if resp.StatusCode != 400 || got.Error.Type != "invalid_request_error" || !strings.Contains(got.Error.Message, tt.msg) {
				t.Errorf("status %d, body %+v; want a 400 mentioning %q", resp.StatusCode, got, tt.msg)
			}
		})
	}
	t.Run("ValidToolRoundTrip", func(t *testing.T) {
		body := `{"model":"m","max_tokens":5,"system":[{"type":"text","text":"sys"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"ok"},{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"42"},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}`
		if resp := postAnthropic(t, s, "/messages", body); resp.StatusCode != 200 {
			t.Errorf("status %d: %s", resp.StatusCode, readBody(t, resp))
		}
	})
	t.Run("UnknownRoute", func(t *testing.T) {
		resp := postAnthropic(t, s, "/complete", anthropicBody)
		if got := decode[anthropicErrorJSON](t, readBody(t, resp)); resp.StatusCode != 404 || got.Error.Type != "not_found_error" {
			t.Errorf("status %d, body %+v", resp.StatusCode, got)
		}
	})
}

func TestAnthropicCountTokens(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetBehavior(AnthropicBehavior{InputTokens: 30, CacheReadTokens: 12})
	resp := postAnthropic(t, s, "/messages/count_tokens", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	got := decode[struct {
		InputTokens int `json:"input_tokens"`
	}](t, readBody(t, resp))
	if resp.StatusCode != 200 || got.InputTokens != 42 {
		t.Errorf("status %d, input_tokens %d", resp.StatusCode, got.InputTokens)
	}
}

func TestAnthropicFaults(t *testing.T) {
	base := AnthropicBehavior{Text: "a b c d", FaultAfter: 2}
	t.Run("FaultCut", func(t *testing.T) {
		s := newAnthropicFake(t)
		b := base
		b.Fault = FaultCut
		s.SetBehavior(b)
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		res := readAnthropicStream(t, resp.Body)
		if res.text != "a b" || res.err == nil || slices.Contains(res.names, "message_stop") {
			t.Errorf("text %q, err %v, events %v", res.text, res.err, res.names)
		}
	})
	t.Run("FaultErrorEvent", func(t *testing.T) {
		s := newAnthropicFake(t)
		b := base
		b.Fault = FaultErrorEvent
		s.SetBehavior(b)
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		res := readAnthropicStream(t, resp.Body)
		if res.text != "a b" || res.errType != "overloaded_error" || res.names[len(res.names)-1] != "error" {
			t.Errorf("text %q, error %q, events %v", res.text, res.errType, res.names)
		}
	})
	t.Run("FaultMalformed", func(t *testing.T) {
		s := newAnthropicFake(t)
		b := base
		b.Fault = FaultMalformed
		s.SetBehavior(b)
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		res := readAnthropicStream(t, resp.Body)
		var syntaxErr *json.SyntaxError
		if !errors.As(res.err, &syntaxErr) || res.names[len(res.names)-1] != "message_stop" {
			t.Errorf("err %v, events %v", res.err, res.names)
		}
	})
	t.Run("FaultStall", func(t *testing.T) {
		s := newAnthropicFake(t)
		b := base
		b.Fault = FaultStall
		s.SetBehavior(b)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/messages", strings.NewReader(anthropicSSE))
		req.Header.Set("X-Api-Key", anthropicKey)
		req.Header.Set("Anthropic-Version", AnthropicVersion)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if res := readAnthropicStream(t, resp.Body); !errors.Is(res.err, context.DeadlineExceeded) || res.text != "a b" {
			t.Errorf("text %q, err %v", res.text, res.err)
		}
	})
	t.Run("UnknownEvents", func(t *testing.T) {
		s := newAnthropicFake(t)
		s.SetBehavior(AnthropicBehavior{Text: "x", UnknownEvents: true})
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		res := readAnthropicStream(t, resp.Body)
		if n := strings.Count(strings.Join(res.names, " "), "message_annotation"); n != 2 || res.names[1] != "message_annotation" {
			t.Errorf("events %v", res.names)
		}
	})
	t.Run("NoMessageStop", func(t *testing.T) {
		s := newAnthropicFake(t)
		s.SetBehavior(AnthropicBehavior{Text: "x", NoMessageStop: true})
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		if res := readAnthropicStream(t, resp.Body); res.names[len(res.names)-1] != "message_delta" {
			t.Errorf("events %v", res.names)
		}
	})
	t.Run("RawEvents", func(t *testing.T) {
		s := newAnthropicFake(t)
		s.SetBehavior(AnthropicBehavior{RawEvents: []AnthropicEvent{{Name: "ping", Data: `{"type":"ping"}`}, {Name: "message_stop", Data: `{"type":"message_stop"}`}}})
		resp := postAnthropic(t, s, "/messages", anthropicSSE)
		defer resp.Body.Close()
		if res := readAnthropicStream(t, resp.Body); !slices.Equal(res.names, []string{"ping", "message_stop"}) {
			t.Errorf("events %v", res.names)
		}
	})
	t.Run("PlainBodyCut", func(t *testing.T) {
		s := newAnthropicFake(t)
		s.SetBehavior(AnthropicBehavior{Fault: FaultCut})
		resp := postAnthropic(t, s, "/messages", anthropicBody)
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("reading a cut body succeeded")
		}
	})
}

func TestAnthropicDelays(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetBehavior(AnthropicBehavior{Text: "a b c", HeaderDelay: 20 * time.Millisecond, ChunkDelay: 10 * time.Millisecond})
	start := time.Now()
	resp := postAnthropic(t, s, "/messages", anthropicSSE)
	defer resp.Body.Close()
	readAnthropicStream(t, resp.Body)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("stream took %v, want at least 50ms", d)
	}
}

func TestAnthropicRespondHookAndRecording(t *testing.T) {
	s := newAnthropicFake(t)
	s.SetRespond(func(r RecordedRequest) *AnthropicBehavior {
		if bytes.Contains(r.Body, []byte("fail")) {
			return &AnthropicBehavior{Error: AnthropicOverloadedError()}
		}
		return nil
	})
	if resp := postAnthropic(t, s, "/messages", strings.Replace(anthropicBody, "hi", "fail", 1)); resp.StatusCode != 529 {
		t.Errorf("hooked call: status %d", resp.StatusCode)
	}
	if resp := postAnthropic(t, s, "/messages", anthropicBody); resp.StatusCode != 200 {
		t.Errorf("plain call: status %d", resp.StatusCode)
	}
	s.SetRecording(false)
	postAnthropic(t, s, "/messages", anthropicBody)
	if len(s.Calls()) != 2 || s.CallCount() != 3 {
		t.Errorf("%d calls recorded, %d counted", len(s.Calls()), s.CallCount())
	}
	if h := s.Calls()[0].Header; h.Get("X-Api-Key") != anthropicKey {
		t.Errorf("recorded headers %v", h)
	}
	s.Reset()
	if len(s.Calls()) != 0 || s.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
}

func TestAnthropicConcurrentUse(t *testing.T) {
	s := newAnthropicFake(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				s.SetBehavior(AnthropicBehavior{Text: "x y"})
			}
			body := anthropicBody
			if i%2 == 0 {
				body = anthropicSSE
			}
			resp := postAnthropic(t, s, "/messages", body)
			readBody(t, resp)
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if s.CallCount() != 16 {
		t.Errorf("CallCount = %d", s.CallCount())
	}
}

// BenchmarkAnthropicHandler measures one call served by the fake, as a load test
// uses it (recording off).
func BenchmarkAnthropicHandler(b *testing.B) {
	for name, body := range map[string]string{"Message": anthropicBody, "Stream20": anthropicSSE} {
		b.Run(name, func(b *testing.B) {
			h := NewAnthropicHandler()
			h.SetRecording(false)
			h.SetBehavior(AnthropicBehavior{Text: strings.Repeat("word ", 20), Chunks: 20})
			w := &discardWriter{h: http.Header{}}
			rd := strings.NewReader(body)
			req, _ := http.NewRequest("POST", "/v1/messages", rd)
			req.Header.Set("X-Api-Key", "k")
			req.Header.Set("Anthropic-Version", AnthropicVersion)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
