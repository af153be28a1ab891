package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/locale"
	"github.com/candorhq/candor/pacing"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/shoptoken"
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
	Reason review.Reason
}

// statusOf reads the status and reason fields for kind.
func statusOf(r store.Request, kind string) string {
	s, _ := outcomeOf(r, kind)
	return s
}

func outcomeOf(r store.Request, kind string) (status string, reason review.Reason) {
	if kind == KindReminder {
		return r.ReminderStatus, review.Reason(r.ReminderReason)
	}
	return r.Status, review.Reason(r.Reason)
}

// SendReviewRequest re-checks eligibility against Shopify and the suppression
// list, reads the recipient just in time, and sends one email. It is
// idempotent and sends at most once per kind: a retry after an attempt whose
// outcome is unknown gives up rather than risk a second email.
//
// Each step either hands the send on to the next or ends it (docs/sending.md
// tells the whole story).
func (a *Activities) SendReviewRequest(ctx context.Context, in SendInput) (SendResult, error) {
	return sent(ctx, in.Kind)(a.sendReviewRequest(ctx, in))
}

func (a *Activities) sendReviewRequest(ctx context.Context, in SendInput) (SendResult, error) {
	defer heartbeat(ctx)()
	p := &sendPlan{in: in}
	for _, step := range []func(context.Context, *sendPlan) (SendResult, bool, error){
		a.resumeRequest, // the request's state: settled, or an earlier attempt's unknown outcome
		a.eligibility,   // the shop, the order's status in Shopify, exclusions
		a.compose,       // the recipient, read just in time, and the email
		a.awaitMailSlot, // a place within the SendGrid account's rate, before anything says "sending"
		a.writeAhead,    // "sending" and the registry, under the row lock, before the address leaves
	} {
		if res, done, err := step(ctx, p); done {
			return res, err
		}
	}
	return a.sendAndFinish(ctx, p)
}

// sendPlan is what SendReviewRequest's steps learn and hand on. It lives
// for one attempt and is never returned: it holds the recipient's address.
type sendPlan struct {
	in          SendInput
	req         store.Request
	shop        store.Shop
	admin       *shopify.Admin
	subject     string
	now         time.Time
	statusReads []registry.Entry // the order status's reads: customer ID and marketing preferences
	products    []store.Product
	addressKey  string
	msg         sendgrid.Message
	emailRead   registry.Entry
	langReads   []registry.Entry // the customer's locale, when Shopify had one
	transmit    registry.Entry
	proof       registry.Proof
}

// A step's ways out: go on to the next step, end with a result, or fail.
func next() (SendResult, bool, error)                       { return SendResult{}, false, nil }
func end(r SendResult, err error) (SendResult, bool, error) { return r, true, err }
func fail(err error) (SendResult, bool, error)              { return SendResult{}, true, err }

// read is the registry entry for one datum this send reads from Shopify.
func (p *sendPlan) read(datum string) registry.Entry {
	return registry.Entry{Shop: p.in.Shop, Subject: p.subject, Datum: datum, System: registry.SystemShopify,
		Action: registry.ActionRead, Purpose: registry.PurposeReviewRequest,
		LegalBasis: registry.BasisLegitimateInterest, ExpiresAt: p.now, Ref: p.in.RequestID}
}

// resumeRequest loads the request and ends the send when its kind is
// already settled, or when an earlier attempt's outcome is unknown.
func (a *Activities) resumeRequest(ctx context.Context, p *sendPlan) (SendResult, bool, error) {
	in := p.in
	req, err := a.DB.Request(ctx, in.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return end(SendResult{Status: store.StatusSkipped, Reason: review.ReasonRequestErased}, nil)
	}
	if err != nil {
		return fail(fmt.Errorf("load request: %w", err))
	}
	if done, ok := settled(req, in.Kind); ok {
		return end(done, nil)
	}
	if statusOf(req, in.Kind) == store.StatusSending {
		// A previous attempt moved the request to sending, so the address
		// may have reached SendGrid (the worker died, or lost the answer).
		// Sending again could duplicate the email; not sending loses at
		// most one. It is recorded as what it is: sent, unconfirmed.
		activity.GetLogger(ctx).Warn("previous send attempt has an unknown outcome; not retrying", "request_id", in.RequestID, "kind", in.Kind)
		a.finish(ctx, in, store.StatusSentUnconfirmed, review.ReasonOutcomeUnknown, []string{store.StatusSending})
		return end(SendResult{Status: store.StatusSentUnconfirmed, Reason: review.ReasonOutcomeUnknown}, nil)
	}
	p.req = req
	return next()
}

