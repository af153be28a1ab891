package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/activity"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
)

// Kinds of email.
const (
	KindFirst    = "first"
	KindReminder = "reminder"
)

// SendInput names the request; it holds no contact data.
type SendInput struct {
	Shop      string
	OrderID   int64
	RequestID string
	Kind      string
}

// SendResult is the outcome: sent, skipped or failed, and why.
type SendResult struct {
	Status string
	Reason string
}

// Skip reasons.
const (
	ReasonAlreadySent    = "already_sent"
	ReasonOutcomeUnknown = "outcome_unknown"
	ReasonRequestErased  = "request_erased"
	ReasonOrderNotFound  = "order_not_found"
	ReasonCancelled      = "cancelled"
	ReasonRefunded       = "refunded"
	ReasonUnsubscribed   = "unsubscribed"
	ReasonUndeliverable  = "undeliverable" // SendGrid reported the address bounced or invalid
	ReasonSpamReport     = "spam_report"   // the customer marked an earlier email as spam
	ReasonErased         = "erased"        // the customer's data was erased (customers/redact)
	ReasonNoConsent      = "no_consent"
	ReasonOptedOut       = "opted_out_of_marketing"
	ReasonNoEmail        = "no_email"
	ReasonNotSent        = "first_email_not_sent"
	ReasonRejected       = "sendgrid_rejected"
	ReasonExcluded       = "excluded" // every product is excluded by the shop's settings
	// ReasonShopDisconnected: the shop is gone, or its tokens are revoked
	// (app/uninstalled) or refused (ErrShopDisconnected).
	ReasonShopDisconnected = "shop_disconnected"
)

// Reasons of the shared-sender model: neither is retried.
const (
	// ReasonSenderUnverified: SendGrid refused the From address (403: not
	// a verified Sender Identity). Nothing was sent; the merchant sees it
	// on /app.
	ReasonSenderUnverified = "sender_unverified"
	// ReasonReviewURLRefused: the shop's review destination is neither on
	// its own domains, as Shopify reports them now, nor a review platform
	// (a setting saved before destinations were checked).
	ReasonReviewURLRefused = "review_url_refused"
)

// statusOf reads the status and reason fields for kind.
func statusOf(r store.Request, kind string) string {
	s, _ := outcomeOf(r, kind)
	return s
}

func outcomeOf(r store.Request, kind string) (status, reason string) {
	if kind == KindReminder {
		return r.ReminderStatus, r.ReminderReason
	}
	return r.Status, r.Reason
}

