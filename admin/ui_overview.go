package admin

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/billing"
	"github.com/tollgate-gw/tollgate/store"
)

// overviewView is the landing screen: spend and calls over three periods, where
// the money goes (top tenants and models), and a spend chart over 30 days.
type overviewView struct {
	Periods    []periodRow
	TopTenants []namedTally
	TopModels  []store.GroupTally
	Days       []store.DayTally // the chart's days, oldest first, zeros included
	Chart      chartData
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

// chartData is what tollgate.js hands to uPlot: x as Unix seconds, each series as
// exact decimal numbers (money is formatted in Go; only the browser plots floats).
type chartData struct {
	X      []int64       `json:"x"`
	Series []chartSeries `json:"series"`
}

type chartSeries struct {
	Label  string        `json:"label"`
	Unit   string        `json:"unit"` // "usd" or "count"
	Values []json.Number `json:"values"`
}

// utcDay is the midnight (UTC) that starts t's day.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// fillDays returns one entry per day in [from, to), taking tallies from days.
func fillDays(days []store.DayTally, from, to time.Time) []store.DayTally {
	byDay := make(map[int64]store.Tally, len(days))
	for _, d := range days {
		byDay[d.Day.Unix()] = d.Tally
	}
	var out []store.DayTally
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		out = append(out, store.DayTally{Day: d, Tally: byDay[d.Unix()]})
	}
	return out
}

// dailyChart charts spend and calls per day.
func dailyChart(days []store.DayTally) chartData {
	ch := chartData{Series: []chartSeries{{Label: "Spend", Unit: "usd"}, {Label: "Calls", Unit: "count"}, {Label: "402s", Unit: "count"}}}
	for _, d := range days {
		ch.X = append(ch.X, d.Day.Unix())
		ch.Series[0].Values = append(ch.Series[0].Values, json.Number(d.Cost.String()))
		ch.Series[1].Values = append(ch.Series[1].Values, json.Number(formatPlain(d.Calls)))
		ch.Series[2].Values = append(ch.Series[2].Values, json.Number(formatPlain(d.Refused)))
	}
	return ch
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
	v.Days = fillDays(dailyTallies(days), from, to)
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
	v.Chart = dailyChart(v.Days)
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

// formatPlain writes an integer without separators, for machine-read numbers.
func formatPlain(v int64) string { return strconv.FormatInt(v, 10) }
