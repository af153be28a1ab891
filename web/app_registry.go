package web

// The merchant registry pages: the list of exports (GET /app/registry), an
// export (GET /app/export) and its signature.

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/registry"
)

type exportRow struct {
	ID        string    `db:"export_id"`
	CreatedAt time.Time `db:"created_at"`
}

func (s *Server) appRegistry(w http.ResponseWriter, r *http.Request, m merchantSession) {
	var rows []exportRow
	if err := s.DB.SelectContext(r.Context(), &rows, `SELECT export_id, created_at FROM registry_exports WHERE token_id = $1 ORDER BY created_at DESC LIMIT 20`, appExporter(m.Shop)); err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not list your exports.")
		return
	}
	s.render(w, http.StatusOK, "registry", appPage{Title: "Data-flow registry", Shop: m.Shop, CSRF: m.csrf(), Nav: "registry", Data: rows})
}

// appExporter is the registry_exports.token_id of exports made on the
// merchant pages.
func appExporter(shop string) string { return "app:" + shop }

// appExport is GET /app/export?format=csv|jsonl|ropa: the shop's registry,
// recorded as an export like the API's.
func (s *Server) appExport(w http.ResponseWriter, r *http.Request, m merchantSession) {
	format := r.URL.Query().Get("format")
	if !registry.ValidFormat(format) {
		s.appError(w, http.StatusBadRequest, "Unknown format", "Choose CSV, JSON Lines or the record of processing.")
		return
	}
	// The shop's own chain records the export even before it has entries.
	err := s.exportRegistry(r.Context(), w, exportJob{Format: format, Filter: registry.Filter{Shop: m.Shop}, Shops: []string{m.Shop},
		Exporter: appExporter(m.Shop), Principal: m.principal(), Role: "merchant_app", SignaturePath: "/app/exports/%s/signature"})
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not record the export.")
	}
}

// appExportSignature is GET /app/exports/{id}/signature: FILE.sig for an
// export this shop made on these pages.
func (s *Server) appExportSignature(w http.ResponseWriter, r *http.Request, m merchantSession) {
	var signed []byte
	err := s.DB.GetContext(r.Context(), &signed, `SELECT signed FROM registry_exports WHERE export_id = $1 AND token_id = $2`,
		r.PathValue("id"), appExporter(m.Shop))
	if err != nil {
		s.appError(w, http.StatusNotFound, "No such export", "This export does not exist, belongs to another shop, or its download did not finish.")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("id")+`.sig"`)
	_, _ = w.Write(signed)
}