// eligibility reads the order's status from Shopify just in time and ends
// the send, as a skip, when the shop is gone, every product is excluded, or
// the order no longer qualifies.
func (a *Activities) eligibility(ctx context.Context, p *sendPlan) (SendResult, bool, error) {
	in := p.in
	shop, err := a.DB.Shop(ctx, in.Shop)
	if errors.Is(err, store.ErrNotFound) {
		return end(a.skip(ctx, in, "", nil, review.ReasonShopDisconnected))
	}
	if err != nil {
		return fail(fmt.Errorf("load shop: %w", err))
	}
	admin, err := a.shopAdmin(ctx, shop)
	if errors.Is(err, shoptoken.ErrDisconnected) {
		// Only a reinstall helps: an explicit outcome, not a day of retries.
		return end(a.skip(ctx, in, "", nil, review.ReasonShopDisconnected))
	}
	if err != nil {
		return fail(temporalError(err))
	}
	p.shop, p.admin = shop, admin

	st, err := admin.OrderStatus(ctx, in.OrderID)
	if err != nil {
		return fail(temporalError(err))
	}
	if st.CustomerID != 0 {
		p.subject = a.Keys.Subject(in.Shop, st.CustomerID)
	} else if st.Found {
		p.subject = a.Keys.GuestSubject(in.Shop, in.OrderID)
	}
	p.now = a.now()
	p.statusReads = []registry.Entry{p.read(registry.DatumCustomerID), p.read(registry.DatumMarketingPrefs)}

	products, err := p.req.Products()
	if err != nil {
		return fail(err)
	}
	for i := range products {
		if h, ok := st.ProductHandles[products[i].ID]; ok {
			products[i].Handle = h
		}
	}

	// Excluded products are left out of the email; with none left there is
	// nothing to ask about. Tags are read just in time, like handles, so a
	// tag added after the order still counts.
	p.products = included(shop.Settings, products, st.ProductTags)
	if len(p.products) == 0 {
		return end(a.skip(ctx, in, p.subject, p.statusReads, review.ReasonExcluded))
	}

	reason, err := a.ineligible(ctx, shop, st, p.subject, in)
	if err != nil {
		return fail(err)
	}
	if reason != "" {
		if reason == review.ReasonOrderNotFound {
			p.statusReads = nil // nothing about a person was read
		}
		return end(a.skip(ctx, in, p.subject, p.statusReads, reason))
	}
	if in.Kind == KindFirst {
		if p.products, err = a.capProducts(ctx, shop, p); err != nil {
			return fail(err)
		}
		if len(p.products) == 0 {
			return end(a.skip(ctx, in, p.subject, p.statusReads, review.ReasonCapProducts))
		}
	}
	return next()
}

// capProducts applies the shop's product caps to a first email: products
// already asked about in an email to this customer (by pseudonym) within
// store.CapProductWindow are left out, and at most MaxProducts remain, in
// the order's order.
func (a *Activities) capProducts(ctx context.Context, shop store.Shop, p *sendPlan) ([]store.Product, error) {
	products := p.products
	if shop.ProductOnce {
		asked, err := store.ProductsAskedSince(ctx, a.DB, p.in.Shop, p.in.RequestID, p.subject, p.now.Add(-store.CapProductWindow))
		if err != nil {
			return nil, err
		}
		products = slices.DeleteFunc(slices.Clone(products), func(x store.Product) bool { return asked[x.ID] })
	}
	if max := shop.MaxProducts; max > 0 && len(products) > max {
		products = products[:max]
	}
	return products, nil
}

