package webui

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/tollgate-gw/tollgate/store"
)

// ChartData is what tollgate.js hands to uPlot: x as Unix seconds, each series as
// exact decimal numbers (money is formatted in Go; only the browser plots floats).
type ChartData struct {
	X      []int64       `json:"x"`
	Series []ChartSeries `json:"series"`
}

// ChartSeries is one line of a chart.
type ChartSeries struct {
	Label  string        `json:"label"`
	Unit   string        `json:"unit"` // "usd" or "count"
	Values []json.Number `json:"values"`
}

// UTCDay is the midnight (UTC) that starts t's day.
func UTCDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// FillDays returns one entry per day in [from, to), taking tallies from days.
func FillDays(days []store.DayTally, from, to time.Time) []store.DayTally {
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

// DailyChart charts spend, calls and 402 refusals per day.
func DailyChart(days []store.DayTally) ChartData {
	ch := ChartData{Series: []ChartSeries{{Label: "Spend", Unit: "usd"}, {Label: "Calls", Unit: "count"}, {Label: "402s", Unit: "count"}}}
	for _, d := range days {
		ch.X = append(ch.X, d.Day.Unix())
		ch.Series[0].Values = append(ch.Series[0].Values, json.Number(d.Cost.String()))
		ch.Series[1].Values = append(ch.Series[1].Values, json.Number(Plain(d.Calls)))
		ch.Series[2].Values = append(ch.Series[2].Values, json.Number(Plain(d.Refused)))
	}
	return ch
}

// Plain writes an integer without separators, for machine-read numbers.
func Plain(v int64) string { return strconv.FormatInt(v, 10) }
