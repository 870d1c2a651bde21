package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/providers"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// channelsView lists the upstream channels with their health: the gateway's live
// view (circuit, attempts since start, latency) and the request log's last 7 days.
type channelsView struct {
	Rows []channelRow
}

// channelRow is one channel with what is known of its health.
type channelRow struct {
	store.Channel
	Health    router.ChannelHealth
	HasHealth bool        // the gateway has called it since it started
	Week      store.Tally // calls charted under it in the last 7 days
	Test      *channelTest
}

// channelTest is the outcome of the "test" button: one tiny real call.
type channelTest struct {
	ChannelID string
	OK        bool
	Model     string
	Answer    string
	Error     string
	LatencyMs int64
	Tokens    string
}

// channelFormView is the create/edit form of a channel.
type channelFormView struct {
	Channel   *store.Channel // nil when creating
	Form      *webui.Form
	Providers []string
}

func (u *UI) channels(c *gin.Context) {
	u.showChannels(c, http.StatusOK, nil)
}

func (u *UI) showChannels(c *gin.Context, status int, test *channelTest) {
	ctx := c.Request.Context()
	chs, err := u.store.ListChannels(ctx)
	if err != nil {
		u.fail(c, err)
		return
	}
	health := map[string]router.ChannelHealth{}
	for _, h := range u.gw.ChannelHealth() {
		health[h.ChannelID] = h
	}
	days, _, _, err := u.lastDays(ctx, 7)
	if err != nil {
		u.fail(c, err)
		return
	}
	byChannelID := map[string]store.Tally{}
	for _, g := range tallyBy(days, byChannel, nil, 0) {
		byChannelID[g.Group] = g.Tally
	}
	v := channelsView{}
	for _, ch := range chs {
		h, ok := health[ch.ID]
		row := channelRow{Channel: ch, Health: h, HasHealth: ok, Week: byChannelID[ch.ID]}
		if test != nil && test.ChannelID == ch.ID {
			row.Test = test
		}
		v.Rows = append(v.Rows, row)
	}
	u.render(c, status, "channels", view{Title: "Channels", Nav: "channels", Data: v})
}

func (u *UI) newChannel(c *gin.Context) {
	u.showChannelForm(c, http.StatusOK, nil, webui.NewForm("weight", "1", "priority", "0", "enabled", "on", "provider", "openai"))
}

func (u *UI) editChannel(c *gin.Context) {
	id := c.Param("id")
	ch, err := u.store.Channel(c.Request.Context(), id)
	if err != nil {
		u.fail(c, notFound(err, "channel", id, "The channels page lists them."))
		return
	}
	f := webui.NewForm("name", ch.Name, "provider", ch.Provider, "base_url", ch.BaseURL, "models", strings.Join(ch.Models, ", "),
		"model_map", pairLines(ch.ModelMap), "options", pairLines(ch.Options),
		"priority", strconv.Itoa(ch.Priority), "weight", strconv.Itoa(ch.Weight))
	if ch.Enabled {
		f.Values.Set("enabled", "on")
	}
	u.showChannelForm(c, http.StatusOK, &ch, f)
}

func (u *UI) showChannelForm(c *gin.Context, status int, ch *store.Channel, f *webui.Form) {
	title := "New channel"
	if ch != nil {
		title = "Channel " + ch.Name
	}
	u.render(c, status, "channel", view{Title: title, Nav: "channels", Data: channelFormView{Channel: ch, Form: f, Providers: router.KnownProviders()}})
}

// pairLines writes a map as "key = value" lines, sorted, for a textarea.
func pairLines(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + " = " + m[k] + "\n")
	}
	return b.String()
}

// parsePairs reads "key = value" lines back into a map.
func parsePairs(field, s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, invalid(field, "Line %d: write one pair per line as name = value.", i+1)
		}
		out[k] = v
	}
	return out, nil
}

// channelRequestFrom turns the posted form into the JSON API's request, so the form
// is checked by exactly the rules the API applies. A blank API key keeps the stored one.
func channelRequestFrom(f *webui.Form) (channelRequest, error) {
	var r channelRequest
	name, provider, baseURL := f.Get("name"), f.Get("provider"), f.Get("base_url")
	r.Name, r.Provider, r.BaseURL = &name, &provider, &baseURL
	if k := f.Get("api_key"); k != "" {
		r.APIKey = &k
	}
	models := webui.SplitList(f.Get("models"))
	r.Models = &models
	mm, err := parsePairs("model_map", f.Get("model_map"))
	if err != nil {
		return r, err
	}
	opts, err := parsePairs("options", f.Get("options"))
	if err != nil {
		return r, err
	}
	r.ModelMap, r.Options = &mm, &opts
	for _, n := range []struct {
		field string
		dst   **int
		def   int
	}{{"priority", &r.Priority, 0}, {"weight", &r.Weight, 1}} {
		v := n.def
		if s := f.Get(n.field); s != "" {
			if v, err = strconv.Atoi(s); err != nil {
				return r, invalid(n.field, "%s must be a whole number.", n.field)
			}
		}
		*n.dst = &v
	}
	enabled := f.Get("enabled") != ""
	r.Enabled = &enabled
	return r, nil
}

