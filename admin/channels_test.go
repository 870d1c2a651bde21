package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/router"
)

const upstreamSecret = "sk-upstream-SECRET-123456"

func TestChannels(t *testing.T) {
	h := newHarness(t)
	var chID string

	t.Run("CreateNeverReturnsKey", func(t *testing.T) {
		r := h.do("POST", "/channels", `{"name":"oai","provider":"openai","base_url":"https://api.openai.com/v1/","api_key":"`+upstreamSecret+`",
			"models":["gpt-4o","gpt-4o-mini"],"model_map":{"gpt-4o":"gpt-4o-2024-11-20"},"priority":5,"weight":3}`).must(t, http.StatusCreated)
		chID = r.str(t, "id")
		if _, has := r.body["api_key"]; has || strings.Contains(r.raw, upstreamSecret) {
			t.Fatalf("answer exposes the upstream key: %s", r.raw)
		}
		if r.body["has_api_key"] != true || r.body["enabled"] != true || r.str(t, "base_url") != "https://api.openai.com/v1" ||
			r.body["priority"].(interface{ String() string }).String() != "5" {
			t.Fatalf("answer %s", r.raw)
		}
		if mm := r.body["model_map"].(map[string]any); mm["gpt-4o"] != "gpt-4o-2024-11-20" {
			t.Fatalf("model_map %v", mm)
		}
		ch, err := h.st.Channel(context.Background(), chID)
		if err != nil || ch.APIKey != upstreamSecret {
			t.Fatalf("stored channel key %q (%v)", ch.APIKey, err)
		}
		if h.notify.reloadCount() != 1 {
			t.Fatalf("Reload called %d times, want 1", h.notify.reloadCount())
		}
	})
	t.Run("ListAndGetHideKey", func(t *testing.T) {
		list := h.do("GET", "/channels", "").must(t, http.StatusOK)
		one := h.do("GET", "/channels/"+chID, "").must(t, http.StatusOK)
		for _, r := range []response{list, one} {
			if strings.Contains(r.raw, upstreamSecret) {
				t.Fatalf("answer exposes the upstream key: %s", r.raw)
			}
		}
		if len(list.data(t)) != 1 || one.str(t, "name") != "oai" {
			t.Fatalf("list %s get %s", list.raw, one.raw)
		}
	})
	t.Run("PatchChangesOnlyGivenFields", func(t *testing.T) {
		r := h.do("PATCH", "/channels/"+chID, `{"api_key":"sk-new-SECRET-999","enabled":false}`).must(t, http.StatusOK)
		if strings.Contains(r.raw, "sk-new-SECRET-999") || r.body["has_api_key"] != true || r.body["enabled"] != false {
			t.Fatalf("answer %s", r.raw)
		}
		if r.str(t, "name") != "oai" || r.str(t, "base_url") != "https://api.openai.com/v1" || len(r.body["models"].([]any)) != 2 {
			t.Fatalf("untouched fields changed: %s", r.raw)
		}
		ch, err := h.st.Channel(context.Background(), chID)
		if err != nil || ch.APIKey != "sk-new-SECRET-999" || ch.Weight != 3 || ch.Priority != 5 {
			t.Fatalf("stored channel %+v (%v)", ch, err)
		}
		if h.notify.reloadCount() != 2 {
			t.Fatalf("Reload called %d times, want 2", h.notify.reloadCount())
		}
	})
	t.Run("BadProviderIs400ListingKnown", func(t *testing.T) {
		msg := h.do("POST", "/channels", `{"name":"x","provider":"acme-ai","base_url":"https://x.example","models":["m"]}`).
			wantError(t, http.StatusBadRequest, "provider")
		for _, p := range router.KnownProviders() {
			if !strings.Contains(msg, p) {
				t.Fatalf("message %q does not list %q", msg, p)
			}
		}
		h.do("PATCH", "/channels/"+chID, `{"provider":"acme-ai"}`).wantError(t, http.StatusBadRequest, "provider")
	})
	t.Run("BadBaseURLIs400", func(t *testing.T) {
		for _, u := range []string{"https://user:hunter2@api.example.com/v1", "https://hunter2@api.example.com", "ftp://api.example.com",
			"api.example.com/v1", "/v1", "https://", "https://api.example.com/v1?key=hunter2", "https://api.example.com/v1#x", ""} {
			r := h.do("POST", "/channels", `{"name":"x","provider":"openai","base_url":"`+u+`","models":["m"]}`)
			r.wantError(t, http.StatusBadRequest, "base_url")
			if strings.Contains(r.raw, "hunter2") {
				t.Fatalf("error echoes the URL's credentials: %s", r.raw)
			}
		}
		h.do("PATCH", "/channels/"+chID, `{"base_url":"https://a:b@x.example"}`).wantError(t, http.StatusBadRequest, "base_url")
	})
	t.Run("MissingOrBadFieldsAre400", func(t *testing.T) {
		for _, tc := range []struct{ body, param string }{
			{`{"provider":"openai","base_url":"https://x.example","models":["m"]}`, "name"},
			{`{"name":"x","base_url":"https://x.example","models":["m"]}`, "provider"},
			{`{"name":"x","provider":"openai","models":["m"]}`, "base_url"},
			{`{"name":"x","provider":"openai","base_url":"https://x.example"}`, "models"},
			{`{"name":"x","provider":"openai","base_url":"https://x.example","models":[]}`, "models"},
			{`{"name":"x","provider":"openai","base_url":"https://x.example","models":["m"],"weight":0}`, "weight"},
			{`{"name":"x","provider":"openai","base_url":"https://x.example","models":["m"],"weight":1.5}`, "weight"},
			{`{"name":"x","provider":"openai","base_url":"https://x.example","models":["m"],"api_key":"a b"}`, "api_key"},
			{`{"name":"x","provider":"openai","base_url":"https://x.example","models":["m"],"apikey":"k"}`, "apikey"},
		} {
			h.do("POST", "/channels", tc.body).wantError(t, http.StatusBadRequest, tc.param)
		}
		if h.notify.reloadCount() != 2 {
			t.Fatalf("a refused change reloaded (%d reloads)", h.notify.reloadCount())
		}
	})
	t.Run("PrivateAddressIs400UnlessAllowed", func(t *testing.T) {
		for _, u := range []string{"http://localhost:11434/v1", "http://127.0.0.1:8000/v1", "http://169.254.169.254/latest", "http://10.0.0.5/v1", "http://[::1]:8000/v1"} {
			h.do("POST", "/channels", `{"name":"priv","provider":"openai-compatible","base_url":"`+u+`","models":["m"]}`).
				wantError(t, http.StatusBadRequest, "base_url")
		}
		h.api.AllowPrivateUpstreams(true)
		defer h.api.AllowPrivateUpstreams(false)
		h.do("POST", "/channels", `{"name":"ollama","provider":"openai-compatible","base_url":"http://localhost:11434/v1","models":["llama3"]}`).
			must(t, http.StatusCreated)
	})
	t.Run("DuplicateNameIs409", func(t *testing.T) {
		h.do("POST", "/channels", `{"name":"oai","provider":"openai","base_url":"https://x.example","models":["m"]}`).
			wantError(t, http.StatusConflict, "")
	})
	t.Run("ReloadFailureSaysChangeIsStored", func(t *testing.T) {
		h.notify.failWith = errors.New("adapter exploded")
		r := h.do("POST", "/channels", `{"name":"local","provider":"openai-compatible","base_url":"https://local.example/v1","models":["llama3"]}`)
		if r.code < 500 || !strings.Contains(r.raw, "was stored") || !strings.Contains(r.raw, "adapter exploded") {
			t.Fatalf("status %d body %s", r.code, r.raw)
		}
		h.notify.failWith = nil
		found := false
		for _, ch := range h.do("GET", "/channels", "").must(t, http.StatusOK).data(t) {
			found = found || (ch["name"] == "local" && ch["has_api_key"] == false)
		}
		if !found {
			t.Fatal("the channel was not stored despite the reload failure")
		}
	})
	t.Run("DeleteIs204ThenGone", func(t *testing.T) {
		before := h.notify.reloadCount()
		r := h.do("DELETE", "/channels/"+chID, "").must(t, http.StatusNoContent)
		if r.raw != "" {
			t.Fatalf("204 with a body: %s", r.raw)
		}
		if h.notify.reloadCount() != before+1 {
			t.Fatal("delete did not reload")
		}
		h.do("GET", "/channels/"+chID, "").wantError(t, http.StatusNotFound, "")
		h.do("DELETE", "/channels/"+chID, "").wantError(t, http.StatusNotFound, "")
		h.do("PATCH", "/channels/"+chID, `{"enabled":true}`).wantError(t, http.StatusNotFound, "")
	})
}
