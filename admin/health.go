package admin

import "github.com/tollgate-gw/tollgate/router"

// HealthReporter is the optional side of a Notifier that knows how each channel has
// been answering (the gateway does); channel answers then carry their health.
type HealthReporter interface {
	ChannelHealth() []router.ChannelHealth
}

// channelHealthJSON is one channel's circuit and recent record as the API shows it.
type channelHealthJSON struct {
	State               string  `json:"state"`
	Successes           int64   `json:"successes"`
	Failures            int64   `json:"failures"`
	SuccessRate         float64 `json:"success_rate"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
	LatencyMs           float64 `json:"latency_ms"`
	LastError           string  `json:"last_error,omitempty"`
	LastErrorAt         string  `json:"last_error_at,omitempty"`
	OpenUntil           string  `json:"open_until,omitempty"`
}

// healthByChannel indexes the gateway's health report; channels it has not called
// yet are reported closed with no attempts.
func (a *API) healthByChannel() map[string]channelHealthJSON {
	hr, ok := a.notify.(HealthReporter)
	if !ok {
		return nil
	}
	out := map[string]channelHealthJSON{}
	for _, h := range hr.ChannelHealth() {
		j := channelHealthJSON{State: h.State, Successes: h.Successes, Failures: h.Failures, SuccessRate: h.SuccessRate(),
			ConsecutiveFailures: h.Consecutive, LatencyMs: h.LatencyMs, LastError: h.LastError}
		if !h.LastErrorAt.IsZero() {
			j.LastErrorAt = h.LastErrorAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		if h.State != router.CircuitClosed && !h.OpenUntil.IsZero() {
			j.OpenUntil = h.OpenUntil.UTC().Format("2006-01-02T15:04:05Z")
		}
		out[h.ChannelID] = j
	}
	return out
}

func (a *API) attachHealth(out *channelJSON, health map[string]channelHealthJSON) {
	if health == nil {
		return
	}
	h, ok := health[out.ID]
	if !ok {
		h = channelHealthJSON{State: router.CircuitClosed, SuccessRate: 1}
	}
	out.Health = &h
}
