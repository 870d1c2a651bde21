package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const geminiChat = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`

// geminiAnswer is the part of a GenerateContentResponse the tests read.
type geminiAnswer struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text             string          `json:"text"`
				Thought          bool            `json:"thought"`
				ThoughtSignature string          `json:"thoughtSignature"`
				FunctionCall     json.RawMessage `json:"functionCall"`
			} `json:"parts"`
			Role string `json:"role"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
		Index        int    `json:"index"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *struct {
		PromptTokenCount        int `json:"promptTokenCount"`
		CandidatesTokenCount    int `json:"candidatesTokenCount"`
		CachedContentTokenCount int `json:"cachedContentTokenCount"`
		ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
		TotalTokenCount         int `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string `json:"modelVersion"`
	ResponseID   string `json:"responseId"`
}

type geminiErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func (a geminiAnswer) text() string {
	var b strings.Builder
	for _, c := range a.Candidates {
		for _, p := range c.Content.Parts {
			if !p.Thought {
				b.WriteString(p.Text)
			}
		}
	}
	return b.String()
}

func TestGeminiDefaults(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	if !strings.HasSuffix(s.URL(), "/v1beta") {
		t.Errorf("URL = %s", s.URL())
	}
	a := decode[geminiAnswer](t, readBody(t, geminiPost(t, s, "gemini-2.5-flash:generateContent", geminiChat)))
	if a.text() != DefaultText || a.Candidates[0].FinishReason != "STOP" || a.Candidates[0].Content.Role != "model" || a.ModelVersion != "gemini-2.5-flash" || a.ResponseID == "" {
		t.Fatalf("answer = %+v", a)
	}
	wantPrompt := (len(geminiChat) + 3) / 4
	words := len(strings.Fields(DefaultText))
	if u := a.UsageMetadata; u == nil || u.PromptTokenCount != wantPrompt || u.CandidatesTokenCount != words || u.TotalTokenCount != wantPrompt+words {
		t.Errorf("usage = %+v", a.UsageMetadata)
	}
	call := s.Calls()[0]
	if call.Model != "gemini-2.5-flash" || call.RPC != "generateContent" || call.Stream || string(call.Body) != geminiChat {
		t.Errorf("recorded = %+v", call)
	}
}

func TestGeminiUsageRules(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	t.Run("CandidatesIsMaxOutputTokensTimesCandidates", func(t *testing.T) {
		a := decode[geminiAnswer](t, readBody(t, geminiPost(t, s, "m:generateContent",
			`{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"maxOutputTokens":40,"candidateCount":2}}`)))
		if len(a.Candidates) != 2 || a.Candidates[1].Index != 1 || a.UsageMetadata.CandidatesTokenCount != 80 {
			t.Errorf("answer = %+v", a)
		}
		if c := s.Calls()[0]; c.MaxOutputTokens != 40 || c.CandidateCount != 2 {
			t.Errorf("recorded = %+v", c)
		}
	})
	t.Run("ExplicitCounts", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{PromptTokens: 100, CandidatesTokens: 20, CachedTokens: 60, ThoughtsTokens: 5, Thoughts: "so"})
		defer s.SetBehavior(GeminiBehavior{})
		a := decode[geminiAnswer](t, readBody(t, geminiPost(t, s, "m:generateContent", geminiChat)))
		u := a.UsageMetadata
		if u.PromptTokenCount != 100 || u.CandidatesTokenCount != 20 || u.CachedContentTokenCount != 60 || u.ThoughtsTokenCount != 5 || u.TotalTokenCount != 125 {
			t.Errorf("usage = %+v", u)
		}
		if p := a.Candidates[0].Content.Parts; len(p) != 2 || !p[0].Thought || p[0].Text != "so" || p[1].Thought {
			t.Errorf("parts = %+v", p)
		}
	})
	t.Run("NoUsage", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{NoUsage: true})
		defer s.SetBehavior(GeminiBehavior{})
		if a := decode[geminiAnswer](t, readBody(t, geminiPost(t, s, "m:generateContent", geminiChat))); a.UsageMetadata != nil {
			t.Errorf("usage = %+v", a.UsageMetadata)
		}
	})
	t.Run("FunctionCallsAndBlock", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{FunctionCalls: []GeminiFunctionCall{{Name: "f", Args: `{"a":1}`, ID: "c1"}, {Name: "g"}}, ThoughtSignature: "c2ln"})
		a := decode[geminiAnswer](t, readBody(t, geminiPost(t, s, "m:generateContent", geminiChat)))
		p := a.Candidates[0].Content.Parts
		if len(p) != 2 || compactJSON(p[0].FunctionCall) != `{"id":"c1","name":"f","args":{"a":1}}` || p[0].ThoughtSignature != "c2ln" || compactJSON(p[1].FunctionCall) != `{"name":"g","args":{}}` {
			t.Errorf("parts = %+v", p)
		}
		s.SetBehavior(GeminiBehavior{BlockReason: "SAFETY"})
		defer s.SetBehavior(GeminiBehavior{})
		a = decode[geminiAnswer](t, readBody(t, geminiPost(t, s, "m:generateContent", geminiChat)))
		if len(a.Candidates) != 0 || a.PromptFeedback == nil || a.PromptFeedback.BlockReason != "SAFETY" {
			t.Errorf("answer = %+v", a)
		}
	})
}

