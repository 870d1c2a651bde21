package admin

import (
	"context"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// overviewView is the landing screen: spend and calls over three periods, where
// the money goes (top tenants and models), and a spend chart over 30 days.
type overviewView struct {
	Periods    []periodRow
	TopTenants []namedTally
	TopModels  []store.GroupTally
	Days       []store.DayTally // the chart's days, oldest first, zeros included
	Chart      webui.ChartData
	Holds      int64
	HeldTotal  billing.Nanos
	Empty      bool // no call in 30 days
}

// periodRow is one period of the overview's summary table.
type periodRow struct {
	Label string
	store.Tally
}

// namedTally is a tally of something with an id and a display name.
type namedTally struct {
	ID   string
	Name string
	store.Tally
}

func (u *UI) overview(c *gin.Context) {
	v, err := u.overviewData(c.Request.Context())
	if err != nil {
		u.fail(c, err)
		return
	}
	u.render(c, 200, "overview", view{Title: "Overview", Nav: "overview", Data: v})
}

func (u *UI) overviewData(ctx context.Context) (overviewView, error) {
	var v overviewView
	days, from, to, err := u.lastDays(ctx, 30)
	if err != nil {
		return v, err
	}
	today := to.AddDate(0, 0, -1)
	v.Days = webui.FillDays(dailyTallies(days), from, to)
	v.Periods = []periodRow{{Label: "Today"}, {Label: "7 days"}, {Label: "30 days"}}
	for _, d := range v.Days {
		if !d.Day.Before(today) {
			v.Periods[0].Add(d.Tally)
		}
		if !d.Day.Before(today.AddDate(0, 0, -6)) {
			v.Periods[1].Add(d.Tally)
		}
		v.Periods[2].Add(d.Tally)
	}
	v.Empty = v.Periods[2].Calls == 0
	v.Chart = webui.DailyChart(v.Days)
	if v.TopTenants, err = u.nameTenants(ctx, tallyBy(days, byTenant, nil, 5)); err != nil {
		return v, err
	}
	v.TopModels = tallyBy(days, byModel, nil, 5)
	v.Holds, v.HeldTotal, err = u.store.OpenHolds(ctx)
	return v, err
}

// nameTenants attaches tenant names to tallies grouped by tenant.
func (u *UI) nameTenants(ctx context.Context, gs []store.GroupTally) ([]namedTally, error) {
	ids := make([]string, len(gs))
	for i, g := range gs {
		ids[i] = g.Group
	}
	names, err := u.store.TenantNames(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]namedTally, len(gs))
	for i, g := range gs {
		name := names[g.Group]
		if name == "" {
			name = g.Group
		}
		out[i] = namedTally{ID: g.Group, Name: name, Tally: g.Tally}
	}
	return out, nil
}