// compose reads the shop's profile and the recipient from Shopify just in
// time, and renders the email and the registry entries its send writes.
func (a *Activities) compose(ctx context.Context, p *sendPlan) (SendResult, bool, error) {
	in, shop := p.in, p.shop
	// The shop's name and contact address, just in time: the email comes
	// from Candor's sender in the shop's name, and replies go to the shop.
	profile, err := p.admin.ShopProfile(ctx)
	if err != nil {
		return fail(temporalError(err))
	}
	if store.CheckReviewHost(shop.ReviewURL, shop.Domain, profile.Hosts()) != nil {
		return end(a.skip(ctx, in, p.subject, p.statusReads, review.ReasonReviewURLRefused))
	}
	ad, err := p.admin.Addressee(ctx, in.OrderID)
	if err != nil {
		return fail(temporalError(err))
	}
	basis := registry.BasisLegitimateInterest
	if shop.ConsentRequired() {
		basis = registry.BasisConsent
	}
	if ad.Locale != "" {
		// Read with the address, to write in the customer's language.
		p.langReads = []registry.Entry{p.read(registry.DatumLanguage)}
		p.langReads[0].LegalBasis = basis
	}
	to := strings.TrimSpace(ad.Email) // as typed at checkout; SendGrid refuses surrounding space
	if to == "" {
		return end(a.skip(ctx, in, p.subject, slices.Concat(p.statusReads, p.langReads), review.ReasonNoEmail))
	}
	// The address's own key: an objection made from any earlier order with
	// it (a guest checkout's too) holds for this one.
	p.addressKey = a.Keys.AddressKey(in.Shop, to)

	ov, err := a.DB.Overrides(ctx, in.Shop)
	if err != nil {
		return fail(err)
	}
	// The customer's language, read just in time with the address and,
	// like it, kept only in this attempt's memory: the order's customer
	// locale, else the shop's primary locale, else English.
	lang := locale.Match(ad.Locale, profile.PrimaryLocale)
	wordings, err := store.EmailWording(ctx, a.DB, in.Shop)
	if err != nil {
		return fail(err)
	}
	msg, err := a.message(shop, review.ShopWording(shop, wordings, lang), lang, p.req, p.products, in.Kind == KindReminder, ov.Keep(retention.ReviewLinks))
	if err != nil {
		return fail(err)
	}
	msg.To, msg.FromName, msg.ReplyTo = to, profile.Name, profile.Contact()
	p.msg = msg

	p.emailRead = p.read(registry.DatumEmail)
	p.emailRead.LegalBasis = basis
	p.transmit = registry.Entry{Shop: in.Shop, Subject: p.subject, Datum: registry.DatumEmail, System: registry.SystemSendGrid,
		Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest, LegalBasis: basis,
		ExpiresAt: p.now.Add(ov.Keep(retention.SendGridActivity)), Ref: in.RequestID}
	return next()
}

// awaitMailSlot waits for the SendGrid account's budget to cover one Mail
// Send call, so a window's worth of requests going out together reach
// SendGrid at its rate rather than as 429s. It waits before writeAhead: an
// attempt lost while waiting leaves the request pending, not "sending"
// (whose retry could only record the outcome as unknown). A wait longer
// than the activity may take is an error Temporal retries after it.
func (a *Activities) awaitMailSlot(ctx context.Context, p *sendPlan) (SendResult, bool, error) {
	if a.Pace == nil {
		return next()
	}
	if err := a.Pace.Wait(ctx, PaceKeySendGrid, 1, a.MailBudget); err != nil {
		var we *pacing.WaitError
		if errors.As(err, &we) {
			return fail(temporal.NewApplicationErrorWithOptions(err.Error(), review.ErrSendGridRetry, temporal.ApplicationErrorOptions{NextRetryDelay: we.Wait}))
		}
		return fail(err)
	}
	return next()
}

