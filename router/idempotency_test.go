package router

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

func (h *harness) postIdem(key string, body any) (*http.Response, []byte) {
	return h.postIdemAs(h.key, key, body)
}

func (h *harness) postIdemAs(apiKey, key string, body any) (*http.Response, []byte) {
	h.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set(IdempotencyHeader, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func TestIdempotencyKey(t *testing.T) {
	t.Run("ReplayNoSecondCallNoSecondDebit", func(t *testing.T) {
		h := newHarness(t, usd)
		for _, stream := range []bool{false, true} {
			h.upstream.Reset()
			body := chatBody(map[string]any{"stream": stream})
			key := map[bool]string{false: "plain-1", true: "stream-1"}[stream]
			r1, b1 := h.postIdem(key, body)
			balance := h.wallet().Balance
			r2, b2 := h.postIdem(key, body)
			if r1.StatusCode != 200 || r2.StatusCode != 200 || !bytes.Equal(b1, b2) || r2.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("stream=%v: %d %d replayed=%q\n%s\n%s", stream, r1.StatusCode, r2.StatusCode, r2.Header.Get("Idempotent-Replayed"), b1, b2)
			}
			if h.upstream.CallCount() != 1 || h.wallet().Balance != balance {
				t.Fatalf("stream=%v: upstream calls %d, balance moved on replay", stream, h.upstream.CallCount())
			}
		}
	})
	t.Run("DifferentBodyIs422", func(t *testing.T) {
		h := newHarness(t, usd)
		h.postIdem("k", chatBody(nil))
		resp, body := h.postIdem("k", chatBody(map[string]any{"max_tokens": 7}))
		if resp.StatusCode != 422 || *errorOf(t, body).Code != "idempotency_key_reused" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("InFlightIs409", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{HeaderDelay: 300 * time.Millisecond})
		done := make(chan int)
		go func() { r, _ := h.postIdem("slow", chatBody(nil)); done <- r.StatusCode }()
		time.Sleep(100 * time.Millisecond)
		resp, body := h.postIdem("slow", chatBody(nil))
		if resp.StatusCode != 409 || *errorOf(t, body).Code != "idempotency_key_in_use" {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if st := <-done; st != 200 {
			t.Fatalf("first call: %d", st)
		}
	})
	t.Run("FailedCallMayBeRetried", func(t *testing.T) {
		h := newHarness(t, usd)
		h.upstream.SetBehavior(providertest.Behavior{Error: providertest.ServerError()})
		if r, _ := h.postIdem("retry", chatBody(nil)); r.StatusCode != 502 {
			t.Fatalf("status %d", r.StatusCode)
		}
		h.upstream.SetBehavior(providertest.Behavior{})
		if r, b := h.postIdem("retry", chatBody(nil)); r.StatusCode != 200 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("retry after a failure: %d %s", r.StatusCode, b)
		}
	})
	t.Run("ScopedByTenant", func(t *testing.T) {
		h := newHarness(t, usd)
		ctx := context.Background()
		other, err := h.store.CreateTenant(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		h.store.Topup(ctx, other.ID, usd, "", "")
		_, otherKey, err := h.store.CreateKey(ctx, store.NewKey{TenantID: other.ID, Name: "o"})
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := h.postIdem("shared", chatBody(nil)); r.StatusCode != 200 {
			t.Fatalf("status %d", r.StatusCode)
		}
		r, _ := h.postIdemAs(otherKey, "shared", chatBody(nil))
		if r.StatusCode != 200 || r.Header.Get("Idempotent-Replayed") != "" || h.upstream.CallCount() != 2 {
			t.Fatalf("another tenant's key must not replay tenant A's answer: %d %q calls %d", r.StatusCode, r.Header.Get("Idempotent-Replayed"), h.upstream.CallCount())
		}
	})
}
