package web

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// SuppressionRetention bounds expires_at for a suppression: kept while the
// shop is connected, and at most this long (docs/registry.md).
const SuppressionRetention = 5 * 365 * 24 * time.Hour

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}</style>
</head><body><main><h1>{{.Title}}</h1><p>{{.Body}}</p></main></body></html>`))

func showPage(w http.ResponseWriter, status int, title, body string) {
	showPageLang(w, "en", status, title, body)
}

// showPageLang is showPage for a page written in lang.
func showPageLang(w http.ResponseWriter, lang string, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = page.Execute(w, struct{ Lang, Title, Body string }{lang, title, body})
}

// reviewLink is GET /r/{token}: check the signed link, then redirect to the
// shop's review destination for that product.
func (s *Server) reviewLink(w http.ResponseWriter, r *http.Request) {
	l, err := s.Keys.ParseLink(r.PathValue("token"), keys.LinkReview, s.now())
	switch {
	case errors.Is(err, keys.ErrLinkExpired):
		s.Metrics.LinkClick("review", "expired")
		showPage(w, http.StatusGone, "This review link has expired", "Review links stay open for a limited time. You can still leave a review on the shop's website.")
		return
	case err != nil:
		s.Metrics.LinkClick("review", "invalid")
		showPage(w, http.StatusBadRequest, "This link is not valid", "The link may have been cut short by your email program. Try copying the whole link into your browser.")
		return
	}
	req, err := s.DB.Request(r.Context(), l.RequestID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && req.Shop != l.Shop) {
		s.Metrics.LinkClick("review", "revoked")
		showPage(w, http.StatusGone, "This review link is no longer active", "The shop no longer holds this review request. You can still leave a review on the shop's website.")
		return
	}
	if err != nil {
		showPage(w, http.StatusServiceUnavailable, "Please try again", "Something went wrong on our side. Please try the link again in a minute.")
		return
	}
	if expired, err := s.linkPastPolicy(r, req); err != nil {
		showPage(w, http.StatusServiceUnavailable, "Please try again", "Something went wrong on our side. Please try the link again in a minute.")
		return
	} else if expired {
		// The row has outlived its policy (the sweep has not run yet) or
		// the shop has since shortened its review_links period.
		s.Metrics.LinkClick("review", "expired")
		showPage(w, http.StatusGone, "This review link has expired", "Review links stay open for a limited time. You can still leave a review on the shop's website.")
		return
	}
	shop, err := s.DB.Shop(r.Context(), req.Shop)
	if err != nil {
		showPage(w, http.StatusGone, "This review link is no longer active", "The shop no longer uses review requests from Candor.")
		return
	}
	products, err := req.Products()
	if err != nil {
		showPage(w, http.StatusServiceUnavailable, "Please try again", "Something went wrong on our side.")
		return
	}
	for _, p := range products {
		if p.ID == l.ProductID {
			s.Metrics.LinkClick("review", "redirected")
			s.countClick(r, req.Shop)
			w.Header().Set("Referrer-Policy", "no-referrer")
			http.Redirect(w, r, review.ReviewURL(shop.ReviewURL, shop.Domain, p), http.StatusFound)
			return
		}
	}
	showPage(w, http.StatusNotFound, "This link is not valid", "This product is not part of the order.")
}

// countClick counts a review-link click for the shop's weekly results:
// every GET that redirects, repeats included, and no HEAD (GET routes also
// answer HEAD, which link checkers and prefetchers send). Only the count is
// kept: nothing says which link, customer or order. A click that cannot be
// counted is still redirected: the customer's review matters more than the
// figure.
func (s *Server) countClick(r *http.Request, shop string) {
	if r.Method != http.MethodGet {
		return
	}
	if err := store.CountResult(r.Context(), s.DB, shop, s.now(), store.MetricClick, ""); err != nil {
		s.Logger.LogAttrs(r.Context(), slog.LevelWarn, "review-link click not counted", slog.String("shop", shop), slog.String("error", err.Error()))
	}
}

// confirmPage is what GET /u/{token} shows: one button that posts back to
// the same URL, the same request a mail client's one-click unsubscribe sends.
var confirmPage = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>Unsubscribe from review requests</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}
button{font:inherit;padding:.5rem 1.25rem;border-radius:6px;border:1px solid #1b1b1b;background:#1b1b1b;color:#fff;cursor:pointer}</style>
</head><body><main><h1>Unsubscribe from review requests?</h1>
<p>{{.}} will not send you any more review requests.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>
</main></body></html>`))

