package admin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-gw/tollgate/store"
)

func topoFixture() ([]store.Flow, topoNames) {
	flows := []store.Flow{
		{TenantID: "t1", KeyID: "k1", Model: "gpt-4o", ChannelID: "c1", Provider: "openai", Tally: store.Tally{Calls: 100, Served: 100, Cost: 5_000_000_000}},
		{TenantID: "t1", KeyID: "k1", Model: "gpt-4o", ChannelID: "c2", Provider: "azure", Tally: store.Tally{Calls: 10, Served: 8, Failed: 2}},
		{TenantID: "t2", KeyID: "k2", Model: "gpt-4o", Tally: store.Tally{Calls: 7, Refused: 5, Failed: 2}},
	}
	names := topoNames{tenants: map[string]string{"t1": "acme", "t2": "globex"},
		keys:     map[string]store.APIKey{"k1": {ID: "k1", Name: "app", Hint: "sk-tg-AbCd…", TenantID: "t1"}, "k2": {ID: "k2", Name: "batch", TenantID: "t2"}},
		channels: map[string]string{"c1": "primary", "c2": "backup"}}
	return flows, names
}

func findEdge(g *topoGraph, from, to string) *topoEdge {
	for _, e := range g.Edges {
		if e.From.Label == from && e.To.Label == to {
			return e
		}
	}
	return nil
}

func TestTopologyGraph(t *testing.T) {
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	flows, names := topoFixture()
	g := buildTopology(flows, names, from, from.AddDate(0, 0, 1))
	t.Run("FiveColumnsWithRefusedNodes", func(t *testing.T) {
		cols := map[int][]string{}
		nodes := append([]*topoNode(nil), g.Nodes...)
		sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Y < nodes[j].Y })
		for _, n := range nodes {
			cols[n.Col] = append(cols[n.Col], n.Label)
		}
		want := map[int]string{colTenant: "acme globex", colKey: "app batch", colModel: "gpt-4o", colChannel: "primary backup refused (other) refused (402)", colProvider: "openai azure"}
		for col, labels := range want {
			if got := strings.Join(cols[col], " "); got != labels {
				t.Errorf("column %d = %q, want %q (ordered)", col, got, labels)
			}
		}
	})
	t.Run("RefusalsGoToTheirOwnNodes", func(t *testing.T) {
		e402 := findEdge(g, "gpt-4o", "refused (402)")
		other := findEdge(g, "gpt-4o", "refused (other)")
		if e402 == nil || e402.Tally.Calls != 5 || e402.Class != "edge-refused" || !strings.Contains(e402.Href, "status=402") {
			t.Fatalf("402 edge %+v", e402)
		}
		if other == nil || other.Tally.Calls != 2 || other.Tally.Failed != 2 {
			t.Fatalf("other refusals edge %+v", other)
		}
	})
	t.Run("EdgesColouredByRates", func(t *testing.T) {
		for _, c := range []struct{ from, to, class string }{
			{"acme", "app", "edge-err-low"},  // 2 failed of 110
			{"primary", "openai", "edge-ok"}, // all served
			{"gpt-4o", "backup", "edge-err"}, // 20% failed
			{"globex", "batch", "edge-err"},  // failures weigh over 402s
		} {
			e := findEdge(g, c.from, c.to)
			if e == nil || e.Class != c.class {
				t.Errorf("%s → %s: %+v, want class %s", c.from, c.to, e, c.class)
			}
		}
	})
	t.Run("WidthFollowsCalls", func(t *testing.T) {
		big, small := findEdge(g, "gpt-4o", "primary"), findEdge(g, "gpt-4o", "backup")
		if big.Width <= small.Width || big.Width > 14 || small.Width < 1.5 {
			t.Fatalf("widths %v (100 calls) and %v (10 calls)", big.Width, small.Width)
		}
	})
	t.Run("TooltipsAndLinks", func(t *testing.T) {
		e := findEdge(g, "app", "gpt-4o")
		if !strings.Contains(e.Title, "app (sk-tg-AbCd…) → gpt-4o") || !strings.Contains(e.Title, "110 calls · $5.00 · failed 1.8%") {
			t.Fatalf("title %q", e.Title)
		}
		if !strings.Contains(e.Href, "key_id=k1") || !strings.Contains(e.Href, "model=gpt-4o") || !strings.Contains(e.Href, "from=2025-03-01T00%3A00%3A00Z") {
			t.Fatalf("href %q", e.Href)
		}
		if !strings.HasPrefix(e.Path, "M") || !strings.Contains(e.Path, "C") {
			t.Fatalf("path %q", e.Path)
		}
	})
	t.Run("AttentionListsBadLinksWorstFirst", func(t *testing.T) {
		if len(g.Attention) == 0 || g.Attention[0].Tally.Failed+g.Attention[0].Tally.Refused != 7 {
			t.Fatalf("attention %+v", g.Attention)
		}
		for _, e := range g.Attention {
			if e.Tally.Failed == 0 && e.Tally.Refused == 0 {
				t.Fatalf("a healthy link is listed: %s → %s", e.From.Label, e.To.Label)
			}
		}
	})
	t.Run("ManyTenantsMergeIntoOthers", func(t *testing.T) {
		var many []store.Flow
		for i := 0; i < 40; i++ {
			many = append(many, store.Flow{TenantID: fmt.Sprintf("t%02d", i), KeyID: fmt.Sprintf("k%02d", i), Model: "m", ChannelID: "c1", Provider: "openai",
				Tally: store.Tally{Calls: int64(100 - i), Served: int64(100 - i)}})
		}
		big := buildTopology(many, topoNames{}, from, from.AddDate(0, 0, 1))
		perCol := map[int]int{}
		var others *topoNode
		for _, n := range big.Nodes {
			perCol[n.Col]++
			if n.Col == colTenant && n.ID == othersNode {
				others = n
			}
		}
		if perCol[colTenant] != topoLimits[colTenant]+1 || others == nil || others.Label != "28 other tenants" {
			t.Fatalf("%d tenant nodes, others %+v", perCol[colTenant], others)
		}
		var sum int64
		for i := topoLimits[colTenant]; i < 40; i++ {
			sum += int64(100 - i)
		}
		if others.Tally.Calls != sum {
			t.Fatalf("others carry %d calls, want %d", others.Tally.Calls, sum)
		}
	})
	t.Run("NoFlowsIsEmpty", func(t *testing.T) {
		if g := buildTopology(nil, topoNames{}, from, from); !g.Empty || len(g.Nodes) != 0 {
			t.Fatalf("%+v", g)
		}
	})
}

