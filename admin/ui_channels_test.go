package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-gw/tollgate/providers/providertest"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

func channelForm(name, base, key, models string) url.Values {
	return url.Values{"name": {name}, "provider": {"openai-compatible"}, "base_url": {base}, "api_key": {key}, "models": {models},
		"priority": {"0"}, "weight": {"1"}, "enabled": {"on"}}
}

func TestChannelsScreen(t *testing.T) {
	h := newUIHarness(t, func(u *UI) { u.AllowPrivateUpstreams(true) })
	h.signIn()
	ctx := context.Background()
	up := providertest.NewOpenAI()
	defer up.Close()
	up.RequireAPIKey("sk-upstream")
	var ch store.Channel

	t.Run("CreateStoresAndReloads", func(t *testing.T) {
		before := h.gw.reloadCount()
		form := channelForm("main", up.URL(), "sk-upstream", "gpt-4o-mini, gpt-4o")
		form.Set("model_map", "gpt-4o = gpt-4o-2024-08-06")
		h.post("/admin/channels", form).mustStatus(t, 200).mustContain(t, "Channel “main” created", `id="channels-table"`)
		chs, _ := h.st.ListChannels(ctx)
		if len(chs) != 1 || chs[0].APIKey != "sk-upstream" || len(chs[0].Models) != 2 || chs[0].ModelMap["gpt-4o"] != "gpt-4o-2024-08-06" {
			t.Fatalf("stored %+v", chs)
		}
		ch = chs[0]
		if h.gw.reloadCount() != before+1 {
			t.Fatal("the gateway was not told to reload")
		}
	})
	t.Run("KeyIsWriteOnly", func(t *testing.T) {
		for _, path := range []string{"/admin/channels", "/admin/channels/" + ch.ID} {
			if p := h.get(path); strings.Contains(p.body, "sk-upstream") {
				t.Fatalf("%s shows the upstream key", path)
			}
		}
	})
	t.Run("BadFieldsAre400KeepInputButNotTheKey", func(t *testing.T) {
		p := h.post("/admin/channels", channelForm("second", "ftp://nope", "sk-secret-typed", "m1"))
		p.mustStatus(t, http.StatusBadRequest).mustContain(t, `value="second"`, `value="ftp://nope"`, "base_url must be an absolute http")
		if strings.Contains(p.body, "sk-secret-typed") {
			t.Fatal("the refused form echoed the API key")
		}
		h.post("/admin/channels", channelForm("second", up.URL(), "", "")).mustStatus(t, http.StatusBadRequest).mustContain(t, "models must name at least one")
		bad := channelForm("second", up.URL(), "", "m1")
		bad.Set("weight", "heavy")
		h.post("/admin/channels", bad).mustStatus(t, http.StatusBadRequest).mustContain(t, "weight must be a whole number")
		bad = channelForm("second", up.URL(), "", "m1")
		bad.Set("model_map", "no equals sign")
		h.post("/admin/channels", bad).mustStatus(t, http.StatusBadRequest).mustContain(t, "Line 1")
		h.post("/admin/channels", channelForm("main", up.URL(), "", "m1")).mustStatus(t, http.StatusConflict).mustContain(t, "already exists")
	})
	t.Run("EditWithBlankKeyKeepsIt", func(t *testing.T) {
		form := channelForm("main-renamed", up.URL(), "", "gpt-4o-mini")
		h.post("/admin/channels/"+ch.ID, form).mustStatus(t, 200).mustContain(t, "Channel “main-renamed” saved")
		got, _ := h.st.Channel(ctx, ch.ID)
		if got.Name != "main-renamed" || got.APIKey != "sk-upstream" || len(got.Models) != 1 {
			t.Fatalf("after edit %+v", got)
		}
	})
	t.Run("TestButtonShowsTheAnswer", func(t *testing.T) {
		up.SetBehavior(providertest.Behavior{Text: "OK from upstream"})
		p := h.postRaw("/admin/channels/"+ch.ID+"/test", nil, http.Header{"HX-Request": {"true"}})
		p.mustStatus(t, 200).mustContain(t, `class="test ok"`, "OK from upstream", "gpt-4o-mini")
		if strings.Contains(p.body, "<html") {
			t.Fatal("htmx got a whole page instead of the fragment")
		}
		full := h.post("/admin/channels/"+ch.ID+"/test", nil).mustStatus(t, 200)
		full.mustContain(t, `id="channels-table"`, "OK from upstream")
	})
	t.Run("TestButtonShowsTheError", func(t *testing.T) {
		up.SetBehavior(providertest.Behavior{Error: providertest.AuthError()})
		p := h.postRaw("/admin/channels/"+ch.ID+"/test", nil, http.Header{"HX-Request": {"true"}})
		p.mustStatus(t, 200).mustContain(t, `class="test bad"`, "HTTP 401", "Incorrect API key")
	})
	t.Run("HealthFromGatewayAndLog", func(t *testing.T) {
		h.gw.setHealth(router.ChannelHealth{ChannelID: ch.ID, State: router.CircuitHalfOpen, Successes: 3, Failures: 1, LatencyMs: 1500})
		if err := h.st.RecordCalls(ctx, []store.CallRecord{
			{RequestID: "a", TenantID: "t", KeyID: "k", Model: "gpt-4o-mini", ChannelID: ch.ID, Status: 200, LatencyMs: 400},
			{RequestID: "b", TenantID: "t", KeyID: "k", Model: "gpt-4o-mini", Status: 502, Attempts: []store.Attempt{{ChannelID: ch.ID, Status: 500}}},
		}); err != nil {
			t.Fatal(err)
		}
		h.get("/admin/channels").mustContain(t, "circuit-half-open", "3 ok · 1 failed", "75% success", "1.5 s", "avg 400 ms", "50%")
	})
	t.Run("DisableAndEnable", func(t *testing.T) {
		h.post("/admin/channels/"+ch.ID+"/enabled", url.Values{"enabled": {"false"}}).mustStatus(t, 200).mustContain(t, "disabled; no call is routed")
		if got, _ := h.st.Channel(ctx, ch.ID); got.Enabled {
			t.Fatal("still enabled")
		}
		h.post("/admin/channels/"+ch.ID+"/enabled", url.Values{"enabled": {"true"}}).mustContain(t, "enabled.")
		if got, _ := h.st.Channel(ctx, ch.ID); !got.Enabled {
			t.Fatal("still disabled")
		}
	})
	t.Run("ReloadFailureIsReported", func(t *testing.T) {
		h.gw.mu.Lock()
		h.gw.failWith = errors.New("boom")
		h.gw.mu.Unlock()
		defer func() { h.gw.mu.Lock(); h.gw.failWith = nil; h.gw.mu.Unlock() }()
		h.post("/admin/channels/"+ch.ID+"/enabled", url.Values{"enabled": {"true"}}).mustContain(t, `class="flash error"`, "could not reload", "boom")
	})
	t.Run("Delete", func(t *testing.T) {
		h.post("/admin/channels/"+ch.ID+"/delete", nil).mustStatus(t, 200).mustContain(t, "deleted", "No channels yet")
		if _, err := h.st.Channel(ctx, ch.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("channel still there: %v", err)
		}
	})
}

// TestChannelPrivateUpstreams: like the JSON API, the form refuses private
// addresses unless the operator allowed them, and the test button cannot reach them.
func TestChannelPrivateUpstreams(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	up := providertest.NewOpenAI()
	defer up.Close()
	t.Run("FormRefusesPrivateAddress", func(t *testing.T) {
		h.post("/admin/channels", channelForm("local", up.URL(), "", "m")).mustStatus(t, http.StatusBadRequest).mustContain(t, "private")
	})
	t.Run("TestButtonCannotReachPrivateAddress", func(t *testing.T) {
		name, provider, base := "sneaked-in", "openai-compatible", up.URL()
		ch, err := h.st.CreateChannel(context.Background(), store.ChannelInput{Name: &name, Provider: &provider, BaseURL: &base, Models: &[]string{"m"}})
		if err != nil {
			t.Fatal(err)
		}
		h.postRaw("/admin/channels/"+ch.ID+"/test", nil, http.Header{"HX-Request": {"true"}}).mustContain(t, `class="test bad"`, "private")
		if up.CallCount() != 0 {
			t.Fatal("the test call reached a private address")
		}
	})
}