func TestGeminiStream(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	s.SetBehavior(GeminiBehavior{Text: "añb€cd", Chunks: 3, CandidatesTokens: 3, PromptTokens: 7})
	resp := geminiPost(t, s, "m:streamGenerateContent?alt=sse", geminiChat)
	events := geminiEvents(t, resp.Body)
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	var text strings.Builder
	for i, e := range events {
		a := decode[geminiAnswer](t, e)
		text.WriteString(a.text())
		if (a.Candidates[0].FinishReason == "STOP") != (i == 2) {
			t.Errorf("event %d finish = %q", i, a.Candidates[0].FinishReason)
		}
		if a.UsageMetadata == nil || a.UsageMetadata.PromptTokenCount != 7 || a.UsageMetadata.CandidatesTokenCount != i+1 {
			t.Errorf("event %d usage = %+v, want cumulative", i, a.UsageMetadata)
		}
	}
	if text.String() != "añb€cd" {
		t.Errorf("text = %q", text.String())
	}
	t.Run("JSONArrayWithoutAltSSE", func(t *testing.T) {
		resp := geminiPost(t, s, "m:streamGenerateContent", geminiChat)
		var arr []geminiAnswer
		if err := json.Unmarshal(readBody(t, resp), &arr); err != nil || len(arr) != 3 || resp.Header.Get("Content-Type") != "application/json; charset=UTF-8" {
			t.Fatalf("array of %d, err %v", len(arr), err)
		}
	})
	t.Run("RawEventsAndErrorEvent", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{RawEvents: []string{`{"x":1}`, `{"y":2}`}, Fault: FaultErrorEvent, FaultAfter: 1})
		defer s.SetBehavior(GeminiBehavior{})
		events := geminiEvents(t, geminiPost(t, s, "m:streamGenerateContent?alt=sse", geminiChat).Body)
		if len(events) != 2 || string(events[0]) != `{"x":1}` || !strings.Contains(string(events[1]), `"status": "INTERNAL"`) {
			t.Errorf("events = %q", events)
		}
	})
	t.Run("MalformedCarriesOn", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{Text: "a b", Fault: FaultMalformed, FaultAfter: 1})
		defer s.SetBehavior(GeminiBehavior{})
		events := geminiEvents(t, geminiPost(t, s, "m:streamGenerateContent?alt=sse", geminiChat).Body)
		if len(events) != 3 || json.Valid(events[1]) {
			t.Errorf("events = %q", events)
		}
	})
	t.Run("CutDropsConnection", func(t *testing.T) {
		s.SetBehavior(GeminiBehavior{Text: "a b c", Fault: FaultCut, FaultAfter: 2})
		defer s.SetBehavior(GeminiBehavior{})
		resp := geminiPost(t, s, "m:streamGenerateContent?alt=sse", geminiChat)
		defer resp.Body.Close()
		var buf strings.Builder
		_, err := bufCopy(&buf, resp.Body)
		if err == nil || strings.Count(buf.String(), "data: ") != 2 {
			t.Errorf("read %q, err %v; want 2 events and a broken connection", buf.String(), err)
		}
	})
}

