package router

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/store"
)

// BenchmarkChatHotPath measures one billed call end to end through the gateway on
// SQLite: auth (cached key), parse, hold, relay to the fake upstream, settle, log.
// It is the regression guard for the per-call cost of billing.
func BenchmarkChatHotPath(b *testing.B) {
	for _, stream := range []bool{false, true} {
		name := "plain"
		if stream {
			name = "stream"
		}
		b.Run(name, func(b *testing.B) {
			h := newHarness(b, store.MaxTopup)
			h.upstream.SetRecording(false)
			h.upstream.SetBehavior(providertest.Behavior{Chunks: 20})
			body := []byte(`{"model":"test-model","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16`)
			if stream {
				body = append(body, `,"stream":true`...)
			}
			body = append(body, '}')
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			url := h.srv.URL + "/v1/chat/completions"
			billing.CountTokens(testModel, "warm up")
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+h.key)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
