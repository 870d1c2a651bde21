package admin

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-gw/tollgate/store"
	"github.com/tollgate-gw/tollgate/webui"
)

// The topology's five columns, left to right.
const (
	colTenant = iota
	colKey
	colModel
	colChannel
	colProvider
	topoColumns
)

// topoColumnNames head the columns.
var topoColumnNames = [topoColumns]string{"Tenants", "Keys", "Models", "Channels", "Providers"}

// topoLimits is how many nodes a column shows before the rest are merged into one
// "others" node, so the picture stays readable with hundreds of tenants.
var topoLimits = [topoColumns]int{12, 16, 12, 16, 12}

// Layout sizes in SVG user units (pixels at 100%).
const (
	topoWidth     = 1180.0
	topoNodeW     = 12.0
	topoTop       = 44.0
	topoGap       = 12.0
	topoMinNodeH  = 18.0
	topoNodeRange = 62.0
	topoLabelMax  = 24 // characters of a node label before it is cut
)

// Special node ids in the channel column: calls that never reached a channel.
const (
	refused402Node   = "!402"
	refusedOtherNode = "!refused"
	othersNode       = "*others"
)

// topoNames are the display names of the ids in the flows.
type topoNames struct {
	tenants  map[string]string
	keys     map[string]store.APIKey
	channels map[string]string
}

// topoNode is a box in one column: a tenant, key, model, channel or provider.
type topoNode struct {
	Col     int
	ID      string // the tenant/key/channel id, model or provider name; or a special id
	Label   string
	Sub     string // calls and spend, under the label
	Title   string
	Href    string
	Class   string
	Tally   store.Tally
	X, Y, H float64
	order   float64
	merged  int // how many real nodes an "others" node stands for
}

// topoEdge is the traffic between two nodes of adjacent columns.
type topoEdge struct {
	From, To *topoNode
	Tally    store.Tally
	Path     string
	Width    float64
	Class    string
	Title    string
	Href     string
	y1, y2   float64
}

// topoGraph is the laid-out picture.
type topoGraph struct {
	Nodes     []*topoNode
	Edges     []*topoEdge
	Attention []*topoEdge // links that refuse or fail, worst first
	Columns   []topoColumn
	Width     float64
	Height    float64
	Empty     bool
}

// topoColumn is a column's heading.
type topoColumn struct {
	X     float64
	Label string
}