func TestTopologyWindows(t *testing.T) {
	now := time.Date(2025, 3, 10, 15, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		key      string
		from, to time.Time
	}{
		{"1h", now.Add(-time.Hour + time.Millisecond), now.Add(time.Millisecond)},
		{"24h", now.Add(-24*time.Hour + time.Millisecond), now.Add(time.Millisecond)},
		{"today", time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"7d", time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"30d", time.Date(2025, 2, 9, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"bogus", now.Add(-24*time.Hour + time.Millisecond), now.Add(time.Millisecond)},
	} {
		t.Run("Window_"+c.key, func(t *testing.T) {
			_, from, to := windowBounds(c.key, now)
			if !from.Equal(c.from) || !to.Equal(c.to) {
				t.Fatalf("[%v, %v), want [%v, %v)", from, to, c.from, c.to)
			}
		})
	}
}

// TestTopologyPage: the page draws the SVG from the log for short windows and from
// the rollup for whole days, with the same edges.
func TestTopologyPage(t *testing.T) {
	h := newUIHarness(t)
	h.signIn()
	seedDashboard(t, h.st)
	for _, window := range []string{"1h", "24h", "today", "7d", "30d"} {
		t.Run("ShowsThe402Edge_"+window, func(t *testing.T) {
			p := h.get("/admin/topology?window="+window).mustStatus(t, 200)
			p.mustContain(t, `<svg id="topology"`, "gpt-4o → refused (402)", "acme → app", `class="edge edge-refused"`,
				"main → openai", `<text class="col-head"`)
		})
	}
	t.Run("OldCallsLeaveShortWindows", func(t *testing.T) {
		h.skew.Store(int64(3 * time.Hour))
		defer h.skew.Store(0)
		h.get("/admin/topology?window=1h").mustContain(t, "No calls in this window")
	})
	now := time.Now()
	if _, err := h.st.Flows(context.Background(), now, now); err == nil {
		t.Fatal("an empty window should be refused by the store")
	}
}
