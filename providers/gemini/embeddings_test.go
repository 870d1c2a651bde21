package gemini

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/providers/providertest"
)

type embeddingsList struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string           `json:"model"`
	Usage *json.RawMessage `json:"usage"`
}

func embed(t *testing.T, c *Client, body string) (embeddingsList, *providers.EmbeddingsResponse) {
	t.Helper()
	resp, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(body), Model: "gemini-embedding-001"})
	if err != nil {
		t.Fatal(err)
	}
	var l embeddingsList
	if err := json.Unmarshal(resp.Body, &l); err != nil {
		t.Fatalf("%v: %s", err, resp.Body)
	}
	return l, resp
}

func TestEmbeddings(t *testing.T) {
	s, c := newFake(t)
	l, resp := embed(t, c, `{"model":"gemini-embedding-001","input":["The food was delicious.","Bad service."],"dimensions":4,"user":"u"}`)
	if resp.Usage != nil || l.Usage != nil {
		t.Errorf("usage = %+v / %s, want none: Gemini reports no embedding usage", resp.Usage, *l.Usage)
	}
	if l.Object != "list" || l.Model != "gemini-embedding-001" || len(l.Data) != 2 || l.Data[1].Index != 1 || l.Data[0].Object != "embedding" {
		t.Fatalf("answer = %s", resp.Body)
	}
	var v []float64
	if err := json.Unmarshal(l.Data[0].Embedding, &v); err != nil || len(v) != 4 {
		t.Errorf("embedding = %s", l.Data[0].Embedding)
	}
	call := s.Calls()[0]
	if call.Path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" {
		t.Errorf("path = %s", call.Path)
	}
	jsonEqual(t, call.Body, `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"The food was delicious."}]},"outputDimensionality":4},`+
		`{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"Bad service."}]},"outputDimensionality":4}]}`)

	t.Run("StringInput", func(t *testing.T) {
		l, _ := embed(t, c, `{"input":"one"}`)
		if len(l.Data) != 1 {
			t.Errorf("data = %+v", l.Data)
		}
	})
	t.Run("UsageWhenReported", func(t *testing.T) {
		s.SetBehavior(providertest.GeminiBehavior{EmbeddingUsage: true})
		defer s.SetBehavior(providertest.GeminiBehavior{})
		l, resp := embed(t, c, `{"input":["abcdefgh","abcd"]}`)
		if resp.Usage == nil || *resp.Usage != (providers.Usage{InputTokens: 3}) || l.Usage == nil {
			t.Errorf("usage = %+v", resp.Usage)
		}
		jsonEqual(t, *l.Usage, `{"prompt_tokens":3,"total_tokens":3}`)
	})
	t.Run("Base64", func(t *testing.T) {
		s.SetBehavior(providertest.GeminiBehavior{RawBody: `{"embeddings": [{"values": [0.5, -1.25]}]}`})
		defer s.SetBehavior(providertest.GeminiBehavior{})
		l, _ := embed(t, c, `{"input":"x","encoding_format":"base64"}`)
		var b64 string
		if err := json.Unmarshal(l.Data[0].Embedding, &b64); err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(b64)
		if len(raw) != 8 || math.Float32frombits(binary.LittleEndian.Uint32(raw)) != 0.5 || math.Float32frombits(binary.LittleEndian.Uint32(raw[4:])) != -1.25 {
			t.Errorf("base64 embedding = %s", b64)
		}
	})
	t.Run("BatchesOfAHundred", func(t *testing.T) {
		s.Reset()
		inputs := make([]string, 230)
		for i := range inputs {
			inputs[i] = fmt.Sprintf("%q", fmt.Sprint("text ", i))
		}
		l, _ := embed(t, c, `{"input":[`+strings.Join(inputs, ",")+`]}`)
		if len(l.Data) != 230 || l.Data[229].Index != 229 || l.Data[100].Index != 100 {
			t.Fatalf("%d embeddings", len(l.Data))
		}
		if n := len(s.Calls()); n != 3 {
			t.Errorf("%d calls, want 3 (100 + 100 + 30)", n)
		}
	})
}

func TestEmbeddingsRefusals(t *testing.T) {
	s, c := newFake(t)
	for name, body := range map[string]string{
		"TokenIDs":      `{"input":[1,2,3]}`,
		"TokenArrays":   `{"input":[[1,2],[3]]}`,
		"Empty":         `{"input":""}`,
		"EmptyInList":   `{"input":["a",""]}`,
		"NoInput":       `{"model":"m"}`,
		"BadEncoding":   `{"input":"a","encoding_format":"int8"}`,
		"NotJSONObject": `[`,
	} {
		_, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(body), Model: "gemini-embedding-001"})
		if ue := upstreamError(t, err); ue.Status != 400 || ue.Retryable() {
			t.Errorf("%s: got %+v", name, ue)
		}
	}
	if s.CallCount() != 0 {
		t.Errorf("%d calls made for refused requests", s.CallCount())
	}
	tests := []struct {
		name     string
		behavior providertest.GeminiBehavior
		code     string
		status   int
	}{
		{"CountMismatch", providertest.GeminiBehavior{RawBody: `{"embeddings":[]}`}, "invalid_response", 0},
		{"NotVectors", providertest.GeminiBehavior{RawBody: `{"embeddings":[{"values":"x"}]}`}, "invalid_response", 0},
		{"NotJSON", providertest.GeminiBehavior{RawBody: `nope`}, "invalid_response", 0},
		{"ErrorInside200", providertest.GeminiBehavior{RawBody: `{"error":{"code":500,"message":"x","status":"INTERNAL"}}`}, "INTERNAL", 0},
		{"Quota", providertest.GeminiBehavior{Error: providertest.GeminiQuotaError()}, "RESOURCE_EXHAUSTED", 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetBehavior(tt.behavior)
			_, err := c.Embeddings(context.Background(), &providers.EmbeddingsRequest{Body: []byte(`{"input":"a"}`), Model: "gemini-embedding-001"})
			if ue := upstreamError(t, err); ue.Code != tt.code || ue.Status != tt.status {
				t.Errorf("got %+v", ue)
			}
		})
	}
}