// writeAhead moves the request to "sending" and records the transmission
// before the address leaves for SendGrid. The proof returned by the
// registry is what the mailer demands.
func (a *Activities) writeAhead(ctx context.Context, p *sendPlan) (SendResult, bool, error) {
	in := p.in
	var suppressedFor string // the suppression list's reason, when errSuppressed
	err := a.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		locked, err := store.LockRequest(ctx, tx, in.RequestID)
		if err != nil {
			return err
		}
		if statusOf(locked, in.Kind) != pending(in.Kind) {
			return errConcurrent
		}
		// Again under the row lock: a redact or unsubscribe that committed
		// since the check above must win over this send.
		why, err := store.Suppression(ctx, tx, in.Shop, p.subject, p.addressKey)
		if err != nil {
			return err
		}
		if why != "" {
			suppressedFor = why
			return errSuppressed
		}
		if max := p.shop.MaxEmails; max > 0 && in.Kind == KindFirst {
			// One customer's sends decide one at a time, so two orders
			// cannot both take the last place.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "candor-cap:"+in.Shop+"/"+p.subject); err != nil {
				return err
			}
			n, err := store.EmailsSince(ctx, tx, in.Shop, in.RequestID, p.now.Add(-store.CapEmailsWindow), p.subject, p.addressKey)
			if err != nil {
				return err
			}
			if n >= max {
				return errCapped
			}
		}
		if err := a.moveTo(ctx, tx, in, store.StatusSending, "", []string{pending(in.Kind)}); err != nil {
			return err
		}
		if err := store.SetSubjectAndProducts(ctx, tx, in.RequestID, p.subject, p.products); err != nil {
			return err
		}
		if err := store.SetAddressKey(ctx, tx, in.RequestID, p.addressKey); err != nil {
			return err
		}
		p.proof, err = registry.Append(ctx, tx, p.now, slices.Concat(p.statusReads, []registry.Entry{p.emailRead}, p.langReads, []registry.Entry{p.transmit})...)
		return err
	})
	if errors.Is(err, errConcurrent) {
		return end(SendResult{Status: store.StatusSkipped, Reason: review.ReasonAlreadySent}, nil)
	}
	if errors.Is(err, errCapped) {
		// The address was read (its key counts the guest's emails too).
		return end(a.skip(ctx, in, p.subject, slices.Concat(p.statusReads, []registry.Entry{p.emailRead}, p.langReads), review.ReasonCapEmails))
	}
	if errors.Is(err, errSuppressed) {
		// The address was read (its key is what may have matched).
		return end(a.skip(ctx, in, p.subject, slices.Concat(p.statusReads, []registry.Entry{p.emailRead}, p.langReads), skipReason(suppressedFor)))
	}
	if errors.Is(err, store.ErrNotFound) {
		return end(SendResult{Status: store.StatusSkipped, Reason: review.ReasonRequestErased}, nil)
	}
	if err != nil {
		return fail(fmt.Errorf("record send: %w", err))
	}
	return next()
}