func TestGeminiKeys(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	s.RequireAPIKey("secret")
	do := func(target string, header string) (int, geminiErrorBody) {
		req, _ := http.NewRequest("POST", s.URL()+target, strings.NewReader(geminiChat))
		if header != "" {
			req.Header.Set("x-goog-api-key", header)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, decode[geminiErrorBody](t, readBody(t, resp))
	}
	if status, _ := do("/models/m:generateContent", "secret"); status != 200 {
		t.Errorf("right key: %d", status)
	}
	if status, e := do("/models/m:generateContent", "nope"); status != 400 || e.Error.Status != "INVALID_ARGUMENT" || !strings.Contains(e.Error.Message, "API key not valid") {
		t.Errorf("wrong key: %d %+v", status, e)
	}
	if status, e := do("/models/m:generateContent", ""); status != 403 || e.Error.Status != "PERMISSION_DENIED" {
		t.Errorf("no key: %d %+v", status, e)
	}
	if status, e := do("/models/m:generateContent?key=secret", "secret"); status != 400 || !strings.Contains(e.Error.Message, "x-goog-api-key") {
		t.Errorf("key in URL: %d %+v, want refused", status, e)
	}
	if status, _ := do("/models/m:generateContent?alt=json&key=secret", ""); status != 400 {
		t.Errorf("key in URL without header: %d, want refused", status)
	}
}

// TestGeminiStrictRequests checks the fake refuses what Gemini refuses, so a
// translation that sends it fails in tests, not in production.
func TestGeminiStrictRequests(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	tests := []struct{ name, body, want string }{
		{"NotJSON", `{"contents":`, "Invalid JSON payload"},
		{"UnknownTopLevel", `{"contents":[{"parts":[{"text":"x"}]}],"messages":[]}`, `Unknown name "messages"`},
		{"SnakeCaseFromOpenAI", `{"contents":[{"parts":[{"text":"x"}]}],"max_tokens":5}`, `Unknown name "max_tokens"`},
		{"SchemaAdditionalProperties", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING"}},"additionalProperties":false}}]}]}`, `Unknown name "additionalProperties"`},
		{"SchemaDollarSchema", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"$schema":"x","type":"OBJECT","properties":{"a":{"type":"STRING"}}}}]}]}`, `Unknown name "$schema"`},
		{"SchemaStringFormat", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"u":{"type":"STRING","format":"uri"}}}}]}]}`, "only 'enum' and 'date-time'"},
		{"SchemaEmptyObject", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{}}}]}]}`, "should be non-empty for OBJECT type"},
		{"SchemaRequiredUnknown", `{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING"}},"required":["b"]}}]}]}`, "property is not defined"},
		{"SchemaBadType", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"date"}}}`, "invalid value"},
		{"NoContents", `{"contents":[]}`, "contents is not specified"},
		{"BadRole", `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, "valid role: user, model"},
		{"EmptyParts", `{"contents":[{"role":"user","parts":[]}]}`, "must not be empty"},
		{"PartWithTwoKinds", `{"contents":[{"parts":[{"text":"x","functionCall":{"name":"f"}}]}]}`, "oneof field 'data' is already set"},
		{"PartWithNothing", `{"contents":[{"parts":[{"thought":true}]}]}`, "must have one initialized field"},
		{"BadBase64", `{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"not base64!"}}]}]}`, "Base64 decoding failed"},
		{"BadSignature", `{"contents":[{"parts":[{"text":"x","thoughtSignature":"%%%"}]}]}`, "thought_signature"},
		{"ImageInSystemInstruction", `{"contents":[{"parts":[{"text":"x"}]}],"systemInstruction":{"parts":[{"fileData":{"fileUri":"https://x/y.png"}}]}}`, "only text parts"},
		{"AllowedNamesWithAuto", `{"contents":[{"parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO","allowedFunctionNames":["f"]}}}`, "allowed_function_names"},
		{"BadMode", `{"contents":[{"parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":{"mode":"REQUIRED"}}}`, "Invalid value"},
		{"TooManyStops", `{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"stopSequences":["a","b","c","d","e","f"]}}`, "at most 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := geminiPost(t, s, "m:generateContent", tt.body)
			e := decode[geminiErrorBody](t, readBody(t, resp))
			if resp.StatusCode != 400 || e.Error.Code != 400 || e.Error.Status != "INVALID_ARGUMENT" || !strings.Contains(e.Error.Message, tt.want) {
				t.Errorf("status %d, error %+v; want a 400 mentioning %q", resp.StatusCode, e.Error, tt.want)
			}
		})
	}
	t.Run("FullValidRequestAccepted", func(t *testing.T) {
		body := `{"contents":[{"role":"user","parts":[{"text":"x"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},{"fileData":{"fileUri":"https://x/y.pdf","mimeType":"application/pdf"}}]},` +
			`{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"skip_thought_signature_validator"}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"output":"ok"}}}]}],` +
			`"systemInstruction":{"parts":[{"text":"Be brief."}]},"tools":[{"functionDeclarations":[{"name":"f","description":"d","parameters":{"type":"OBJECT","properties":{"a":{"type":"INTEGER","nullable":true,"minimum":0},"e":{"type":"STRING","enum":["x","y"],"format":"enum"},"l":{"type":"ARRAY","items":{"type":"STRING"},"maxItems":3},"u":{"anyOf":[{"type":"STRING"},{"type":"NUMBER"}]}},"required":["a"]}}]}],` +
			`"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}},"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],` +
			`"generationConfig":{"maxOutputTokens":5,"temperature":0.5,"topP":0.9,"candidateCount":1,"stopSequences":["x"],"seed":3,"presencePenalty":0.1,"frequencyPenalty":0.1,"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"NUMBER"}}},"thinkingConfig":{"thinkingBudget":0,"includeThoughts":true}},"cachedContent":"cachedContents/c"}`
		if resp := geminiPost(t, s, "m:generateContent", body); resp.StatusCode != 200 {
			t.Errorf("status %d: %s", resp.StatusCode, readBody(t, resp))
		}
	})
}