// SendReviewRequest re-checks eligibility against Shopify and the suppression
// list, reads the recipient just in time, and sends one email. It is
// idempotent and sends at most once per kind: a retry after an attempt whose
// outcome is unknown gives up rather than risk a second email.
func (a *Activities) SendReviewRequest(ctx context.Context, in SendInput) (SendResult, error) {
	defer heartbeat(ctx)()
	log := activity.GetLogger(ctx)
	req, err := a.DB.Request(ctx, in.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return SendResult{Status: store.StatusSkipped, Reason: ReasonRequestErased}, nil
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("load request: %w", err)
	}
	if done, ok := settled(req, in.Kind); ok {
		return done, nil
	}
	if statusOf(req, in.Kind) == store.StatusSending {
		// A previous attempt moved the request to sending, so the address
		// may have reached SendGrid (the worker died, or lost the answer).
		// Sending again could duplicate the email; not sending loses at
		// most one. It is recorded as what it is: sent, unconfirmed.
		log.Warn("previous send attempt has an unknown outcome; not retrying", "request_id", in.RequestID, "kind", in.Kind)
		a.finish(ctx, in, store.StatusSentUnconfirmed, ReasonOutcomeUnknown, []string{store.StatusSending})
		return SendResult{Status: store.StatusSentUnconfirmed, Reason: ReasonOutcomeUnknown}, nil
	}

	shop, err := a.DB.Shop(ctx, in.Shop)
	if errors.Is(err, store.ErrNotFound) {
		return a.skip(ctx, in, "", nil, ReasonShopDisconnected)
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("load shop: %w", err)
	}
	admin, err := a.shopAdmin(ctx, shop)
	if errors.Is(err, ErrShopDisconnected) {
		// Only a reinstall helps: an explicit outcome, not a day of retries.
		return a.skip(ctx, in, "", nil, ReasonShopDisconnected)
	}
	if err != nil {
		return SendResult{}, temporalError(err)
	}

	st, err := admin.OrderStatus(ctx, in.OrderID)
	if err != nil {
		return SendResult{}, temporalError(err)
	}
	subject := ""
	if st.CustomerID != 0 {
		subject = a.Keys.Subject(in.Shop, st.CustomerID)
	} else if st.Found {
		subject = a.Keys.GuestSubject(in.Shop, in.OrderID)
	}
	now := a.now()
	read := func(datum string) registry.Entry {
		return registry.Entry{Shop: in.Shop, Subject: subject, Datum: datum, System: registry.SystemShopify,
			Action: registry.ActionRead, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: now, Ref: in.RequestID}
	}
	statusReads := []registry.Entry{read(registry.DatumCustomerID), read(registry.DatumMarketingPrefs)}

	products, err := req.Products()
	if err != nil {
		return SendResult{}, err
	}
	for i := range products {
		if h, ok := st.ProductHandles[products[i].ID]; ok {
			products[i].Handle = h
		}
	}

	// Excluded products are left out of the email; with none left there is
	// nothing to ask about. Tags are read just in time, like handles, so a
	// tag added after the order still counts.
	products = included(shop.Settings, products, st.ProductTags)
	if len(products) == 0 {
		return a.skip(ctx, in, subject, statusReads, ReasonExcluded)
	}

	reason, err := a.ineligible(ctx, shop, st, subject, in)
	if err != nil {
		return SendResult{}, err
	}
	if reason != "" {
		if reason == ReasonOrderNotFound {
			statusReads = nil // nothing about a person was read
		}
		return a.skip(ctx, in, subject, statusReads, reason)
	}

	// The shop's name and contact address, just in time: the email comes
	// from Candor's sender in the shop's name, and replies go to the shop.
	profile, err := admin.ShopProfile(ctx)
	if err != nil {
		return SendResult{}, temporalError(err)
	}
	if store.CheckReviewHost(shop.ReviewURL, shop.Domain, profile.Hosts()) != nil {
		return a.skip(ctx, in, subject, statusReads, ReasonReviewURLRefused)
	}
	to, err := admin.Recipient(ctx, in.OrderID)
	if err != nil {
		return SendResult{}, temporalError(err)
	}
	to = strings.TrimSpace(to) // as typed at checkout; SendGrid refuses surrounding space
	if to == "" {
		return a.skip(ctx, in, subject, statusReads, ReasonNoEmail)
	}
	// The address's own key: an objection made from any earlier order with
	// it (a guest checkout's too) holds for this one.
	addressKey := a.Keys.AddressKey(in.Shop, to)

	ov, err := a.DB.Overrides(ctx, in.Shop)
	if err != nil {
		return SendResult{}, err
	}
	msg, err := a.message(shop, req, products, in.Kind == KindReminder, ov.Keep(retention.ReviewLinks))
	if err != nil {
		return SendResult{}, err
	}
	msg.To, msg.FromName, msg.ReplyTo = to, profile.Name, profile.Contact()

	basis := registry.BasisLegitimateInterest
	if shop.ConsentRequired {
		basis = registry.BasisConsent
	}
	emailRead := read(registry.DatumEmail)
	emailRead.LegalBasis = basis
	transmit := registry.Entry{Shop: in.Shop, Subject: subject, Datum: registry.DatumEmail, System: registry.SystemSendGrid,
		Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest, LegalBasis: basis,
		ExpiresAt: now.Add(ov.Keep(retention.SendGridActivity)), Ref: in.RequestID}

	// Write ahead: the request moves to "sending" and the transmission is
	// recorded before the address leaves for SendGrid. The proof returned by
	// the registry is what the mailer demands.
	var proof registry.Proof
	var suppressedFor string // the suppression list's reason, when errSuppressed
	err = a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := store.LockRequest(ctx, tx, in.RequestID)
		if err != nil {
			return err
		}
		if statusOf(locked, in.Kind) != pending(in.Kind) {
			return errConcurrent
		}
		// Again under the row lock: a redact or unsubscribe that committed
		// since the check above must win over this send.
		why, err := store.Suppression(ctx, tx, in.Shop, subject, addressKey)
		if err != nil {
			return err
		}
		if why != "" {
			suppressedFor = why
			return errSuppressed
		}
		if err := a.moveTo(ctx, tx, in, store.StatusSending, "", []string{pending(in.Kind)}); err != nil {
			return err
		}
		if err := store.SetSubjectAndProducts(ctx, tx, in.RequestID, subject, products); err != nil {
			return err
		}
		if err := store.SetAddressKey(ctx, tx, in.RequestID, addressKey); err != nil {
			return err
		}
		proof, err = registry.Append(ctx, tx, now, append(statusReads, emailRead, transmit)...)
		return err
	})
	if errors.Is(err, errConcurrent) {
		return SendResult{Status: store.StatusSkipped, Reason: ReasonAlreadySent}, nil
	}
	if errors.Is(err, errSuppressed) {
		// The address was read (its key is what may have matched).
		return a.skip(ctx, in, subject, append(statusReads, emailRead), skipReason(suppressedFor))
	}
	if errors.Is(err, store.ErrNotFound) {
		return SendResult{Status: store.StatusSkipped, Reason: ReasonRequestErased}, nil
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("record send: %w", err)
	}

	messageID, err := a.Mailer.Send(ctx, proof, msg)
	msg.To = ""
	if err != nil {
		var ge *sendgrid.Error
		if !errors.As(err, &ge) {
			return SendResult{}, err
		}
		switch {
		case ge.OutcomeUnknown:
			// SendGrid may have queued it (see sendgrid.Mailer.Send): at
			// most once, so no retry.
			// If this cannot be recorded, the retry finds "sending" and
			// records it.
			log.Warn("SendGrid's answer leaves the send's outcome unknown; not retrying", "request_id", in.RequestID, "status", ge.Status)
			if err := a.moveTo(ctx, a.DB, in, store.StatusSentUnconfirmed, ReasonOutcomeUnknown, []string{store.StatusSending}); err != nil {
				return SendResult{}, fmt.Errorf("mark sent, unconfirmed: %w", err)
			}
			return SendResult{Status: store.StatusSentUnconfirmed, Reason: ReasonOutcomeUnknown}, nil
		case !ge.Retryable:
			reason := ReasonRejected + "_" + strconv.Itoa(ge.Status)
			if ge.SenderUnverified {
				reason = ReasonSenderUnverified
			}
			log.Warn("SendGrid rejected the review request", "request_id", in.RequestID, "status", ge.Status)
			a.finish(ctx, in, store.StatusFailed, reason, []string{store.StatusSending})
			return SendResult{Status: store.StatusFailed, Reason: reason}, nil
		}
		// SendGrid did not accept it: safe to try again.
		a.finish(ctx, in, pending(in.Kind), "", []string{store.StatusSending})
		return SendResult{}, temporalError(err)
	}
	if err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := a.moveTo(ctx, tx, in, store.StatusSent, "", []string{store.StatusSending}); err != nil {
			return err
		}
		return store.SetMessageID(ctx, tx, in.RequestID, in.Kind == KindReminder, messageID)
	}); err != nil {
		// The email is out and recorded in the registry; only our status
		// row lags. Retrying would see "sending" and not resend.
		return SendResult{}, fmt.Errorf("mark sent: %w", err)
	}
	log.Info("review request sent", "request_id", in.RequestID, "kind", in.Kind, "message_id", messageID)
	return SendResult{Status: store.StatusSent}, nil
}

