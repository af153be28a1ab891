package web

// The merchant registry pages: the list of exports (GET /app/registry), an
// export (GET /app/export) and its signature.

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/registry"
)

type exportRow struct {
	ID        string    `db:"export_id"`
	CreatedAt time.Time `db:"created_at"`
}

// registryPage is what the registry page shows: the data-flow map (of the
// shop, or of one customer), the same flows as a table, and the exports.
type registryPage struct {
	Exports    []exportRow
	Map        registry.FlowMap
	SVG        template.HTML // written by registry.FlowMap.WriteSVG, which escapes every text
	CustomerID string
}

// appRegistry is GET /app/registry[?customer_id=N]. One customer's map
// reads their pseudonymous records, so that lookup is recorded first; the
// shop's map shows only categories and counts.
func (s *Server) appRegistry(w http.ResponseWriter, r *http.Request, m merchantSession) {
	ctx := r.Context()
	page := appPage{Title: tr(r, "registry.title"), Shop: m.Shop, CSRF: m.csrf(), Nav: "registry"}
	data := registryPage{}
	status := http.StatusOK
	f := registry.Filter{Shop: m.Shop}
	if v := r.URL.Query().Get("customer_id"); v != "" {
		data.CustomerID = v
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			page.Error = "A customer ID is the number in the customer's page address in your Shopify admin."
			status = http.StatusBadRequest
		} else {
			f.Subject = s.Keys.Subject(m.Shop, id)
			if err := registry.RecordAccess(ctx, s.DB.DB, registry.Access{Principal: m.principal(), What: registry.AccessTrail, Shops: []string{m.Shop}, Subject: f.Subject, Ref: registry.NewLookupID("fm")}, s.now()); err != nil {
				s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.record_lookup")
				return
			}
		}
	}
	var err error
	if data.Map, err = registry.LoadFlowMap(ctx, s.DB, f); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.draw_map")
		return
	}
	var svg strings.Builder
	_ = data.Map.WriteSVG(&svg, "flow-map")
	data.SVG = template.HTML(svg.String())
	if err := s.DB.SelectContext(ctx, &data.Exports, `SELECT export_id, created_at FROM registry_exports WHERE token_id = $1 ORDER BY created_at DESC LIMIT 20`, appExporter(m.Shop)); err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.list_exports")
		return
	}
	page.Data = data
	s.render(w, r, status, "registry", page)
}

// appExporter is the registry_exports.token_id of exports made on the
// merchant pages.
func appExporter(shop string) string { return "app:" + shop }

// appExport is GET /app/export?format=csv|jsonl|ropa: the shop's registry,
// recorded as an export like the API's.
func (s *Server) appExport(w http.ResponseWriter, r *http.Request, m merchantSession) {
	format := r.URL.Query().Get("format")
	if !registry.ValidFormat(format) {
		s.appError(w, r, http.StatusBadRequest, "error.unknown_format", "error.unknown_format.text")
		return
	}
	// The shop's own chain records the export even before it has entries.
	err := s.exportRegistry(r.Context(), w, exportJob{Format: format, Filter: registry.Filter{Shop: m.Shop}, Shops: []string{m.Shop},
		Exporter: appExporter(m.Shop), Principal: m.principal(), Role: "merchant_app", SignaturePath: "/app/exports/%s/signature"})
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.record_export")
	}
}

// appExportSignature is GET /app/exports/{id}/signature: FILE.sig for an
// export this shop made on these pages.
func (s *Server) appExportSignature(w http.ResponseWriter, r *http.Request, m merchantSession) {
	var signed []byte
	err := s.DB.GetContext(r.Context(), &signed, `SELECT signed FROM registry_exports WHERE export_id = $1 AND token_id = $2`,
		r.PathValue("id"), appExporter(m.Shop))
	if err != nil {
		s.appError(w, r, http.StatusNotFound, "error.no_export", "error.no_export.text")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.sig"`)
	_, _ = w.Write(signed)
}
