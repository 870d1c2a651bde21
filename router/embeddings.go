package router

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/internal/jsonobj"
	"github.com/tollgate-gw/tollgate/providers"
)

// embeddingsRequest is the part of an embeddings call the gateway reads.
type embeddingsRequest struct {
	Model string          `json:"model"`
	Input json.RawMessage `json:"input"`
}

// embeddings serves POST /v1/embeddings.
func (g *Gateway) embeddings(cl *call) error {
	body, err := g.readBody(cl.c)
	if err != nil {
		return err
	}
	members, err := decodeObject(body)
	if err != nil {
		return err
	}
	var req embeddingsRequest
	if err := decodeFields(members, field{"model", &req.Model}, field{"input", &req.Input}); err != nil {
		return apiErr(ErrInvalidRequest, "", "The request body is not a valid embeddings request: %v.", jsonProblem(err))
	}
	if strings.TrimSpace(req.Model) == "" {
		return apiErr(ErrInvalidRequest, "model", "Missing required parameter: 'model'.")
	}
	texts, tokens, err := embeddingInputs(req.Input)
	if err != nil {
		return err
	}
	cl.rec.Model = req.Model
	plan, err := cl.admit(req.Model)
	if err != nil {
		return err
	}
	plan = embedders(plan)
	if len(plan) == 0 {
		return apiErr(ErrNoChannel, "", "No channel serving '%s' supports embeddings.", req.Model)
	}
	// Input text: its byte length bounds its tokens; pre-tokenized input: its count is exact.
	bound := tokens
	for _, t := range texts {
		bound += int64(len(t))
	}
	exact := func() int64 {
		n := tokens
		for _, t := range texts {
			n += billing.CountTokens(req.Model, t)
		}
		return n
	}
	if err := cl.rateLimit(bound, false); err != nil {
		return err
	}
	if _, err := cl.reserve(req.Model, bound, exact, 0, true, 1); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(cl.ctx, g.cfg.UpstreamTimeout)
	defer cancel()
	return cl.failover(ctx, req.Model, plan, func(rt route) error {
		emb := rt.provider.(providers.Embedder)
		upstreamModel := rt.channel.UpstreamModel(req.Model)
		reqBody := rewritten(members, jsonobj.Member{Key: "model", Raw: jsonobj.AppendString(nil, upstreamModel)})
		started := time.Now()
		resp, err := emb.Embeddings(ctx, &providers.EmbeddingsRequest{Body: reqBody, Model: upstreamModel})
		cl.attempt(rt, started, err)
		if err != nil {
			return err
		}
		cl.served(rt, upstreamModel)
		var usage billing.Usage
		if resp.Usage != nil {
			usage = toBillingUsage(resp.Usage)
		} else {
			cl.rec.Estimated = true
			usage = billing.Usage{PromptTokens: exact()}
		}
		cl.answer(usage, resp.Body)
		return nil
	})
}

// embeddingInputs validates input (a string, an array of strings, an array of token
// ids or an array of such arrays) and returns its texts and its count of token ids.
func embeddingInputs(raw json.RawMessage) (texts []string, tokens int64, err error) {
	bad := apiErr(ErrInvalidRequest, "input", "'input' must be a non-empty string, array of strings, array of token ids, or array of token-id arrays.")
	if len(raw) == 0 || string(raw) == "null" {
		return nil, 0, apiErr(ErrInvalidRequest, "input", "Missing required parameter: 'input'.")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, 0, bad
		}
		return []string{s}, 0, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		if len(ss) == 0 {
			return nil, 0, bad
		}
		for _, s := range ss {
			if s == "" {
				return nil, 0, bad
			}
		}
		return ss, 0, nil
	}
	var ids []int64
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return nil, int64(len(ids)), nil
	}
	var idss [][]int64
	if json.Unmarshal(raw, &idss) == nil && len(idss) > 0 {
		for _, ids := range idss {
			if len(ids) == 0 {
				return nil, 0, bad
			}
			tokens += int64(len(ids))
		}
		return nil, tokens, nil
	}
	return nil, 0, bad
}

// embedders keeps the routes whose adapter serves embeddings.
func embedders(plan []route) []route {
	out := plan[:0:0]
	for _, rt := range plan {
		if _, ok := rt.provider.(providers.Embedder); ok {
			out = append(out, rt)
		}
	}
	return out
}
