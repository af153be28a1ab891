package registry

import (
	"context"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// The data-flow map: the registry drawn as systems (nodes) and flows
// (edges), for one shop or one customer of it. Candor's process is the hub:
// a datum collected or read comes from a system into Candor, one stored or
// transmitted goes from Candor to a system; deletions and erasures are
// counted on the system where they happened. Edges carry the data
// categories, how many entries and subjects, and how long the receiving
// side may keep the data (the longest expires_at − at of the flow's
// entries). Nothing on the map names or counts back to a person: no
// pseudonym, no ref, only categories, counts and systems.

// Flow is one direction between two systems, for one action.
type Flow struct {
	From, To   string
	Action     string
	Categories []string
	Entries    int64
	Subjects   int64
	// Retention is the longest any entry of the flow may be kept where it
	// went; 0 means not kept (a read into process memory).
	Retention time.Duration
}

// RetentionText says Retention in days or hours.
func (f Flow) RetentionText() string { return retentionText(f.Retention) }

func retentionText(d time.Duration) string {
	switch {
	case d <= 0:
		return "not kept"
	case d >= 48*time.Hour:
		return fmt.Sprintf("kept up to %d days", int(math.Round(d.Hours()/24)))
	default:
		return fmt.Sprintf("kept up to %d hours", int(math.Ceil(d.Hours())))
	}
}

// FlowMap is the map of one scope.
type FlowMap struct {
	// Scope says what the map covers, in words ("shop X", "one customer
	// of shop X"); never a pseudonym.
	Scope   string
	Systems []string // catalogue keys, in catalogue order, that appear
	Flows   []Flow
	// Removed counts deletion and erasure entries per system.
	Removed map[string]int64
}

// LoadFlowMap reads the flows of f.Shop (every shop if empty), or of one
// subject of the shop when f.Subject is set: the subject's entries and those
// tied to them by ref before the subject was known, as the trail follows
// them.
func LoadFlowMap(ctx context.Context, q sqlx.QueryerContext, f Filter) (FlowMap, error) {
	if f.Shop == "" && f.Subject != "" {
		return FlowMap{}, fmt.Errorf("a customer's data-flow map needs their shop")
	}
	if err := f.Validate(); err != nil {
		return FlowMap{}, err
	}
	m := FlowMap{Scope: "shop " + f.Shop, Removed: map[string]int64{}}
	if f.Shop == "" {
		m.Scope = "all shops"
	}
	var refs []string
	if f.Subject != "" {
		m.Scope = "one customer of shop " + f.Shop
		rs, err := SubjectRefs(ctx, q, f.Shop, f.Subject)
		if err != nil {
			return m, err
		}
		for r := range rs {
			refs = append(refs, r)
		}
		sort.Strings(refs)
	}
	var rows []struct {
		System    string         `db:"system"`
		Action    string         `db:"action"`
		Datums    pq.StringArray `db:"datums"`
		Entries   int64          `db:"entries"`
		Subjects  int64          `db:"subjects"`
		Retention float64        `db:"retention"`
	}
	err := sqlx.SelectContext(ctx, q, &rows, `
		SELECT system, action, array_agg(DISTINCT datum ORDER BY datum) AS datums, count(*) AS entries,
		       count(DISTINCT NULLIF(subject, '')) AS subjects,
		       coalesce(max(extract(epoch FROM expires_at - at)), 0)::float8 AS retention
		FROM registry_entries
		WHERE ($1 = '' OR shop = $1) AND ($2 = '' OR subject = $2 OR (subject = '' AND ref = ANY($3)))
		  AND datum <> ''
		GROUP BY system, action ORDER BY system, action`, f.Shop, f.Subject, pq.StringArray(refs))
	if err != nil {
		return m, fmt.Errorf("read the flows: %w", err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		fl := Flow{Action: r.Action, Categories: r.Datums, Entries: r.Entries, Subjects: r.Subjects,
			Retention: time.Duration(r.Retention) * time.Second}
		switch r.Action {
		case ActionCollected, ActionRead:
			fl.From, fl.To = r.System, SystemCandor
			if r.System == SystemCandor { // collected into memory: from the store's webhooks
				fl.From = SystemShopify
			}
			fl.Retention = 0 // into process memory
		case ActionStored, ActionTransmitted:
			fl.From, fl.To = SystemCandor, r.System
		default: // deleted, erased
			m.Removed[r.System] += r.Entries
			seen[r.System] = true
			continue
		}
		seen[fl.From], seen[fl.To] = true, true
		m.Flows = append(m.Flows, fl)
	}
	for _, s := range Systems {
		if seen[s.Key] {
			m.Systems = append(m.Systems, s.Key)
		}
	}
	return m, nil
}

// Where each system sits on the map: Shopify on the left, Candor in the
// middle, where the data goes on the right.
var nodePlace = map[string][2]float64{
	SystemShopify:  {20, 250},
	SystemCandor:   {400, 250},
	SystemPostgres: {800, 30},
	SystemTemporal: {800, 250},
	SystemSendGrid: {800, 470},
}

const (
	nodeW, nodeH = 190.0, 64.0
	mapW, mapH   = 1000.0, 560.0
	lineH        = 13.0
)

func systemName(key string) string {
	if s, ok := SystemByKey(key); ok {
		return s.Name
	}
	return key
}

// WriteSVG draws the map as an accessible SVG: a title and a description
// that says in words what the picture shows, then the nodes and edges. ids
// prefixes element IDs, so two maps can share a page.
func (m FlowMap) WriteSVG(w io.Writer, ids string) error {
	e := html.EscapeString
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="11">`+"\n",
		mapW, mapH, mapW, mapH, ids, ids)
	p(`<title id="%s-title">Data-flow map: %s</title>`+"\n", ids, e(m.Scope))
	p(`<desc id="%s-desc">%s</desc>`+"\n", ids, e(m.Describe()))
	p(`<defs><marker id="%s-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>`+"\n", ids)
	if len(m.Flows) == 0 && len(m.Removed) == 0 {
		p(`<text x="%.0f" y="%.0f" text-anchor="middle">No entries in scope.</text>`+"\n", mapW/2, mapH/2)
	}
	// Edges first, so nodes draw over their ends: one line per direction
	// (two directions run side by side), and one label per pair of
	// systems, its flows marked → (left to right) or ← (right to left).
	type pair struct{ a, b string }
	byPair := map[pair][]Flow{}
	var order []pair
	for _, f := range m.Flows {
		k := pair{f.From, f.To}
		if nodePlace[k.a][0] > nodePlace[k.b][0] {
			k = pair{f.To, f.From}
		}
		if _, ok := byPair[k]; !ok {
			order = append(order, k)
		}
		byPair[k] = append(byPair[k], f)
	}
	for _, k := range order {
		left, right := nodePlace[k.a], nodePlace[k.b]
		lx, ly := left[0]+nodeW/2, left[1]+nodeH/2
		rx, ry := right[0]+nodeW/2, right[1]+nodeH/2
		dx, dy := rx-lx, ry-ly
		l := math.Hypot(dx, dy)
		if l == 0 {
			continue
		}
		nx, ny := -dy/l*6, dx/l*6
		t1, t2 := boxExit(dx, dy), boxExit(-dx, -dy)
		p(`<g class="flow">`)
		drawn := map[bool]bool{}
		for _, f := range byPair[k] {
			forward := f.From == k.a
			if drawn[forward] {
				continue
			}
			drawn[forward] = true
			sgn := 1.0
			if !forward {
				sgn = -1
			}
			sx, sy := lx+dx*t1+nx*sgn, ly+dy*t1+ny*sgn
			ex, ey := rx-dx*t2+nx*sgn, ry-dy*t2+ny*sgn
			if !forward {
				sx, sy, ex, ey = ex, ey, sx, sy
			}
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444" stroke-width="1.5" marker-end="url(#%s-arrow)"/>`, sx, sy, ex, ey, ids)
		}
		lines := 3 * len(byPair[k])
		cx, cy := (lx+rx)/2, (ly+ry)/2-float64(lines)*lineH/2+lineH*0.8
		if dy == 0 { // same row: the label sits above the line
			cy = ly - 10 - float64(lines-1)*lineH
		}
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" stroke="#fff" stroke-width="4" paint-order="stroke">`, cx, cy)
		for i, f := range byPair[k] {
			arrow := "→"
			if f.From != k.a {
				arrow = "←"
			}
			first := "0"
			if i > 0 {
				first = "1.2em"
			}
			p(`<tspan x="%.1f" dy="%s" font-weight="bold">%s %s</tspan>`, cx, first, e(f.Action), arrow)
			p(`<tspan x="%.1f" dy="1.2em">%s</tspan>`, cx, e(strings.Join(f.Categories, ", ")))
			p(`<tspan x="%.1f" dy="1.2em">%s</tspan>`, cx, e(fmt.Sprintf("%d entries, %d subjects, %s", f.Entries, f.Subjects, f.RetentionText())))
		}
		p("</text></g>\n")
	}
	for _, s := range m.Systems {
		at, ok := nodePlace[s]
		if !ok {
			continue
		}
		p(`<g class="system"><rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" rx="8" fill="#eef3fb" stroke="#0a4fb4"/>`, at[0], at[1], nodeW, nodeH)
		p(`<text x="%.0f" y="%.0f" text-anchor="middle" font-size="12" font-weight="bold">%s</text>`, at[0]+nodeW/2, at[1]+26, e(systemName(s)))
		if n := m.Removed[s]; n > 0 {
			p(`<text x="%.0f" y="%.0f" text-anchor="middle">%d deletions recorded</text>`, at[0]+nodeW/2, at[1]+46, n)
		}
		p("</g>\n")
	}
	p("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// boxExit is the fraction of (dx, dy) from a node's centre to its border.
func boxExit(dx, dy float64) float64 {
	tx, ty := math.Inf(1), math.Inf(1)
	if dx != 0 {
		tx = (nodeW / 2) / math.Abs(dx)
	}
	if dy != 0 {
		ty = (nodeH / 2) / math.Abs(dy)
	}
	return math.Min(tx, ty)
}

// Describe says what the map shows, in sentences: the SVG's description
// for screen readers.
func (m FlowMap) Describe() string {
	if len(m.Flows) == 0 && len(m.Removed) == 0 {
		return "The registry holds no entries for " + m.Scope + "."
	}
	var parts []string
	for _, f := range m.Flows {
		parts = append(parts, fmt.Sprintf("%s to %s: %s %s, %d entries, %d subjects, %s.",
			systemName(f.From), systemName(f.To), f.Action, strings.Join(f.Categories, ", "), f.Entries, f.Subjects, f.RetentionText()))
	}
	for _, s := range m.Systems {
		if n := m.Removed[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d deletions recorded.", systemName(s), n))
		}
	}
	return "Flows of customer data for " + m.Scope + ". " + strings.Join(parts, " ")
}
