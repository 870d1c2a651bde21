package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// topologyView is the invocation topology: who calls what, for one time window, as a
// layered picture and as a table of the links that refuse or fail.
type topologyView struct {
	Window  string
	Windows []topoWindow
	From    time.Time
	To      time.Time // the end of the window, or now when it ends later
	Graph   *topoGraph
	Total   store.Tally
}

// topoWindow is one time window the topology offers.
type topoWindow struct {
	Key   string
	Label string
}

// topoWindows are the windows offered, shortest first. The hour and the day are read
// from the request log; whole UTC days from the daily rollup.
var topoWindows = []topoWindow{{"1h", "Last hour"}, {"24h", "Last 24 hours"}, {"today", "Today (UTC)"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}}

// windowBounds turns a window key into [from, to); unknown keys mean the last 24 hours.
func windowBounds(key string, now time.Time) (string, time.Time, time.Time) {
	end := now.Truncate(time.Millisecond).Add(time.Millisecond)
	today := webui.UTCDay(now)
	switch key {
	case "1h":
		return key, end.Add(-time.Hour), end
	case "today":
		return key, today, today.AddDate(0, 0, 1)
	case "7d":
		return key, today.AddDate(0, 0, -6), today.AddDate(0, 0, 1)
	case "30d":
		return key, today.AddDate(0, 0, -29), today.AddDate(0, 0, 1)
	}
	return "24h", end.Add(-24 * time.Hour), end
}

func (u *UI) topology(c *gin.Context) {
	ctx := c.Request.Context()
	key, from, to := windowBounds(c.Query("window"), u.now())
	v := topologyView{Window: key, Windows: topoWindows, From: from, To: to}
	if now := u.now(); now.Before(to) {
		v.To = now
	}
	var flows []store.Flow
	var err error
	if from.Equal(webui.UTCDay(from)) && to.Equal(webui.UTCDay(to)) {
		var days []store.DayFlows
		days, err = u.cache.flowsByDay(ctx, u.store, from, to, u.now())
		flows = mergeFlows(days)
	} else {
		flows, err = u.store.Flows(ctx, from, to)
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	for _, f := range flows {
		v.Total.Add(f.Tally)
	}
	labels, err := u.topoLabels(ctx, flows)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Graph = buildTopology(flows, labels, from, to)
	u.render(c, http.StatusOK, "topology", view{Title: "Topology", Nav: "topology", Data: v})
}

// topoLabels names the tenants, keys and channels that appear in flows.
func (u *UI) topoLabels(ctx context.Context, flows []store.Flow) (topoNames, error) {
	seenT, seenK := map[string]bool{}, map[string]bool{}
	var tenantIDs, keyIDs []string
	for _, f := range flows {
		if !seenT[f.TenantID] {
			seenT[f.TenantID] = true
			tenantIDs = append(tenantIDs, f.TenantID)
		}
		if !seenK[f.KeyID] {
			seenK[f.KeyID] = true
			keyIDs = append(keyIDs, f.KeyID)
		}
	}
	n := topoNames{keys: map[string]store.APIKey{}}
	var err error
	if n.tenants, err = u.store.TenantNames(ctx, tenantIDs); err != nil {
		return n, err
	}
	if n.keys, err = u.store.KeysByID(ctx, keyIDs); err != nil {
		return n, err
	}
	n.channels, err = u.channelNames(ctx)
	return n, err
}