func (u *UI) createChannel(c *gin.Context) {
	f := webui.PostedForm(c)
	req, err := channelRequestFrom(f)
	var in store.ChannelInput
	if err == nil {
		in, err = req.input(true)
	}
	if err == nil {
		err = u.rules.checkPrivate(in.BaseURL)
	}
	var ch store.Channel
	if err == nil {
		ch, err = u.store.CreateChannel(c.Request.Context(), in)
	}
	if err != nil {
		f.Values.Del("api_key")
		u.showChannelForm(c, f.Fail(err, "name"), nil, f)
		return
	}
	if err := u.reload(c, "channel"); err != nil {
		redirect(c, UIPrefix+"/channels", "!"+webui.UserMessage(err))
		return
	}
	redirect(c, UIPrefix+"/channels", "Channel “"+ch.Name+"” created. Use Test to send it a tiny real request.")
}

func (u *UI) updateChannel(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	old, err := u.store.Channel(ctx, id)
	if err != nil {
		u.fail(c, notFound(err, "channel", id, "The channels page lists them."))
		return
	}
	f := webui.PostedForm(c)
	req, err := channelRequestFrom(f)
	var in store.ChannelInput
	if err == nil {
		in, err = req.input(false)
	}
	if err == nil {
		err = u.rules.checkPrivate(in.BaseURL)
	}
	var ch store.Channel
	if err == nil {
		ch, err = u.store.UpdateChannel(ctx, id, in)
	}
	if err != nil {
		f.Values.Del("api_key")
		u.showChannelForm(c, f.Fail(err, "name"), &old, f)
		return
	}
	if err := u.reload(c, "channel change"); err != nil {
		redirect(c, UIPrefix+"/channels", "!"+webui.UserMessage(err))
		return
	}
	redirect(c, UIPrefix+"/channels", "Channel “"+ch.Name+"” saved.")
}

func (u *UI) enableChannel(c *gin.Context) {
	id := c.Param("id")
	enabled := c.PostForm("enabled") == "true"
	ch, err := u.store.UpdateChannel(c.Request.Context(), id, store.ChannelInput{Enabled: &enabled})
	if err != nil {
		u.fail(c, notFound(err, "channel", id, "The channels page lists them."))
		return
	}
	if err := u.reload(c, "channel change"); err != nil {
		redirect(c, UIPrefix+"/channels", "!"+webui.UserMessage(err))
		return
	}
	state := "disabled; no call is routed to it"
	if ch.Enabled {
		state = "enabled"
	}
	redirect(c, UIPrefix+"/channels", "Channel “"+ch.Name+"” "+state+".")
}

func (u *UI) deleteChannel(c *gin.Context) {
	id := c.Param("id")
	ch, err := u.store.Channel(c.Request.Context(), id)
	if err == nil {
		err = u.store.DeleteChannel(c.Request.Context(), id)
	}
	if err != nil {
		u.fail(c, notFound(err, "channel", id, "The channels page lists them."))
		return
	}
	if err := u.reload(c, "channel deletion"); err != nil {
		redirect(c, UIPrefix+"/channels", "!"+webui.UserMessage(err))
		return
	}
	redirect(c, UIPrefix+"/channels", "Channel “"+ch.Name+"” deleted.")
}

// testChannel sends the channel a tiny real chat request through its adapter and
// shows the answer or the error. It bills no tenant: it costs the operator a few
// upstream tokens.
func (u *UI) testChannel(c *gin.Context) {
	id := c.Param("id")
	ch, err := u.store.Channel(c.Request.Context(), id)
	if err != nil {
		u.fail(c, notFound(err, "channel", id, "The channels page lists them."))
		return
	}
	res := u.runChannelTest(c.Request.Context(), ch)
	if isHTMX(c) {
		u.renderFragment(c, http.StatusOK, "channels", "channel-test", res)
		return
	}
	u.showChannels(c, http.StatusOK, res)
}

func (u *UI) runChannelTest(ctx context.Context, ch store.Channel) *channelTest {
	res := &channelTest{ChannelID: ch.ID}
	if len(ch.Models) == 0 {
		res.Error = "The channel lists no model to test with."
		return res
	}
	res.Model = ch.Models[0]
	upstream := ch.UpstreamModel(res.Model)
	p, err := router.NewProvider(ch, u.client)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	limit := "max_tokens"
	if ch.Provider == "openai" {
		limit = "max_completion_tokens" // OpenAI's own API refuses max_tokens for some models
	}
	body, _ := json.Marshal(map[string]any{"model": upstream, limit: 16,
		"messages": []map[string]string{{"role": "user", "content": "Reply with the single word OK."}}})
	ctx, cancel := context.WithTimeout(ctx, channelTestTO)
	defer cancel()
	start := time.Now()
	resp, err := p.Chat(ctx, &providers.ChatRequest{Body: body, Model: upstream})
	res.LatencyMs = time.Since(start).Milliseconds()
	if err != nil {
		var ue *providers.UpstreamError
		if errors.As(err, &ue) && ue.Status != 0 {
			res.Error = "HTTP " + strconv.Itoa(ue.Status) + ": " + ue.Error()
		} else {
			res.Error = err.Error()
		}
		return res
	}
	var answer struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(resp.Body, &answer)
	res.OK = true
	if len(answer.Choices) > 0 {
		res.Answer = shorten(strings.TrimSpace(answer.Choices[0].Message.Content), 500)
		if res.Answer == "" {
			res.Answer = "(an empty answer; finish reason " + answer.Choices[0].FinishReason + ")"
		}
	} else {
		res.Answer = "(an answer without choices)"
	}
	if resp.Usage != nil {
		res.Tokens = strconv.FormatInt(resp.Usage.InputTokens, 10) + " in, " + strconv.FormatInt(resp.Usage.OutputTokens, 10) + " out"
	}
	return res
}