var (
	errConcurrent = errors.New("request changed under us")
	errSuppressed = errors.New("customer suppressed")
)

func pending(kind string) string {
	if kind == KindReminder {
		return ""
	}
	return store.StatusScheduled
}

// settled reports an already-final outcome for kind.
func settled(r store.Request, kind string) (SendResult, bool) {
	if kind == KindReminder && r.Status != store.StatusSent {
		return SendResult{Status: store.StatusSkipped, Reason: ReasonNotSent}, true
	}
	status, reason := outcomeOf(r, kind)
	switch status {
	case store.StatusSent:
		return SendResult{Status: store.StatusSent, Reason: ReasonAlreadySent}, true
	case store.StatusSkipped, store.StatusFailed, store.StatusSentUnconfirmed:
		return SendResult{Status: status, Reason: reason}, true
	}
	return SendResult{}, false
}

// included drops the products the shop's settings exclude, by ID or by any
// tag (Shopify compares tags case-insensitively).
func included(s store.Settings, products []store.Product, tags map[int64][]string) []store.Product {
	if len(s.ExcludedProducts) == 0 && len(s.ExcludedTags) == 0 {
		return products
	}
	var out []store.Product
next:
	for _, p := range products {
		if slices.Contains(s.ExcludedProducts, p.ID) {
			continue
		}
		for _, t := range tags[p.ID] {
			for _, x := range s.ExcludedTags {
				if strings.EqualFold(strings.TrimSpace(t), x) {
					continue next
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// ineligible says why this order must not be emailed now, or "". An error
// means eligibility could not be decided; the activity retries.
func (a *Activities) ineligible(ctx context.Context, shop store.Shop, st shopify.OrderStatus, subject string, in SendInput) (string, error) {
	switch {
	case !st.Found:
		return ReasonOrderNotFound, nil
	case st.Cancelled:
		return ReasonCancelled, nil
	case st.Refunded:
		return ReasonRefunded, nil
	}
	why, err := store.Suppression(ctx, a.DB, in.Shop, subject)
	if err != nil {
		return "", fmt.Errorf("read suppression list: %w", err)
	}
	switch {
	case why != "":
		return skipReason(why), nil
	case shop.ConsentRequired && st.MarketingState != shopify.MarketingSubscribed:
		return ReasonNoConsent, nil
	case st.MarketingState == shopify.MarketingUnsubscribed:
		// Even where consent is not required, an explicit opt-out from the
		// shop's email is respected.
		return ReasonOptedOut, nil
	}
	return "", nil
}

func (a *Activities) moveTo(ctx context.Context, ex sqlx.ExecerContext, in SendInput, to, reason string, from []string) error {
	var err error
	if in.Kind == KindReminder {
		_, err = store.TransitionReminder(ctx, ex, in.RequestID, from, to, reason)
	} else {
		_, err = store.Transition(ctx, ex, in.RequestID, from, to, reason)
	}
	return err
}

// finish records a final status, logging rather than failing if it cannot:
// the outcome is already decided.
func (a *Activities) finish(ctx context.Context, in SendInput, to, reason string, from []string) {
	if err := a.moveTo(ctx, a.DB, in, to, reason, from); err != nil {
		activity.GetLogger(ctx).Error("could not record request status", "request_id", in.RequestID, "status", to, "error", err)
	}
}

func (a *Activities) skip(ctx context.Context, in SendInput, subject string, reads []registry.Entry, reason string) (SendResult, error) {
	err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		if err := a.moveTo(ctx, tx, in, store.StatusSkipped, reason, []string{pending(in.Kind)}); err != nil {
			return err
		}
		if subject != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE review_requests SET subject = $2 WHERE request_id = $1`, in.RequestID, subject); err != nil {
				return err
			}
		}
		if len(reads) > 0 {
			_, err := registry.Append(ctx, tx, a.now(), reads...)
			return err
		}
		return nil
	})
	if err != nil {
		return SendResult{}, fmt.Errorf("record skip: %w", err)
	}
	return SendResult{Status: store.StatusSkipped, Reason: reason}, nil
}

// message renders the email: order name, products, links. Nothing else.
// Review links live for the shop's review_links period, and never longer
// than the request row.
func (a *Activities) message(shop store.Shop, req store.Request, products []store.Product, reminder bool, linkLife time.Duration) (sendgrid.Message, error) {
	now := a.now()
	linkExpires := now.Add(linkLife)
	if req.ExpiresAt.Before(linkExpires) {
		linkExpires = req.ExpiresAt
	}
	c := emailContent{OrderName: req.OrderName, Reminder: reminder}
	for _, p := range products {
		tok := a.Keys.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop.Domain, RequestID: req.RequestID,
			ProductID: p.ID, Expires: linkExpires.Unix()})
		c.Products = append(c.Products, emailProduct{Title: p.Title, Link: a.PublicURL + "/r/" + tok})
	}
	unsub := a.PublicURL + "/u/" + a.Keys.SignLink(keys.Link{Kind: keys.LinkUnsubscribe, Shop: shop.Domain,
		RequestID: req.RequestID, Expires: now.Add(UnsubscribeLife).Unix()})
	c.Unsubscribe = unsub
	text, html, err := render(c)
	if err != nil {
		return sendgrid.Message{}, err
	}
	return sendgrid.Message{
		RequestID: req.RequestID, Subject: subjectLine(shop.Subject, req.OrderName, reminder),
		Text: text, HTML: html, UnsubscribeURL: unsub,
	}, nil
}

// ReviewURL fills a shop's review-destination template for one product.
func ReviewURL(tmpl, shop string, p store.Product) string {
	handle := p.Handle
	if handle == "" {
		handle = strconv.FormatInt(p.ID, 10)
	}
	return strings.NewReplacer("{shop}", shop, "{product_id}", strconv.FormatInt(p.ID, 10),
		"{handle}", url.PathEscape(handle)).Replace(tmpl)
}

// skipReason says why a suppressed customer is skipped, from the reason the
// suppression list keeps, so the merchant sees a bounce as a bounce.
func skipReason(suppression string) string {
	switch suppression {
	case sendgrid.SuppressBounced, sendgrid.SuppressInvalid:
		return ReasonUndeliverable
	case sendgrid.SuppressSpamReport:
		return ReasonSpamReport
	case "erasure":
		return ReasonErased
	}
	return ReasonUnsubscribed // the link, the mail client's one-click, SendGrid's unsubscribe
}
