package web

// One home for registry exports: the API (GET /api/registry/export) and the
// merchant pages (GET /app/export) check their caller their own way, then
// both go through exportRegistry.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/candorhq/candor/registry"
)

// exportJob is one export: what it covers and who makes it.
type exportJob struct {
	Format string // registry.ValidFormat
	Filter registry.Filter
	// Shops are the chains that record the export; nil means every shop in
	// the filter's scope that has entries.
	Shops []string
	// Exporter is the export's registry_exports.token_id, which decides who
	// may fetch its signature.
	Exporter string
	// Principal is who reads, for the access log.
	Principal string
	Role      string // the metric label
	// SignaturePath is where the signature is served, %s being the export
	// ID; the Link header points there.
	SignaturePath string
}

// exportRegistry records the export in the registry, then streams it to w
// and stores its signed manifest for SignaturePath. An error means the
// export could not be recorded and nothing was written, so the caller
// answers in its own way; a failure after the headers is only logged, and
// the missing signature tells the client the export is unusable.
func (s *Server) exportRegistry(ctx context.Context, w http.ResponseWriter, x exportJob) error {
	id := registry.NewExportID()
	signer, err := s.signer(ctx)
	if err != nil {
		return err
	}
	shops := x.Shops
	if shops == nil {
		if shops, err = registry.ShopsInScope(ctx, s.DB, x.Filter); err != nil {
			return err
		}
	}
	if err := registry.RecordAccess(ctx, s.DB.DB, registry.Access{Principal: x.Principal, What: registry.AccessExport,
		Shops: shops, Subject: x.Filter.Subject, Ref: id}, s.now()); err != nil {
		return err
	}
	s.Metrics.RegistryExport(x.Format, x.Role)
	// An export of millions of entries outlasts the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Candor-Export-Id", id)
	if x.Format == registry.FormatROPA {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="candor-ropa-%s.md"`, id))
		if err := registry.ROPA(ctx, s.DB, x.Filter, w, s.now()); err != nil {
			s.Logger.LogAttrs(ctx, slog.LevelError, "ropa export failed", slog.String("export_id", id), slog.String("error", err.Error()))
		}
		return nil
	}
	ctype := map[string]string{registry.FormatCSV: "text/csv; charset=utf-8", registry.FormatJSONL: "application/jsonl"}[x.Format]
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="candor-registry-%s.%s"`, id, x.Format))
	w.Header().Set("Link", "<"+fmt.Sprintf(x.SignaturePath, id)+`>; rel="signature"`)
	signed, err := registry.Export(ctx, s.DB.DB, w, x.Format, x.Filter, signer, id, nil)
	if err != nil {
		s.Logger.LogAttrs(ctx, slog.LevelError, "registry export failed", slog.String("export_id", id), slog.String("error", err.Error()))
		return nil
	}
	b, _ := json.Marshal(signed)
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO registry_exports (export_id, token_id, signed) VALUES ($1, $2, $3)`, id, x.Exporter, string(b)); err != nil {
		s.Logger.LogAttrs(ctx, slog.LevelError, "could not store the export's signature", slog.String("export_id", id), slog.String("error", err.Error()))
	}
	return nil
}