// unsubscribe is GET or POST /u/{token}. A POST puts the customer on the
// shop's suppression list: the mail client's one-click button (RFC 8058,
// List-Unsubscribe-Post) or the button on the page a GET shows. A GET alone
// changes nothing, because mail scanners and link previews fetch every link
// in a message. A validly signed link keeps working after it expires: an
// unsubscribe must never be refused.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	l, err := s.Keys.ParseLink(r.PathValue("token"), keys.LinkUnsubscribe, s.now())
	if err != nil && !errors.Is(err, keys.ErrLinkExpired) {
		s.Metrics.LinkClick("unsubscribe", "invalid")
		showPage(w, http.StatusBadRequest, "This link is not valid", "The link may have been cut short by your email program. Try copying the whole link into your browser, or reply to the email to ask the shop to stop.")
		return
	}
	ctx := r.Context()
	req, err := s.DB.Request(ctx, l.RequestID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (req.Subject == "" || req.Shop != l.Shop)) {
		// Erased, or never sent: nothing further will be sent for it.
		showPage(w, http.StatusOK, "You will not get more review requests", "The shop holds no review request for this link any more.")
		return
	}
	if err != nil {
		showPage(w, http.StatusServiceUnavailable, "Please try again", "We could not record your choice just now. Please try the link again in a minute.")
		return
	}
	if r.Method != http.MethodPost {
		suppressed, err := store.Suppressed(ctx, s.DB, req.Shop, req.Subject, req.AddressKey)
		switch {
		case err != nil:
			showPage(w, http.StatusServiceUnavailable, "Please try again", "Something went wrong on our side. Please try the link again in a minute.")
		case suppressed:
			showPage(w, http.StatusOK, "You are unsubscribed", "You will not get more review requests from "+req.Shop+".")
		default:
			s.Metrics.LinkClick("unsubscribe", "confirm_shown")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Referrer-Policy", "no-referrer")
			w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
			_ = confirmPage.Execute(w, req.Shop)
		}
		return
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		// By pseudonym and by the address's key: a guest checkout's
		// pseudonym names only this order, the address's key every order
		// placed with the address.
		added, err := store.SuppressAll(ctx, tx, req.Shop, "unsubscribe_link", req.Subject, req.AddressKey)
		if err != nil || !added {
			return err
		}
		if err := store.CountResult(ctx, tx, req.Shop, now, store.MetricUnsubscribe, ""); err != nil {
			return err
		}
		_, err = registry.Append(ctx, tx, now, registry.Entry{Shop: req.Shop, Subject: req.Subject,
			Datum: registry.DatumMarketingPrefs, System: registry.SystemPostgres, Action: registry.ActionStored,
			Purpose: registry.PurposeUnsubscribe, LegalBasis: registry.BasisLegalObligation,
			ExpiresAt: now.Add(SuppressionRetention), Ref: req.RequestID})
		return err
	})
	if err != nil {
		showPage(w, http.StatusServiceUnavailable, "Please try again", "We could not record your choice just now. Please try the link again in a minute.")
		return
	}
	s.Metrics.LinkClick("unsubscribe", "unsubscribed")
	showPage(w, http.StatusOK, "You are unsubscribed", "You will not get more review requests from "+req.Shop+".")
}

// linkPastPolicy reports whether a review link of req is past its shop's
// policy now, whatever its token says: the request row is past its expiry,
// or the latest email's links are older than the shop's review_links period.
func (s *Server) linkPastPolicy(r *http.Request, req store.Request) (bool, error) {
	now := s.now()
	if !req.ExpiresAt.After(now) {
		return true, nil
	}
	issued := req.SentAt
	if req.ReminderSentAt != nil {
		issued = req.ReminderSentAt
	}
	if issued == nil {
		return false, nil
	}
	ov, err := s.DB.Overrides(r.Context(), req.Shop)
	if err != nil {
		return false, err
	}
	return !issued.Add(ov.Keep(retention.ReviewLinks)).After(now), nil
}
