package registry

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// observed is what the registry shows actually happened, per system.
type observed struct {
	System   string    `db:"system"`
	Datum    string    `db:"datum"`
	Action   string    `db:"action"`
	Entries  int64     `db:"entries"`
	Subjects int64     `db:"subjects"`
	First    time.Time `db:"first"`
	Last     time.Time `db:"last"`
}

// ROPA writes a record of processing activities (GDPR Art. 30(1)(a)-(g),
// LGPD Art. 37) for the shops f selects, as Markdown: the catalogue's
// declared facts beside what the registry observed.
//
// It is long on purpose: after its two queries it writes the document top to
// bottom, section (a) to (g) and the observations in the order a reader
// meets them, as a template would; split, one document would be read
// across several functions.
func ROPA(ctx context.Context, q sqlx.QueryerContext, f Filter, w io.Writer, now time.Time) error {
	if err := f.Validate(); err != nil {
		return err
	}
	var obs []observed
	err := sqlx.SelectContext(ctx, q, &obs, `
		SELECT system, datum, action, count(*) AS entries, count(DISTINCT NULLIF(subject, '')) AS subjects,
		       min(at) AS first, max(at) AS last
		FROM registry_entries
		WHERE ($1 = '' OR shop = $1) AND ($2 = '' OR subject = $2)
		  AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
		GROUP BY system, datum, action ORDER BY system, datum, action`,
		f.Shop, f.Subject, nullTime(f.Since), nullTime(f.Until))
	if err != nil {
		return fmt.Errorf("summarise registry: %w", err)
	}
	var subjects int64
	if err := sqlx.GetContext(ctx, q, &subjects, `SELECT count(DISTINCT subject) FROM registry_entries WHERE ($1 = '' OR shop = $1) AND subject <> ''`, f.Shop); err != nil {
		return err
	}
	scope := "all shops"
	if f.Shop != "" {
		scope = "shop " + f.Shop
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Record of processing activities: Candor review requests\n\n")
	p("GDPR Art. 30(1) and LGPD Art. 37. Scope: %s. Generated %s from the declared system catalogue and the data-flow registry.\n\n", scope, now.UTC().Format(time.RFC3339))

	p("## (a) Controller, processor, contacts\n\n")
	p("- Controller: the merchant operating %s (contact and DPO: as listed in the merchant's privacy notice).\n", orAll(f.Shop))
	p("- Processor: the operator of this Candor installation, acting on the merchant's documented instructions (the shop's settings).\n")
	p("- Sub-processors: ")
	var subs []string
	for _, s := range Systems {
		if s.Role == "sub-processor" {
			subs = append(subs, s.Name+" ("+s.Operator+")")
		}
	}
	p("%s.\n\n", strings.Join(subs, "; "))

	p("## (b) Purposes of the processing\n\n")
	keys := make([]string, 0, len(Purposes))
	for k := range Purposes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p("- `%s`: %s.\n", k, Purposes[k])
	}
	p("\nLegal bases: ")
	bk := make([]string, 0, len(Bases))
	for k := range Bases {
		bk = append(bk, fmt.Sprintf("`%s` (%s)", k, Bases[k]))
	}
	sort.Strings(bk)
	p("%s. The shop's consent setting decides between consent and legitimate interests for each send; the registry records which applied.\n\n", strings.Join(bk, "; "))

	p("## (c) Categories of data subjects and of personal data\n\n")
	p("Data subjects: the shop's customers whose orders were fulfilled (%d distinct pseudonymous subjects recorded in scope).\n\n", subjects)
	p("| category | what it is |\n|---|---|\n")
	for _, c := range Categories {
		p("| `%s` | %s |\n", c.Key, c.Description)
	}

	p("\n## (d) Recipients\n\n| system | role | operator | what it receives |\n|---|---|---|---|\n")
	for _, s := range Systems {
		p("| %s | %s | %s | %s |\n", s.Name, s.Role, s.Operator, receives(obs, s.Key))
	}

	p("\n## (e) Transfers to third countries\n\n| system | location | country | safeguard |\n|---|---|---|---|\n")
	for _, s := range Systems {
		p("| %s | %s | %s | %s |\n", s.Name, s.Location, s.Country, orDash(s.Transfer))
	}

	p("\n## (f) Time limits for erasure\n\n| system | retention |\n|---|---|\n")
	for _, s := range Systems {
		p("| %s | %s |\n", s.Name, s.Retention)
	}

	p("\n## (g) Technical and organisational security measures\n\n")
	for _, s := range Systems {
		p("- %s: %s.\n", s.Name, strings.Join(s.Security, "; "))
	}
	p("- The data-flow registry: every touch of customer data is an append-only entry, hash-chained per shop; exports are signed (Ed25519) and verify offline.\n")

	if err := writeROPAMap(ctx, q, f, w); err != nil {
		return err
	}

	p("\n## Observed processing (from the registry)\n\n")
	if len(obs) == 0 {
		p("No entries in scope.\n")
		return nil
	}
	p("| system | datum | action | entries | subjects | first | last |\n|---|---|---|---|---|---|---|\n")
	for _, o := range obs {
		p("| %s | `%s` | %s | %d | %d | %s | %s |\n", o.System, o.Datum, o.Action, o.Entries, o.Subjects,
			o.First.UTC().Format("2006-01-02"), o.Last.UTC().Format("2006-01-02"))
	}
	return nil
}

func receives(obs []observed, system string) string {
	seen := map[string]bool{}
	var ds []string
	for _, o := range obs {
		if o.System == system && (o.Action == ActionTransmitted || o.Action == ActionStored || o.Action == ActionCollected) && !seen[o.Datum] {
			seen[o.Datum] = true
			ds = append(ds, "`"+o.Datum+"`")
		}
	}
	if len(ds) == 0 {
		return "nothing in scope"
	}
	return strings.Join(ds, ", ")
}

func orAll(shop string) string {
	if shop == "" {
		return "each shop connected to this installation"
	}
	return shop
}

func orDash(s string) string {
	if s == "" {
		return "none (no transfer)"
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// writeROPAMap writes the data-flow map section: the SVG, which Markdown
// carries as raw HTML, and the same flows as a table for readers that show
// no pictures.
func writeROPAMap(ctx context.Context, q sqlx.QueryerContext, f Filter, w io.Writer) error {
	m, err := LoadFlowMap(ctx, q, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n## Data-flow map\n\n")
	if err := m.WriteSVG(w, "ropa-map"); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n| from | to | action | categories | entries | subjects | retention |\n|---|---|---|---|---|---|---|\n")
	for _, fl := range m.Flows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %s |\n", systemName(fl.From), systemName(fl.To), fl.Action,
			"`"+strings.Join(fl.Categories, "`, `")+"`", fl.Entries, fl.Subjects, fl.RetentionText())
	}
	return nil
}
