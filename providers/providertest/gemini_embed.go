package providertest

import (
	"strconv"
	"strings"
)

// embeddings answers batchEmbedContents ({"embeddings":[{"values":[…]},…]}) or
// embedContent ({"embedding":{"values":[…]}}) with one deterministic vector per
// text. Gemini reports no usage for embeddings; EmbeddingUsage adds usageMetadata.
func (c *geminiCall) embeddings(batch bool) {
	if c.p.RawBody != "" {
		c.writeJSON([]byte(c.p.RawBody))
		return
	}
	buf := getBuf()
	defer putBuf(buf)
	b := (*buf)[:0]
	if batch {
		b = append(b, `{"embeddings": [`...)
	} else {
		b = append(b, `{"embedding": `...)
	}
	tokens := 0
	for i, r := range c.req.embeds {
		dim := c.p.EmbeddingDim
		if dim <= 0 {
			dim = r.OutputDimensionality
		}
		if dim <= 0 {
			dim = DefaultEmbeddingDim
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"values": [`...)
		for j := range dim {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(component(i, j)), 'f', -1, 32)
		}
		b = append(b, "]}"...)
		for _, p := range r.Content.Parts {
			if p.Text != nil {
				tokens += (len(*p.Text) + 3) / 4
			}
		}
	}
	if batch {
		b = append(b, ']')
	}
	if c.p.EmbeddingUsage {
		b = append(b, `,"usageMetadata": {"promptTokenCount": `...)
		b = strconv.AppendInt(b, int64(tokens), 10)
		b = append(b, `,"totalTokenCount": `...)
		b = strconv.AppendInt(b, int64(tokens), 10)
		b = append(b, '}')
	}
	b = append(b, '}')
	*buf = b
	c.writeJSON(b)
}

// models answers GET /v1beta/models with the plan's model list.
func (c *geminiCall) models() {
	buf := getBuf()
	defer putBuf(buf)
	b := append((*buf)[:0], `{"models": [`...)
	for i, id := range c.p.Models {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name": `...)
		b = appendString(b, "models/"+id)
		b = append(b, `,"version": "001","displayName": `...)
		b = appendString(b, id)
		b = append(b, `,"description": `...)
		b = appendString(b, "Fake "+id+" served by providertest.")
		if strings.Contains(id, "embedding") {
			b = append(b, `,"inputTokenLimit": 2048,"outputTokenLimit": 1,"supportedGenerationMethods": ["embedContent","countTextTokens","countTokens","asyncBatchEmbedContent"]}`...)
		} else {
			b = append(b, `,"inputTokenLimit": 1048576,"outputTokenLimit": 65536,"supportedGenerationMethods": ["generateContent","countTokens","createCachedContent","batchGenerateContent"],"temperature": 1,"topP": 0.95,"topK": 64,"maxTemperature": 2,"thinking": true}`...)
		}
	}
	b = append(b, "]}"...)
	*buf = b
	c.writeJSON(b)
}