// buildTopology turns flows into nodes and edges and lays them out: nodes stacked in
// five columns, ordered to keep edges from crossing (each node sits near the nodes
// that feed it), sized by calls; edges drawn as curves whose width follows the calls
// and whose colour says how many of them failed or were refused with 402.
func buildTopology(flows []store.Flow, names topoNames, from, to time.Time) *topoGraph {
	g := &topoGraph{Width: topoWidth, Empty: len(flows) == 0}
	if g.Empty {
		return g
	}
	keep := keptNodes(flows)
	nodes := map[string]*topoNode{}
	node := func(col int, id string) *topoNode {
		if col != colChannel || !strings.HasPrefix(id, "!") {
			if !keep[col][id] {
				id = othersNode
			}
		}
		k := fmt.Sprint(col, "\x00", id)
		n, ok := nodes[k]
		if !ok {
			n = &topoNode{Col: col, ID: id}
			nodes[k] = n
			g.Nodes = append(g.Nodes, n)
		}
		return n
	}
	edges := map[[2]*topoNode]*topoEdge{}
	link := func(a, b *topoNode, t store.Tally) {
		e, ok := edges[[2]*topoNode{a, b}]
		if !ok {
			e = &topoEdge{From: a, To: b}
			edges[[2]*topoNode{a, b}] = e
			g.Edges = append(g.Edges, e)
		}
		e.Tally.Add(t)
	}
	for _, f := range flows {
		t, k, m := node(colTenant, f.TenantID), node(colKey, f.KeyID), node(colModel, f.Model)
		link(t, k, f.Tally)
		link(k, m, f.Tally)
		if f.ChannelID != "" {
			ch := node(colChannel, f.ChannelID)
			link(m, ch, f.Tally)
			link(ch, node(colProvider, f.Provider), f.Tally)
			continue
		}
		if f.Refused > 0 {
			link(m, node(colChannel, refused402Node), store.Tally{Calls: f.Refused, Refused: f.Refused})
		}
		if rest := f.Tally; rest.Calls > f.Refused {
			rest.Calls -= f.Refused
			rest.Refused = 0
			link(m, node(colChannel, refusedOtherNode), rest)
		}
	}
	for _, e := range g.Edges {
		if e.From.Col == colTenant {
			e.From.Tally.Add(e.Tally)
		}
		e.To.Tally.Add(e.Tally)
	}
	countMerged(g, flows, keep)
	layoutTopology(g)
	links := topoLinks{from: from.UTC().Format(time.RFC3339), to: to.UTC().Format(time.RFC3339)}
	for _, n := range g.Nodes {
		links.labelNode(n, names)
	}
	for _, e := range g.Edges {
		links.styleEdge(e)
		if e.Tally.Failed > 0 || e.Tally.Refused > 0 {
			g.Attention = append(g.Attention, e)
		}
	}
	sort.SliceStable(g.Attention, func(i, j int) bool {
		a, b := g.Attention[i].Tally, g.Attention[j].Tally
		return a.Failed+a.Refused > b.Failed+b.Refused
	})
	if len(g.Attention) > 15 {
		g.Attention = g.Attention[:15]
	}
	return g
}

// keptNodes picks, per column, the ids with the most calls that get their own node.
func keptNodes(flows []store.Flow) [topoColumns]map[string]bool {
	var totals [topoColumns]map[string]int64
	for i := range totals {
		totals[i] = map[string]int64{}
	}
	for _, f := range flows {
		totals[colTenant][f.TenantID] += f.Calls
		totals[colKey][f.KeyID] += f.Calls
		totals[colModel][f.Model] += f.Calls
		if f.ChannelID != "" {
			totals[colChannel][f.ChannelID] += f.Calls
			totals[colProvider][f.Provider] += f.Calls
		}
	}
	var keep [topoColumns]map[string]bool
	for col, m := range totals {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			if m[ids[i]] != m[ids[j]] {
				return m[ids[i]] > m[ids[j]]
			}
			return ids[i] < ids[j]
		})
		keep[col] = map[string]bool{}
		limit := topoLimits[col]
		if len(ids) == limit+1 {
			limit++ // merging one node into "1 other" saves nothing
		}
		for i, id := range ids {
			if i < limit {
				keep[col][id] = true
			}
		}
	}
	return keep
}

// countMerged notes how many ids each "others" node stands for.
func countMerged(g *topoGraph, flows []store.Flow, keep [topoColumns]map[string]bool) {
	seen := [topoColumns]map[string]bool{}
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	for _, f := range flows {
		for col, id := range [topoColumns]string{f.TenantID, f.KeyID, f.Model, f.ChannelID, f.Provider} {
			if id != "" && !keep[col][id] {
				seen[col][id] = true
			}
		}
	}
	for _, n := range g.Nodes {
		if n.ID == othersNode {
			n.merged = len(seen[n.Col])
		}
	}
}

