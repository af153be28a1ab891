package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/registry"
)

// The remote codec endpoint, for the Temporal UI and CLI (Temporal's codec
// server protocol): POST /codec/decode and /codec/encode with
// {"payloads":[…]}. Operators only. The Temporal CLI sends the token as a
// header (--codec-auth "Bearer T"); the browser UI cannot add a header of
// ours, so /codec/{token}/decode carries it in the path, which this server
// never logs (it logs route patterns).
//
// Decoding a review request's payloads reads the customer's purchase
// history, so each decode is recorded in the registry. A payload whose key
// was shredded comes back as it was: still encrypted.

const codecBodyLimit = 4 << 20

// codecCORS answers the UI's preflight and sets CORS headers for the
// configured UI origins; h nil means a preflight route.
func (s *Server) codecCORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && slices.Contains(s.CodecOrigins, origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Add("Vary", "Origin")
		}
		if h == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h(w, r)
	}
}

// codecPathToken moves a token given in the path into the header authed
// reads.
func codecPathToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+r.PathValue("token"))
		h(w, r)
	}
}

func (s *Server) codec(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	if op != "decode" && op != "encode" {
		apiError(w, http.StatusNotFound, "codec operations are /decode and /encode")
		return
	}
	if s.DataKeys == nil {
		apiError(w, http.StatusServiceUnavailable, "no data keys configured")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, codecBodyLimit))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "body over 4 MiB")
		return
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(body, &in); err != nil {
		apiError(w, http.StatusBadRequest, `body must be {"payloads":[…]}`)
		return
	}
	ctx := r.Context()
	var out []*commonpb.Payload
	if op == "encode" {
		// The UI encodes what an operator types (a signal's input, say):
		// that belongs to no customer, so the service key.
		out, err = s.DataKeys.Codec("", datakeys.ServiceOwner).Encode(in.Payloads)
		if err != nil {
			apiError(w, http.StatusServiceUnavailable, "could not encode, try again")
			return
		}
	} else {
		read := map[string]bool{} // request keys whose payloads were shown
		for i, p := range in.Payloads {
			d, keyID, err := s.DataKeys.DecodeOne(ctx, p)
			switch {
			case errors.Is(err, datakeys.ErrShredded):
				d = p // erased: stays ciphertext
			case err != nil: // tampered, malformed: says which payload and key, nothing of its content
				apiError(w, http.StatusBadRequest, fmt.Sprintf("payload %d: %v", i, err))
				return
			case keyID != "":
				read[keyID] = true
			}
			out = append(out, d)
		}
		if err := s.recordCodecReads(r, read); err != nil {
			apiError(w, http.StatusServiceUnavailable, "could not record the access, try again")
			return
		}
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		apiError(w, http.StatusInternalServerError, "could not encode the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// recordCodecReads appends a registry entry per review request whose
// payloads an operator decoded: an access to the customer's purchase
// history, in Temporal.
func (s *Server) recordCodecReads(r *http.Request, read map[string]bool) error {
	ctx := r.Context()
	now := s.now()
	byShop := map[string][]registry.Entry{}
	for id := range read {
		shop, owner, err := s.DataKeys.OwnerOf(ctx, id)
		if err != nil || !strings.HasPrefix(owner, "rq_") {
			continue // the service key, or shredded since
		}
		byShop[shop] = append(byShop[shop], registry.Entry{Shop: shop, Datum: registry.DatumPurchaseHistory,
			System: registry.SystemTemporal, Action: registry.ActionRead, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: now, Ref: owner})
	}
	for _, es := range byShop {
		if err := s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := registry.Append(ctx, tx, now, es...)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
