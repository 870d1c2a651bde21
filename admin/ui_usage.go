package admin

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// Day cache tuning.
const (
	// dayFinalAfter is how long after a UTC day ends its rollup rows are taken as
	// final: calls are logged when they end, so nothing lands in a past day, and the
	// grace covers clocks of other gateway nodes that run a little behind.
	dayFinalAfter = 5 * time.Minute
	// dayCacheDays bounds the cache to the longest window a screen shows, and some.
	dayCacheDays = 40
)

// dayCache keeps finished days of the usage rollup in memory. A month is tens of
// thousands of rollup rows, which take SQLite most of 100 ms to hand over; with the
// finished days kept, a 30-day screen reads only today's rows and sums the rest in
// Go. Today (and a day that has only just ended) is read fresh on every use, so the
// numbers are never stale. Rows written into past days by another route (an import
// through store.RecordCalls) show after a restart.
type dayCache struct {
	mu   sync.Mutex
	days map[int64][]store.Flow // finished days by the Unix seconds of their midnight
}

// flowsByDay returns the rollup rows of every UTC day in [from, to) (days without
// calls have no entry), reading from the database only the days not cached.
func (c *dayCache) flowsByDay(ctx context.Context, st *store.Store, from, to, now time.Time) ([]store.DayFlows, error) {
	c.mu.Lock()
	if c.days == nil {
		c.days = map[int64][]store.Flow{}
	}
	for d := range c.days {
		if d < now.AddDate(0, 0, -dayCacheDays).Unix() {
			delete(c.days, d)
		}
	}
	out := map[int64][]store.Flow{}
	var missFrom, missTo time.Time
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if flows, ok := c.days[d.Unix()]; ok {
			out[d.Unix()] = flows
			continue
		}
		if missFrom.IsZero() {
			missFrom = d
		}
		missTo = d.AddDate(0, 0, 1)
	}
	c.mu.Unlock()
	if !missFrom.IsZero() {
		loaded, err := st.FlowsByDay(ctx, missFrom, missTo)
		if err != nil {
			return nil, err
		}
		byDay := map[int64][]store.Flow{}
		for _, df := range loaded {
			byDay[df.Day.Unix()] = df.Flows
		}
		c.mu.Lock()
		for d := missFrom; d.Before(missTo); d = d.AddDate(0, 0, 1) {
			if _, cached := out[d.Unix()]; cached {
				continue
			}
			flows := byDay[d.Unix()]
			out[d.Unix()] = flows
			if now.After(d.AddDate(0, 0, 1).Add(dayFinalAfter)) {
				if flows == nil {
					flows = []store.Flow{} // a finished day without calls is kept too
				}
				c.days[d.Unix()] = flows
			}
		}
		c.mu.Unlock()
	}
	res := make([]store.DayFlows, 0, len(out))
	for d, flows := range out {
		if len(flows) > 0 {
			res = append(res, store.DayFlows{Day: time.Unix(d, 0).UTC(), Flows: flows})
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Day.Before(res[j].Day) })
	return res, nil
}

// lastDays reads the n UTC days ending with today, through the cache.
func (u *UI) lastDays(ctx context.Context, n int) ([]store.DayFlows, time.Time, time.Time, error) {
	now := u.now()
	today := webui.UTCDay(now)
	from, to := today.AddDate(0, 0, 1-n), today.AddDate(0, 0, 1)
	days, err := u.cache.flowsByDay(ctx, u.store, from, to, now)
	return days, from, to, err
}

// warm loads the finished days of the last month into the cache, so the first
// visitor after a start does not wait for them.
func (u *UI) warm() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, _, _ = u.lastDays(ctx, 30)
}

// dailyTallies sums each day's rows.
func dailyTallies(days []store.DayFlows) []store.DayTally {
	out := make([]store.DayTally, len(days))
	for i, d := range days {
		out[i].Day = d.Day
		for _, f := range d.Flows {
			out[i].Add(f.Tally)
		}
	}
	return out
}

// tallyBy sums the rows of the days per group (a tenant, model, key or channel id),
// most spent first, then most calls; at most limit groups (0: all). Only rows that
// keep returns true count.
func tallyBy(days []store.DayFlows, group func(store.Flow) string, keep func(store.Flow) bool, limit int) []store.GroupTally {
	sums := map[string]*store.Tally{}
	for _, d := range days {
		for _, f := range d.Flows {
			if keep != nil && !keep(f) {
				continue
			}
			g := group(f)
			t, ok := sums[g]
			if !ok {
				t = &store.Tally{}
				sums[g] = t
			}
			t.Add(f.Tally)
		}
	}
	out := make([]store.GroupTally, 0, len(sums))
	for g, t := range sums {
		out = append(out, store.GroupTally{Group: g, Tally: *t})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Cost != b.Cost {
			return a.Cost > b.Cost
		}
		if a.Calls != b.Calls {
			return a.Calls > b.Calls
		}
		return a.Group < b.Group
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// mergeFlows sums the rows of the days per path tenant → key → model → channel.
func mergeFlows(days []store.DayFlows) []store.Flow {
	type path struct{ tenant, key, model, channel, provider string }
	index := map[path]int{}
	var out []store.Flow
	for _, d := range days {
		for _, f := range d.Flows {
			p := path{f.TenantID, f.KeyID, f.Model, f.ChannelID, f.Provider}
			i, ok := index[p]
			if !ok {
				i = len(out)
				index[p] = i
				out = append(out, store.Flow{TenantID: f.TenantID, KeyID: f.KeyID, Model: f.Model, ChannelID: f.ChannelID, Provider: f.Provider})
			}
			out[i].Tally.Add(f.Tally)
		}
	}
	return out
}

// Grouping keys for tallyBy.
func byTenant(f store.Flow) string  { return f.TenantID }
func byModel(f store.Flow) string   { return f.Model }
func byChannel(f store.Flow) string { return f.ChannelID }
