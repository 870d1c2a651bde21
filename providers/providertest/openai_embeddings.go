package providertest

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
)

// embeddings answers POST /v1/embeddings with one deterministic vector per input, as
// float arrays or, for encoding_format "base64", little-endian float32 bytes.
func (c *call) embeddings() {
	if c.p.RawBody != "" {
		c.writeJSON([]byte(c.p.RawBody))
		return
	}
	dim := c.p.EmbeddingDim
	if dim <= 0 {
		dim = c.req.Dimensions
	}
	if dim <= 0 {
		dim = DefaultEmbeddingDim
	}
	buf := getBuf()
	defer putBuf(buf)
	b := append(*buf, `{"object":"list","data":[`...)
	raw := make([]byte, 4*dim)
	for i := range int(c.req.Input) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if c.req.EncodingFormat == "base64" {
			for j := range dim {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(component(i, j)))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j := range dim {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(component(i, j)), 'f', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = appendString(b, c.req.Model)
	if !c.p.NoUsage {
		prompt, _ := c.tokens()
		b = append(b, `,"usage":{"prompt_tokens":`...)
		b = strconv.AppendInt(b, int64(prompt), 10)
		b = append(b, `,"total_tokens":`...)
		b = strconv.AppendInt(b, int64(prompt), 10)
		b = append(b, '}')
	}
	b = append(b, '}')
	*buf = b
	c.writeJSON(b)
}

// component is element j of the vector for input i: small, varied and reproducible.
func component(i, j int) float32 {
	return float32(math.Sin(float64(i*131+j*17+1))) / 10
}

// models answers GET /v1/models with the plan's model list.
func (c *call) models() {
	buf := getBuf()
	defer putBuf(buf)
	b := append(*buf, `{"object":"list","data":[`...)
	for i, id := range c.p.Models {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, id)
		b = append(b, `,"object":"model","created":1715367049,"owned_by":"system"}`...)
	}
	b = append(b, "]}"...)
	*buf = b
	c.writeJSON(b)
}