// layoutTopology orders, sizes and places the nodes, then routes the edges.
func layoutTopology(g *topoGraph) {
	var cols [topoColumns][]*topoNode
	for _, n := range g.Nodes {
		cols[n.Col] = append(cols[n.Col], n)
	}
	incoming := map[*topoNode][]*topoEdge{}
	outgoing := map[*topoNode][]*topoEdge{}
	for _, e := range g.Edges {
		incoming[e.To] = append(incoming[e.To], e)
		outgoing[e.From] = append(outgoing[e.From], e)
	}
	rank := func(n *topoNode) int {
		switch {
		case n.ID == othersNode:
			return 1
		case n.ID == refusedOtherNode:
			return 2
		case n.ID == refused402Node:
			return 3
		}
		return 0
	}
	for col := range cols {
		ns := cols[col]
		for _, n := range ns {
			if col == colTenant {
				n.order = -float64(n.Tally.Calls)
				continue
			}
			var sum, weight float64
			for _, e := range incoming[n] {
				sum += e.From.order * float64(e.Tally.Calls)
				weight += float64(e.Tally.Calls)
			}
			if weight > 0 {
				n.order = sum / weight
			}
		}
		sort.SliceStable(ns, func(i, j int) bool {
			a, b := ns[i], ns[j]
			if rank(a) != rank(b) {
				return rank(a) < rank(b)
			}
			if a.order != b.order {
				return a.order < b.order
			}
			if a.Tally.Calls != b.Tally.Calls {
				return a.Tally.Calls > b.Tally.Calls
			}
			return a.ID < b.ID
		})
		for i, n := range ns {
			n.order = float64(i) // the next column sorts by these positions
		}
	}
	var maxCalls int64 = 1
	for _, n := range g.Nodes {
		maxCalls = max(maxCalls, n.Tally.Calls)
	}
	colHeight := [topoColumns]float64{}
	tallest := 0.0
	for col, ns := range cols {
		for i, n := range ns {
			n.H = topoMinNodeH + topoNodeRange*math.Sqrt(float64(n.Tally.Calls)/float64(maxCalls))
			colHeight[col] += n.H
			if i > 0 {
				colHeight[col] += topoGap
			}
		}
		tallest = max(tallest, colHeight[col])
	}
	step := (topoWidth - 180) / (topoColumns - 1)
	for col, ns := range cols {
		x := 8 + float64(col)*step
		g.Columns = append(g.Columns, topoColumn{X: x, Label: topoColumnNames[col]})
		y := topoTop + (tallest-colHeight[col])/2
		for _, n := range ns {
			n.X, n.Y = x, y
			y += n.H + topoGap
		}
	}
	g.Height = topoTop + tallest + 24
	var maxEdge int64 = 1
	for _, e := range g.Edges {
		maxEdge = max(maxEdge, e.Tally.Calls)
	}
	for n, es := range outgoing {
		sort.SliceStable(es, func(i, j int) bool { return es[i].To.Y < es[j].To.Y })
		for i, e := range es {
			e.y1 = n.Y + n.H*(float64(i)+0.5)/float64(len(es))
		}
	}
	for n, es := range incoming {
		sort.SliceStable(es, func(i, j int) bool { return es[i].From.Y < es[j].From.Y })
		for i, e := range es {
			e.y2 = n.Y + n.H*(float64(i)+0.5)/float64(len(es))
		}
	}
	for _, e := range g.Edges {
		e.Width = 1.5 + 12*math.Sqrt(float64(e.Tally.Calls)/float64(maxEdge))
		x1, x2 := e.From.X+topoNodeW, e.To.X
		mid := (x1 + x2) / 2
		e.Path = fmt.Sprintf("M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f", x1, e.y1, mid, e.y1, mid, e.y2, x2, e.y2)
	}
	// Draw thin edges last so a thick one never hides them.
	sort.SliceStable(g.Edges, func(i, j int) bool { return g.Edges[i].Width > g.Edges[j].Width })
}

// healthClass names how bad a tally looks: failures weigh over 402s; from 1% a
// link is tinted, from 5% it is "bad", and below 1% it stays neutral so ordinary
// noise does not colour the whole picture.
func healthClass(t store.Tally) string {
	switch {
	case t.FailureRate() >= 0.05:
		return "err"
	case t.RefusedRate() >= 0.05:
		return "refused"
	case t.FailureRate() >= 0.01:
		return "err-low"
	case t.RefusedRate() >= 0.01:
		return "refused-low"
	}
	return "ok"
}