func TestGeminiRoutes(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	for _, path := range []string{"m:countTokens", "m", "a/b:generateContent"} {
		if resp := geminiPost(t, s, path, geminiChat); resp.StatusCode != 404 || decode[geminiErrorBody](t, readBody(t, resp)).Error.Status != "NOT_FOUND" {
			t.Errorf("%s: status %d, want Gemini's 404", path, resp.StatusCode)
		}
	}
	resp, err := s.Client().Post(strings.TrimSuffix(s.URL(), "/v1beta")+"/v1/chat/completions", "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode != 404 {
		t.Errorf("OpenAI path: %v %v", resp.StatusCode, err)
	}
	t.Run("TunedModel", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.URL()+"/tunedModels/my-tune:generateContent", strings.NewReader(geminiChat))
		resp, err := s.Client().Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %v, err %v", resp.StatusCode, err)
		}
	})
	t.Run("EmbedContent", func(t *testing.T) {
		resp := geminiPost(t, s, "gemini-embedding-001:embedContent", `{"content":{"parts":[{"text":"x"}]},"outputDimensionality":3,"taskType":"RETRIEVAL_QUERY"}`)
		var e struct {
			Embedding struct {
				Values []float64 `json:"values"`
			} `json:"embedding"`
		}
		if err := json.Unmarshal(readBody(t, resp), &e); err != nil || len(e.Embedding.Values) != 3 {
			t.Errorf("embedding = %+v, %v", e, err)
		}
	})
	t.Run("BatchModelMustMatchURL", func(t *testing.T) {
		resp := geminiPost(t, s, "gemini-embedding-001:batchEmbedContents", `{"requests":[{"model":"models/other","content":{"parts":[{"text":"x"}]}}]}`)
		if resp.StatusCode != 400 {
			t.Errorf("status %d", resp.StatusCode)
		}
		resp = geminiPost(t, s, "gemini-embedding-001:batchEmbedContents", `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[]}}]}`)
		if resp.StatusCode != 400 {
			t.Errorf("empty parts: status %d", resp.StatusCode)
		}
	})
}

func TestGeminiHooksAndRecording(t *testing.T) {
	s := NewGemini()
	defer s.Close()
	var mu sync.Mutex
	n := 0
	s.SetRespond(func(r GeminiRecordedRequest) *GeminiBehavior {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == 1 {
			return &GeminiBehavior{Error: GeminiOverloadedError()}
		}
		return nil
	})
	if resp := geminiPost(t, s, "m:generateContent", geminiChat); resp.StatusCode != 503 {
		t.Errorf("first call: %d", resp.StatusCode)
	}
	if resp := geminiPost(t, s, "m:generateContent", geminiChat); resp.StatusCode != 200 {
		t.Errorf("second call: %d", resp.StatusCode)
	}
	s.SetRespond(nil)
	s.SetRecording(false)
	geminiPost(t, s, "m:generateContent", geminiChat)
	if len(s.Calls()) != 2 || s.CallCount() != 3 {
		t.Errorf("calls %d, count %d", len(s.Calls()), s.CallCount())
	}
	s.Reset()
	if len(s.Calls()) != 0 || s.CallCount() != 0 {
		t.Error("Reset kept calls")
	}
	s.SetBehavior(GeminiBehavior{ModelVersion: "gemini-2.5-flash-001"})
	if b := s.Behavior(); b.ModelVersion != "gemini-2.5-flash-001" {
		t.Errorf("Behavior() = %+v", b)
	}
}

func TestGeminiShutdownReleasesStalls(t *testing.T) {
	s := NewGemini()
	s.SetBehavior(GeminiBehavior{HeaderDelay: time.Hour})
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(context.Background(), "POST", s.URL()+"/models/m:generateContent", strings.NewReader(geminiChat))
		if resp, err := s.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(30 * time.Millisecond)
	start := time.Now()
	s.Close()
	<-done
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	json.Compact(&b, raw)
	return b.String()
}

func bufCopy(dst *strings.Builder, src interface{ Read([]byte) (int, error) }) (int, error) {
	buf := make([]byte, 512)
	total := 0
	for {
		n, err := src.Read(buf)
		dst.Write(buf[:n])
		total += n
		if err != nil {
			if err.Error() == "EOF" {
				return total, nil
			}
			return total, err
		}
	}
}
