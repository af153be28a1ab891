package web

// The merchant test email (POST /app/test-email): where it may go, its
// hourly limit, and its send.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
)

// TestEmailsPerHour bounds test emails per shop.
const TestEmailsPerHour = 5

var errTooManyTests = errors.New("too many test emails")

// Where the test email may go: the shop's own addresses in Shopify, never an
// address typed into the form, so the button cannot mail strangers.
const (
	TestToOwner   = "owner"   // the Shop's email: the owner's, where Shopify writes to the merchant
	TestToContact = "contact" // the Shop's contactEmail: the public contact address
)

// appTestEmail is POST /app/test-email: the shop's email for a sample order,
// to the shop's own owner or contact address, read from Shopify just in time.
// The address is the merchant's, but still personal data: it is not logged
// or stored, and its transmission to SendGrid is recorded (with no subject)
// like any other.
func (s *Server) appTestEmail(w http.ResponseWriter, r *http.Request, m merchantSession) {
	which := r.PostFormValue("to")
	if which != TestToOwner && which != TestToContact {
		s.showOverview(w, r, m, http.StatusUnprocessableEntity, "", tr(r, "test.choose"))
		return
	}
	if s.Mailer == nil {
		s.showOverview(w, r, m, http.StatusServiceUnavailable, "", tr(r, "test.no_mailer"))
		return
	}
	ctx := r.Context()
	shop, err := s.DB.Shop(ctx, m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_shop")
		return
	}
	profile, err := s.shopify().ShopProfile(ctx, shop)
	if err != nil {
		s.Logger.Warn("could not read the shop's addresses", "shop", m.Shop, "error", err)
		s.showOverview(w, r, m, http.StatusServiceUnavailable, "", tr(r, "test.no_profile"))
		return
	}
	to := profile.Email
	if which == TestToContact {
		to = profile.ContactEmail
	}
	if to == "" {
		s.showOverview(w, r, m, http.StatusUnprocessableEntity, "", tr(r, "test.no_address"))
		return
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	ref := "test_" + hex.EncodeToString(b)
	// In the shop's primary language, with its wording for it.
	wordings, err := store.EmailWording(ctx, s.DB, m.Shop)
	if err != nil {
		s.appError(w, r, http.StatusServiceUnavailable, "error.try_again", "error.load_shop")
		return
	}
	lang := locale.Match(profile.PrimaryLocale)
	e, err := review.TestEmail(shop, review.ShopWording(shop, wordings, lang), lang, s.PublicURL)
	if err != nil {
		s.appError(w, r, http.StatusInternalServerError, "error.build_email", "error.build_email.text")
		return
	}
	// It shows the sender name and reply address a customer would see.
	msg := sendgrid.Message{RequestID: ref, FromName: profile.Name, ReplyTo: profile.Contact(),
		Subject: e.Subject, Text: e.Text, HTML: e.HTML}
	proof, err := s.recordTestEmail(ctx, m.Shop, ref)
	if errors.Is(err, errTooManyTests) {
		s.showOverview(w, r, m, http.StatusTooManyRequests, "", tr(r, "test.too_many", TestEmailsPerHour))
		return
	} else if err != nil {
		s.showOverview(w, r, m, http.StatusServiceUnavailable, "", tr(r, "test.record"))
		return
	}
	msg.To = to
	_, err = s.Mailer.Send(ctx, proof, msg)
	msg.To, to = "", ""
	if err != nil {
		var ge *sendgrid.Error
		status := 0
		if errors.As(err, &ge) {
			status = ge.Status
		}
		s.Logger.LogAttrs(ctx, slog.LevelWarn, "test email not sent", slog.String("shop", m.Shop), slog.String("ref", ref), slog.Int("sendgrid_status", status))
		if ge != nil && ge.SenderUnverified {
			s.showOverview(w, r, m, http.StatusBadGateway, "", senderRefusedText(requestLang(r), s.Mailer.Sender()))
			return
		}
		s.showOverview(w, r, m, http.StatusBadGateway, "", tr(r, "test.unconfirmed"))
		return
	}
	s.Logger.Info("test email sent", "shop", m.Shop, "ref", ref)
	http.Redirect(w, r, "/app?notice=test-sent", http.StatusSeeOther)
}

// recordTestEmail records, before the address leaves, the read of the
// shop's address and its transmission to SendGrid, unless the shop sent
// TestEmailsPerHour test emails in the last hour (errTooManyTests). The proof
// is what the mailer demands.
func (s *Server) recordTestEmail(ctx context.Context, shop, ref string) (registry.Proof, error) {
	now := s.now()
	var proof registry.Proof
	err := s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		// A few an hour: enough to try settings, too few to relay spam.
		var recent int
		if err := tx.GetContext(ctx, &recent, `SELECT count(*) FROM registry_entries
			WHERE shop = $1 AND system = 'sendgrid' AND ref LIKE 'test\_%' AND at > $2`, shop, now.Add(-time.Hour)); err != nil {
			return err
		}
		if recent >= TestEmailsPerHour {
			return errTooManyTests
		}
		read := registry.Entry{Shop: shop, Datum: registry.DatumEmail, System: registry.SystemShopify,
			Action: registry.ActionRead, Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent,
			ExpiresAt: now, Ref: ref} // held in memory for this request only
		var err error
		proof, err = registry.Append(ctx, tx, now, read, registry.Entry{Shop: shop, Datum: registry.DatumEmail,
			System: registry.SystemSendGrid, Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisConsent, ExpiresAt: now.Add(retention.Lookup(retention.SendGridActivity).Keep), Ref: ref}) // SendGrid's own 30 days: the sweep erases customers, not test recipients
		return err
	})
	return proof, err
}