// tallyLine is a tally in one line of text, for tooltips and sub-labels.
func tallyLine(t store.Tally) string {
	s := webui.Int(t.Calls) + " calls · " + webui.USD(t.Cost)
	if t.Failed > 0 {
		s += " · failed " + webui.Percent(t.FailureRate())
	}
	if t.Refused > 0 {
		s += " · 402 " + webui.Percent(t.RefusedRate())
	}
	return s
}

// cut shortens a label to fit its column.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// topoLinks builds the picture's links into the request log, limited to its window.
type topoLinks struct{ from, to string }

// logLink is the request log filtered by name, value pairs within the window.
func (l topoLinks) logLink(pairs ...string) string {
	q := url.Values{"from": {l.from}, "to": {l.to}}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	return UIPrefix + "/requests?" + q.Encode()
}

// labelNode gives a node its text, tooltip, link and colour.
func (l topoLinks) labelNode(n *topoNode, names topoNames) {
	n.Class = "node-" + healthClass(n.Tally)
	switch {
	case n.ID == othersNode:
		n.Label = fmt.Sprintf("%d other %s", n.merged, strings.ToLower(topoColumnNames[n.Col]))
	case n.ID == refused402Node:
		n.Label, n.Href, n.Class = "refused (402)", l.logLink("status", "402"), "node-refused"
	case n.ID == refusedOtherNode:
		n.Label, n.Href, n.Class = "refused (other)", l.logLink(), "node-err"
	default:
		switch n.Col {
		case colTenant:
			n.Label, n.Href = names.tenants[n.ID], UIPrefix+"/tenants/"+n.ID
		case colKey:
			k := names.keys[n.ID]
			n.Label, n.Href, n.Title = k.Name, l.logLink("key_id", n.ID), k.Hint
		case colModel:
			n.Label, n.Href = n.ID, l.logLink("model", n.ID)
		case colChannel:
			n.Label, n.Href = names.channels[n.ID], UIPrefix+"/channels/"+n.ID
		case colProvider:
			n.Label = n.ID
		}
		if n.Label == "" {
			n.Label = n.ID
		}
		if n.Label == "" {
			n.Label = "(none)"
		}
	}
	full := n.Label
	if n.Title != "" {
		full += " (" + n.Title + ")"
	}
	n.Title = full + "\n" + tallyLine(n.Tally)
	n.Label = cut(n.Label, topoLabelMax)
	n.Sub = webui.Int(n.Tally.Calls) + " · " + webui.USD(n.Tally.Cost)
	if k, ok := names.keys[n.ID]; ok && n.Col == colKey && names.tenants[k.TenantID] != "" {
		n.Sub = cut(names.tenants[k.TenantID], 14) + " · " + n.Sub
	}
}

// styleEdge gives an edge its colour, tooltip and the request-log link that shows
// its calls.
func (l topoLinks) styleEdge(e *topoEdge) {
	e.Class = "edge-" + healthClass(e.Tally)
	if e.To.ID == refused402Node {
		e.Class = "edge-refused"
	}
	e.Title = strings.SplitN(e.From.Title, "\n", 2)[0] + " → " + strings.SplitN(e.To.Title, "\n", 2)[0] + "\n" + tallyLine(e.Tally)
	a, b := e.From, e.To
	real := func(n *topoNode) string {
		if n.ID == othersNode || strings.HasPrefix(n.ID, "!") {
			return ""
		}
		return n.ID
	}
	switch a.Col {
	case colTenant:
		e.Href = l.logLink("tenant_id", real(a), "key_id", real(b))
	case colKey:
		e.Href = l.logLink("key_id", real(a), "model", real(b))
	case colModel:
		status := ""
		if b.ID == refused402Node {
			status = "402"
		}
		e.Href = l.logLink("model", real(a), "status", status)
	default:
		e.Href = UIPrefix + "/channels"
	}
}
