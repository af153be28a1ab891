package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/store"
)

// The remote codec endpoint, for the Temporal UI and CLI (Temporal's codec
// server protocol): POST /codec/decode and /codec/encode with
// {"payloads":[…]}. Operators only. The Temporal CLI sends the token as a
// header (--codec-auth "Bearer T"). The browser UI cannot add a header of
// ours, so an operator signs in once at /codec/login and the browser keeps
// the token in an HttpOnly cookie scoped to /codec; a UI started with
// TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true (codec.includeCredentials,
// https://docs.temporal.io/references/web-ui-configuration#codec) sends it
// along. No token is ever part of a URL. A cookie counts only on requests
// from a configured UI origin (CodecOrigins), so another site cannot ride
// on it.
//
// Only `candor dev` still serves /codec/{token}/…: its embedded UI (the
// Temporal CLI's dev server) offers no includeCredentials, and both listen
// on loopback only, with a token made for the run and revoked at its end.
//
// Decoding a review request's payloads reads the customer's purchase
// history, so each decode is recorded in the registry. A payload whose key
// was shredded comes back as it was: still encrypted.

const (
	codecBodyLimit = 4 << 20
	// codecCookie holds an operator token for the browser UI.
	codecCookie         = "candor_codec"
	codecCookieLifetime = 12 * time.Hour
)

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
// reads (candor dev only, see above).
func codecPathToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+r.PathValue("token"))
		h(w, r)
	}
}

// codecCookieAuth lets the sign-in cookie stand for the bearer token, on
// requests from a configured UI origin only: the browser attaches cookies
// to requests that other sites start, and Origin says who started it.
func (s *Server) codecCookieAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			if c, err := r.Cookie(codecCookie); err == nil && c.Value != "" {
				if !slices.Contains(s.CodecOrigins, r.Header.Get("Origin")) {
					apiError(w, http.StatusForbidden, "the codec sign-in cookie counts only from the Temporal UI's origin (CANDOR_CODEC_ORIGINS)")
					return
				}
				r.Header.Set("Authorization", "Bearer "+c.Value)
			}
		}
		h(w, r)
	}
}

var codecLoginPage = template.Must(template.New("codec-login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Candor: payload codec sign-in</title></head><body>
<h1>Payload codec sign-in</h1>
{{if .Message}}<p role="status">{{.Message}}</p>{{end}}
{{if .SignedIn}}<form method="post" action="/codec/logout"><button>Sign out</button></form>
{{else}}<p>Paste an operator token (<code>candor tokens create --name N --role operator</code>). This browser keeps it
in a cookie that only the Temporal UI's requests to this codec endpoint carry.</p>
<form method="post" action="/codec/login">
<label>Operator token <input type="password" name="token" autocomplete="off" required></label>
<button>Sign in</button></form>{{end}}
</body></html>`))

func (s *Server) codecLoginPageRender(w http.ResponseWriter, status int, signedIn bool, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = codecLoginPage.Execute(w, map[string]any{"SignedIn": signedIn, "Message": msg})
}

// codecLogin is GET /codec/login: the sign-in form.
func (s *Server) codecLogin(w http.ResponseWriter, r *http.Request) {
	_, err := r.Cookie(codecCookie)
	s.codecLoginPageRender(w, http.StatusOK, err == nil, "")
}

// codecLoginPost is POST /codec/login: it checks the token is an
// operator's and sets the cookie. The token travels in the form's body.
func (s *Server) codecLoginPost(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.codecLoginPageRender(w, http.StatusForbidden, false, "This form came from another site.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if tok == "" {
		s.codecLoginPageRender(w, http.StatusBadRequest, false, "Paste an operator token.")
		return
	}
	t, err := s.DB.Authenticate(r.Context(), tok)
	switch {
	case errors.Is(err, store.ErrBadToken):
		s.codecLoginPageRender(w, http.StatusUnauthorized, false, "Unknown, expired or revoked token.")
		return
	case err != nil:
		s.codecLoginPageRender(w, http.StatusServiceUnavailable, false, "Could not check the token, try again.")
		return
	case t.Role != store.RoleOperator:
		s.codecLoginPageRender(w, http.StatusForbidden, false, "That is a "+t.Role+" token; decoding payloads needs an operator token.")
		return
	}
	s.setCodecCookie(w, tok, int(codecCookieLifetime/time.Second))
	s.codecLoginPageRender(w, http.StatusOK, true, "Signed in. The Temporal UI in this browser now shows decoded payloads.")
}

// codecLogout is POST /codec/logout.
func (s *Server) codecLogout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.codecLoginPageRender(w, http.StatusForbidden, false, "This form came from another site.")
		return
	}
	s.setCodecCookie(w, "", -1)
	s.codecLoginPageRender(w, http.StatusOK, false, "Signed out.")
}

// setCodecCookie: SameSite=Strict, as the UI and Candor share a site
// (localhost:8233 and localhost:8080; temporal.example.com and
// candor.example.com), and a cross-site request should carry nothing.
func (s *Server) setCodecCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: codecCookie, Value: value, Path: "/codec", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: strings.HasPrefix(s.PublicURL, "https://"), MaxAge: maxAge})
}

// sameOrigin reports whether a form post came from this server's own page:
// an Origin header, when the browser sends one, names this host or
// CANDOR_PUBLIC_URL's (a proxy may change Host).
func (s *Server) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser, or an old one: the token itself is the credential
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if pub, err := url.Parse(s.PublicURL); err == nil && s.PublicURL != "" && u.Scheme == pub.Scheme && u.Host == pub.Host {
		return true
	}
	return u.Host == r.Host
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
// payloads an operator decoded (an access to the customer's purchase
// history, in Temporal) and names the operator in the access log, before
// the payloads are returned. Anything that stops it (a key whose owner
// cannot be read back, a failed write) refuses the whole decode.
func (s *Server) recordCodecReads(r *http.Request, read map[string]bool) error {
	ctx := r.Context()
	t, _ := ctx.Value(tokenKey{}).(store.Token)
	if t.ID == "" {
		return errors.New("codec decode without a principal")
	}
	now := s.now()
	byShop := map[string][]registry.Entry{}
	for id := range read {
		shop, owner, err := s.DataKeys.OwnerOf(ctx, id)
		if err != nil {
			return fmt.Errorf("owner of key %s: %w", id, err)
		}
		e := registry.Entry{Shop: shop, Datum: registry.DatumPurchaseHistory,
			System: registry.SystemTemporal, Action: registry.ActionRead, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: now, Ref: owner}
		switch {
		case owner == datakeys.ServiceOwner:
			continue // ties to no customer
		case strings.HasPrefix(owner, "rq_"):
		default: // a subject's own key
			e.Subject, e.Ref = owner, registry.NewLookupID("cd")
		}
		byShop[shop] = append(byShop[shop], e)
	}
	for _, es := range byShop {
		if err := s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
			return registry.AppendAccess(ctx, tx, t.Principal(), registry.AccessCodec, now, es...)
		}); err != nil {
			return err
		}
	}
	return nil
}
