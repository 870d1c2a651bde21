package gemini

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/tollgate-gw/tollgate/providers"
)

// maxEmbedBatch is the number of texts sent in one batchEmbedContents call, Gemini's
// limit; a longer OpenAI input list is sent in several calls, in order.
const maxEmbedBatch = 100

// embeddingsRequest is the part of an OpenAI embeddings request the translation reads.
type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Dimensions     *int64          `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
}

type embedRequest struct {
	Model                string  `json:"model"`
	Content              content `json:"content"`
	OutputDimensionality int64   `json:"outputDimensionality,omitempty"`
}

type embedResponse struct {
	Embeddings []struct {
		Values json.RawMessage `json:"values"`
	} `json:"embeddings"`
	UsageMetadata *struct {
		PromptTokenCount int64 `json:"promptTokenCount"`
		TotalTokenCount  int64 `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	Error json.RawMessage `json:"error"`
}

// Embeddings translates an OpenAI embeddings request (input as a string or an array
// of strings, optional dimensions and encoding_format) into batchEmbedContents and
// the answer back into an OpenAI embeddings list.
//
// Gemini's embedding answers carry no token counts, so Usage is nil and the body has
// no "usage" member: the gateway counts the input itself. Should Gemini report
// usageMetadata, its prompt count is used.
func (c *Client) Embeddings(ctx context.Context, req *providers.EmbeddingsRequest) (*providers.EmbeddingsResponse, error) {
	path, err := modelPath(req.Model)
	if err != nil {
		return nil, err
	}
	var in embeddingsRequest
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return nil, invalidRequest("", "the body is not a valid embeddings request: "+err.Error())
	}
	texts, err := embeddingTexts(in.Input)
	if err != nil {
		return nil, err
	}
	switch in.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, invalidRequest("encoding_format", "must be float or base64")
	}
	var dims int64
	if in.Dimensions != nil {
		dims = *in.Dimensions
	}
	resource := strings.TrimPrefix(path, "/")

	out := append(make([]byte, 0, 4096), `{"object":"list","data":[`...)
	var usage *providers.Usage
	for start := 0; start < len(texts); start += maxEmbedBatch {
		batch := texts[start:min(start+maxEmbedBatch, len(texts))]
		reqs := make([]embedRequest, len(batch))
		for i, t := range batch {
			reqs[i] = embedRequest{Model: resource, Content: content{Parts: []part{{Text: t}}}, OutputDimensionality: dims}
		}
		body, err := marshal(map[string]any{"requests": reqs})
		if err != nil {
			return nil, err
		}
		data, err := c.call(ctx, http.MethodPost, path+":batchEmbedContents", body)
		if err != nil {
			return nil, err
		}
		var r embedResponse
		if err := json.Unmarshal(data, &r); err != nil && !isTypeError(err) {
			return nil, c.invalidResponse("embeddings answer is not valid JSON")
		}
		if isError(r.Error) {
			return nil, c.errorFromBody(0, data)
		}
		if len(r.Embeddings) != len(batch) {
			return nil, c.invalidResponse("upstream returned " + strconv.Itoa(len(r.Embeddings)) +
				" embeddings for " + strconv.Itoa(len(batch)) + " inputs")
		}
		for i, e := range r.Embeddings {
			if start+i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"object":"embedding","index":`...)
			out = strconv.AppendInt(out, int64(start+i), 10)
			out = append(out, `,"embedding":`...)
			if out, err = appendVector(out, e.Values, in.EncodingFormat == "base64"); err != nil {
				return nil, c.invalidResponse("embedding values are not an array of numbers")
			}
			out = append(out, '}')
		}
		if u := r.UsageMetadata; u != nil {
			if usage == nil {
				usage = &providers.Usage{}
			}
			usage.InputTokens += cmpOrInt(u.PromptTokenCount, u.TotalTokenCount)
		}
	}
	out = append(out, `],"model":`...)
	out = appendQuoted(out, req.Model)
	if usage != nil {
		out = append(out, `,"usage":{"prompt_tokens":`...)
		out = strconv.AppendInt(out, usage.InputTokens, 10)
		out = append(out, `,"total_tokens":`...)
		out = strconv.AppendInt(out, usage.InputTokens, 10)
		out = append(out, '}')
	}
	out = append(out, '}')
	return &providers.EmbeddingsResponse{Body: out, Usage: usage}, nil
}

// embeddingTexts reads OpenAI's input: a string or an array of strings. Token-id
// arrays cannot be sent: Gemini embeds text only.
func embeddingTexts(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, invalidRequest("input", "must not be empty")
		}
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil || len(ss) == 0 {
		return nil, invalidRequest("input", "Gemini embeds text only: send a string or an array of strings (not token ids)")
	}
	for _, s := range ss {
		if s == "" {
			return nil, invalidRequest("input", "must not contain empty strings")
		}
	}
	return ss, nil
}

// appendVector appends an embedding: Gemini's number array as is, or for base64 the
// little-endian float32 bytes OpenAI sends, base64-encoded.
func appendVector(out []byte, values json.RawMessage, b64 bool) ([]byte, error) {
	values = bytes.TrimSpace(values)
	if !b64 {
		if len(values) == 0 || values[0] != '[' || !json.Valid(values) {
			return nil, errNotVector
		}
		return append(out, compact(values)...), nil
	}
	var fs []float64
	if err := json.Unmarshal(values, &fs); err != nil {
		return nil, err
	}
	raw := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(f)))
	}
	out = append(out, '"')
	out = base64.StdEncoding.AppendEncode(out, raw)
	return append(out, '"'), nil
}

var errNotVector = errors.New("not a vector")

func cmpOrInt(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}