// sendAndFinish hands the email to SendGrid and records the outcome: sent,
// sent unconfirmed (SendGrid's answer was lost: no retry), failed, or back
// to pending when SendGrid surely did not accept it.
func (a *Activities) sendAndFinish(ctx context.Context, p *sendPlan) (SendResult, error) {
	in, log := p.in, activity.GetLogger(ctx)
	messageID, err := a.Mailer.Send(ctx, p.proof, p.msg)
	p.msg.To = ""
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
			if err := a.moveTo(ctx, a.DB, in, store.StatusSentUnconfirmed, review.ReasonOutcomeUnknown, []string{store.StatusSending}); err != nil {
				return SendResult{}, fmt.Errorf("mark sent, unconfirmed: %w", err)
			}
			return SendResult{Status: store.StatusSentUnconfirmed, Reason: review.ReasonOutcomeUnknown}, nil
		case !ge.Retryable:
			reason := review.ReasonRejected + "_" + review.Reason(strconv.Itoa(ge.Status))
			if ge.SenderUnverified {
				reason = review.ReasonSenderUnverified
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
	errCapped     = errors.New("customer had the most emails allowed")
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
		return SendResult{Status: store.StatusSkipped, Reason: review.ReasonNotSent}, true
	}
	status, reason := outcomeOf(r, kind)
	switch status {
	case store.StatusSent:
		return SendResult{Status: store.StatusSent, Reason: review.ReasonAlreadySent}, true
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
func (a *Activities) ineligible(ctx context.Context, shop store.Shop, st shopify.OrderStatus, subject string, in SendInput) (review.Reason, error) {
	switch {
	case !st.Found:
		return review.ReasonOrderNotFound, nil
	case st.Cancelled:
		return review.ReasonCancelled, nil
	case st.Refunded:
		return review.ReasonRefunded, nil
	}
	why, err := store.Suppression(ctx, a.DB, in.Shop, subject)
	if err != nil {
		return "", fmt.Errorf("read suppression list: %w", err)
	}
	switch {
	case why != "":
		return skipReason(why), nil
	case shop.ConsentRequired() && st.MarketingState != shopify.MarketingSubscribed:
		return review.ReasonNoConsent, nil
	case st.MarketingState == shopify.MarketingUnsubscribed:
		// Even where consent is not required, an explicit opt-out from the
		// shop's email is respected.
		return review.ReasonOptedOut, nil
	}
	return "", nil
}

func (a *Activities) moveTo(ctx context.Context, ex sqlx.ExecerContext, in SendInput, to string, reason review.Reason, from []string) error {
	var err error
	if in.Kind == KindReminder {
		_, err = store.TransitionReminder(ctx, ex, in.RequestID, from, to, string(reason))
	} else {
		_, err = store.Transition(ctx, ex, in.RequestID, from, to, string(reason))
	}
	return err
}

// finish records a final status, logging rather than failing if it cannot:
// the outcome is already decided.
func (a *Activities) finish(ctx context.Context, in SendInput, to string, reason review.Reason, from []string) {
	if err := a.moveTo(ctx, a.DB, in, to, reason, from); err != nil {
		activity.GetLogger(ctx).Error("could not record request status", "request_id", in.RequestID, "status", to, "error", err)
	}
}

func (a *Activities) skip(ctx context.Context, in SendInput, subject string, reads []registry.Entry, reason review.Reason) (SendResult, error) {
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

// message renders the email in lang with the shop's wording w: order name,
// products, links. Nothing else.
// Review links live for the shop's review_links period, and never longer
// than the request row.
func (a *Activities) message(shop store.Shop, w store.Wording, lang string, req store.Request, products []store.Product, reminder bool, linkLife time.Duration) (sendgrid.Message, error) {
	now := a.now()
	linkExpires := now.Add(linkLife)
	if req.ExpiresAt.Before(linkExpires) {
		linkExpires = req.ExpiresAt
	}
	c := review.Content{Lang: lang, OrderName: req.OrderName, Reminder: reminder, ObjectionNotice: shop.ConsentMode == store.ConsentSoftOptIn}
	for _, p := range products {
		tok := a.Keys.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop.Domain, RequestID: req.RequestID,
			ProductID: p.ID, Expires: linkExpires.Unix()})
		c.Products = append(c.Products, review.Product{Title: p.Title, Link: a.PublicURL + "/r/" + tok})
	}
	unsub := a.PublicURL + "/u/" + a.Keys.SignLink(keys.Link{Kind: keys.LinkUnsubscribe, Shop: shop.Domain,
		RequestID: req.RequestID, Expires: now.Add(UnsubscribeLife).Unix()})
	c.Unsubscribe = unsub
	e, err := review.Render(w, c)
	if err != nil {
		return sendgrid.Message{}, err
	}
	return sendgrid.Message{
		RequestID: req.RequestID, Subject: e.Subject,
		Text: e.Text, HTML: e.HTML, UnsubscribeURL: unsub,
	}, nil
}

// skipReason says why a suppressed customer is skipped, from the reason the
// suppression list keeps, so the merchant sees a bounce as a bounce.
func skipReason(suppression string) review.Reason {
	switch suppression {
	case sendgrid.SuppressBounced, sendgrid.SuppressInvalid:
		return review.ReasonUndeliverable
	case sendgrid.SuppressSpamReport:
		return review.ReasonSpamReport
	case "erasure":
		return review.ReasonErased
	}
	return review.ReasonUnsubscribed // the link, the mail client's one-click, SendGrid's unsubscribe
}
