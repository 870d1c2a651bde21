package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/router"
	"github.com/tollgate-gw/tollgate/store"
)

// channelJSON is a channel as the API shows it. The upstream API key is write-only:
// only whether one is set leaves the process.
type channelJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Provider  string            `json:"provider"`
	BaseURL   string            `json:"base_url"`
	HasAPIKey bool              `json:"has_api_key"`
	Models    []string          `json:"models"`
	ModelMap  map[string]string `json:"model_map"`
	Options   map[string]string `json:"options"`
	Priority  int               `json:"priority"`
	Weight    int               `json:"weight"`
	Enabled   bool              `json:"enabled"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
	// Health is this gateway process's view of the channel (circuit state, success
	// rate, latency); present on reads when the gateway reports it.
	Health *channelHealthJSON `json:"health,omitempty"`
}

func channelOut(ch store.Channel) channelJSON {
	out := channelJSON{ID: ch.ID, Name: ch.Name, Provider: ch.Provider, BaseURL: ch.BaseURL, HasAPIKey: ch.HasAPIKey,
		Models: ch.Models, ModelMap: ch.ModelMap, Options: ch.Options, Priority: ch.Priority, Weight: ch.Weight, Enabled: ch.Enabled,
		CreatedAt: stamp(ch.CreatedAt), UpdatedAt: stamp(ch.UpdatedAt)}
	if out.Models == nil {
		out.Models = []string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.ModelMap == nil {
		out.ModelMap = map[string]string{}
	}
	return out
}

// channelHint is where an operator finds channel ids.
const channelHint = "List channels with GET " + Prefix + "/channels."

// channelRequest serves both create and PATCH: a nil field was not sent, so PATCH
// leaves it unchanged.
type channelRequest struct {
	Name     *string            `json:"name"`
	Provider *string            `json:"provider"`
	BaseURL  *string            `json:"base_url"`
	APIKey   *string            `json:"api_key"`
	Models   *[]string          `json:"models"`
	ModelMap *map[string]string `json:"model_map"`
	Options  *map[string]string `json:"options"`
	Priority *int               `json:"priority"`
	Weight   *int               `json:"weight"`
	Enabled  *bool              `json:"enabled"`
}

// input checks the fields present and converts them for the store. On create the
// fields a channel cannot work without are required.
func (r channelRequest) input(create bool) (store.ChannelInput, error) {
	in := store.ChannelInput{APIKey: r.APIKey, ModelMap: r.ModelMap, Options: r.Options, Priority: r.Priority, Weight: r.Weight, Enabled: r.Enabled}
	if create {
		for _, f := range []struct {
			name    string
			missing bool
		}{{"name", r.Name == nil}, {"provider", r.Provider == nil}, {"base_url", r.BaseURL == nil}, {"models", r.Models == nil}} {
			if f.missing {
				return in, invalid(f.name, "%s is required to create a channel.", f.name)
			}
		}
	}
	if r.Name != nil {
		name := strings.TrimSpace(*r.Name)
		if err := checkText("name", name, true, 200); err != nil {
			return in, err
		}
		in.Name = &name
	}
	if r.Provider != nil {
		p := strings.TrimSpace(*r.Provider)
		if known := router.KnownProviders(); !slices.Contains(known, p) {
			return in, invalid("provider", "provider %q is not supported; use one of: %s.", shorten(p, 40), strings.Join(known, ", "))
		}
		in.Provider = &p
	}
	if r.BaseURL != nil {
		u := strings.TrimRight(strings.TrimSpace(*r.BaseURL), "/")
		if err := checkBaseURL(u); err != nil {
			return in, err
		}
		in.BaseURL = &u
	}
	if r.APIKey != nil {
		for _, ch := range *r.APIKey {
			if ch < 0x21 || ch == 0x7f {
				// The key itself is never echoed, not even in an error.
				return in, invalid("api_key", "api_key must not contain spaces or control characters; paste the key alone.")
			}
		}
		if len(*r.APIKey) > 4096 {
			return in, invalid("api_key", "api_key is longer than 4096 bytes.")
		}
	}
	if r.Models != nil {
		models := make([]string, 0, len(*r.Models))
		for _, m := range *r.Models {
			m = strings.TrimSpace(m)
			if checkText("models", m, true, 200) != nil {
				return in, invalid("models", "models must list the model names clients use (non-blank, at most 200 bytes each).")
			}
			if !slices.Contains(models, m) {
				models = append(models, m)
			}
		}
		if len(models) == 0 {
			return in, invalid("models", "models must name at least one model this channel serves.")
		}
		in.Models = &models
	}
	if r.ModelMap != nil {
		for from, to := range *r.ModelMap {
			if checkText("model_map", from, true, 200) != nil || checkText("model_map", to, true, 200) != nil {
				return in, invalid("model_map", "model_map maps a client model name to the upstream's name; neither may be blank or longer than 200 bytes.")
			}
		}
	}
	if r.Weight != nil && (*r.Weight < 1 || *r.Weight > 1_000_000) {
		return in, invalid("weight", "weight must be a whole number from 1 to 1000000 (the channel's share among channels of equal priority).")
	}
	if r.Priority != nil && (*r.Priority < -1_000_000 || *r.Priority > 1_000_000) {
		return in, invalid("priority", "priority must be a whole number from -1000000 to 1000000 (higher is tried first).")
	}
	return in, nil
}

// checkBaseURL admits an absolute http(s) URL with a host and nothing that would
// break or leak: no user info (credentials in a URL end up in logs), no query or
// fragment (request paths are appended to the base URL). The URL is never echoed,
// since a refused one may hold a password.
func checkBaseURL(s string) error {
	const example = "e.g. https://api.openai.com/v1"
	u, err := url.Parse(s)
	switch {
	case s == "":
		return invalid("base_url", "base_url is required: the upstream API root, %s.", example)
	case err != nil:
		return invalid("base_url", "base_url is not a valid URL; give the upstream API root, %s.", example)
	case u.User != nil:
		return invalid("base_url", "base_url must not contain a user name or password: credentials in a URL end up in logs. Put the upstream key in api_key instead.")
	case u.Scheme != "http" && u.Scheme != "https":
		return invalid("base_url", "base_url must be an absolute http:// or https:// URL, %s.", example)
	case u.Host == "" || u.Hostname() == "":
		return invalid("base_url", "base_url must name a host, %s.", example)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return invalid("base_url", "base_url must not have a query string or fragment: request paths such as /chat/completions are appended to it.")
	}
	return nil
}

// checkPrivate refuses a base URL whose host is a private, loopback, link-local or
// metadata address unless the operator allowed private upstreams. Host names are
// checked again when the gateway connects, after DNS.
func (a *API) checkPrivate(baseURL *string) error {
	if baseURL == nil || a.allowPrivate {
		return nil
	}
	u, err := url.Parse(*baseURL)
	if err != nil {
		return nil // checkBaseURL already refused it
	}
	if router.CheckUpstreamHost(u.Hostname()) != nil {
		return invalid("base_url", "base_url points at a private, loopback, link-local or cloud-metadata address, which Tollgate refuses by default. For a local model server (vLLM, Ollama) start the gateway with TOLLGATE_ALLOW_PRIVATE_UPSTREAMS=true.")
	}
	return nil
}

func (a *API) createChannel(c *gin.Context) error {
	var req channelRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in, err := req.input(true)
	if err != nil {
		return err
	}
	if err := a.checkPrivate(in.BaseURL); err != nil {
		return err
	}
	ch, err := a.store.CreateChannel(c.Request.Context(), in)
	if err != nil {
		return err
	}
	if err := a.reload(c, "channel"); err != nil {
		return err
	}
	return created(c, channelOut(ch))
}

func (a *API) listChannels(c *gin.Context) error {
	chs, err := a.store.ListChannels(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]channelJSON, len(chs))
	health := a.healthByChannel()
	for i, ch := range chs {
		out[i] = channelOut(ch)
		a.attachHealth(&out[i], health)
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
	return nil
}

func (a *API) getChannel(c *gin.Context) error {
	id := c.Param("id")
	ch, err := a.store.Channel(c.Request.Context(), id)
	if err != nil {
		return notFound(err, "channel", id, channelHint)
	}
	out := channelOut(ch)
	a.attachHealth(&out, a.healthByChannel())
	c.JSON(http.StatusOK, out)
	return nil
}

func (a *API) patchChannel(c *gin.Context) error {
	var req channelRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	in, err := req.input(false)
	if err != nil {
		return err
	}
	if err := a.checkPrivate(in.BaseURL); err != nil {
		return err
	}
	id := c.Param("id")
	ch, err := a.store.UpdateChannel(c.Request.Context(), id, in)
	if err != nil {
		return notFound(err, "channel", id, channelHint)
	}
	if err := a.reload(c, "channel change"); err != nil {
		return err
	}
	c.JSON(http.StatusOK, channelOut(ch))
	return nil
}

func (a *API) deleteChannel(c *gin.Context) error {
	id := c.Param("id")
	if err := a.store.DeleteChannel(c.Request.Context(), id); err != nil {
		return notFound(err, "channel", id, channelHint)
	}
	if err := a.reload(c, "channel deletion"); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
