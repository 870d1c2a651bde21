package portal

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// periods are the windows the usage screen offers, in days.
var periods = []int{7, 30, 90}

// usageView is the usage screen: one period's spend per day, per model, and per
// model and day.
type usageView struct {
	Periods   []int
	Days      int
	Usage     store.Tally
	Chart     webui.ChartData
	DayRows   []store.DayTally
	Models    []store.GroupTally
	DayModels []store.DayModelTally
}

// days reads the tenant's last n UTC days (today included) from the rollup, one
// entry per day, and the filter that selects them.
func (p *Portal) days(c *gin.Context, n int) ([]store.DayTally, store.RollupFilter, error) {
	today := webui.UTCDay(p.now())
	f := store.RollupFilter{TenantID: tenantOf(c), From: today.AddDate(0, 0, 1-n), To: today.AddDate(0, 0, 1)}
	days, err := p.store.DailyTallies(c.Request.Context(), f)
	if err != nil {
		return nil, f, err
	}
	return webui.FillDays(days, f.From, f.To), f, nil
}

func (p *Portal) usage(c *gin.Context) {
	n := 30
	if d, err := strconv.Atoi(c.Query("days")); err == nil && slices.Contains(periods, d) {
		n = d
	}
	days, f, err := p.days(c, n)
	if err != nil {
		p.fail(c, err)
		return
	}
	v := usageView{Periods: periods, Days: n, DayRows: days, Chart: webui.DailyChart(days)}
	for _, d := range days {
		v.Usage.Add(d.Tally)
	}
	ctx := c.Request.Context()
	if v.Models, err = p.store.TallyBy(ctx, f, store.ByModel, 0); err != nil {
		p.fail(c, err)
		return
	}
	if v.DayModels, err = p.store.DailyModelTallies(ctx, f); err != nil {
		p.fail(c, err)
		return
	}
	slices.Reverse(v.DayModels) // newest day first
	p.render(c, http.StatusOK, "usage", webui.View{Title: "Usage", Nav: "usage", Data: v})
}
