package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/registry"
	"github.com/candorhq/candor/retention"
	"github.com/candorhq/candor/store"
)

// The merchant pages under /app: server-rendered, usable without
// JavaScript. They show settings and review requests, which hold no
// customer data: order names, product titles, statuses and times, never a
// customer's address, name or ID, so viewing them is not a registry touch.

// appPage is what every page template gets.
type appPage struct {
	Title  string
	Shop   string
	CSRF   string
	Nav    string // the current section, for aria-current
	Notice string // a status message after an action
	Error  string // a page-level error
	Data   any
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p appPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := appTemplates.ExecuteTemplate(w, name, p); err != nil {
		s.Logger.Error("render app page", "page", name, "error", err)
	}
}

func (s *Server) appError(w http.ResponseWriter, status int, title, msg string) {
	s.render(w, status, "message", appPage{Title: title, Error: msg})
}

// --- overview ---------------------------------------------------------------

type overviewData struct {
	ConnectedSince string
	Token          string
	TokenOK        bool
	Counts         map[string]int
	Window         string
	Sender         string
	Refused        *senderRefusal
}

// senderRefusal is SendGrid's refusal of the sender address, shown once on
// /app however many requests it failed, until an email goes out again.
type senderRefusal struct {
	Requests int
	Latest   string
}

// senderRefusedText says what SendGrid's refusal of the sender means for the
// merchant, and who can fix it.
func senderRefusedText(sender string) string {
	return "SendGrid refused to send as " + sender + ": it is not a verified sender of Candor's SendGrid account. " +
		"Nothing was sent, and refused review requests are not retried. Candor's operator must verify the sender " +
		"(SendGrid: Settings, Sender Authentication); new review requests go out once that is done."
}

// senderRefusalSQL counts the requests SendGrid refused for the sender
// address since the shop's last sent email.
const senderRefusalSQL = `
SELECT count(*) AS n, max(updated_at) AS latest FROM review_requests
WHERE shop = $1 AND (reason = $2 OR reminder_reason = $2)
  AND updated_at > coalesce((SELECT max(greatest(sent_at, reminder_sent_at)) FROM review_requests WHERE shop = $1), '-infinity')`

func (s *Server) appOverview(w http.ResponseWriter, r *http.Request, m merchantSession) {
	s.showOverview(w, r, m, http.StatusOK, r.URL.Query().Get("notice"), "")
}

var notices = map[string]string{
	"test-sent": "Test email sent. It can take a minute to arrive.",
	"saved":     "Settings saved. Requests already waiting pick up the new delay, fallback and send window within 6 hours; a new reminder setting applies to new requests.",
}

func (s *Server) showOverview(w http.ResponseWriter, r *http.Request, m merchantSession, status int, notice, errMsg string) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your shop.")
		return
	}
	d := overviewData{ConnectedSince: shop.CreatedAt.UTC().Format("2 January 2006"), Counts: map[string]int{},
		Window: windowText(shop.Settings)}
	switch {
	case shop.TokenSealed == "":
		d.Token = "missing: the app was uninstalled or the token revoked. Reconnect the shop to send review requests."
	default:
		if _, err := s.Keys.Open(shop.TokenSealed, shop.Domain); err != nil {
			d.Token = "present, but it cannot be opened with the current key. Reconnect the shop."
		} else {
			d.Token, d.TokenOK = "present, sealed at rest", true
		}
	}
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.DB.SelectContext(r.Context(), &rows, `SELECT status, count(*) AS n FROM review_requests WHERE shop = $1 GROUP BY status`, m.Shop); err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your review requests.")
		return
	}
	for _, row := range rows {
		d.Counts[row.Status] = row.N
	}
	var refused struct {
		N      int        `db:"n"`
		Latest *time.Time `db:"latest"`
	}
	if err := s.DB.GetContext(r.Context(), &refused, senderRefusalSQL, m.Shop, activities.ReasonSenderUnverified); err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your review requests.")
		return
	}
	if refused.N > 0 && refused.Latest != nil {
		d.Refused = &senderRefusal{Requests: refused.N, Latest: refused.Latest.UTC().Format("2 Jan 2006 15:04 MST")}
	}
	if s.Mailer != nil {
		d.Sender = s.Mailer.Sender()
	}
	s.render(w, status, "overview", appPage{Title: "Overview", Shop: m.Shop, CSRF: m.csrf(), Nav: "overview",
		Notice: notices[notice], Error: errMsg, Data: d})
}

func windowText(st store.Settings) string {
	if !st.HasWindow() {
		return "any time of day"
	}
	tz := st.TimeZone
	if tz == "" {
		tz = "the shop's time zone"
	}
	return fmt.Sprintf("between %s and %s, %s", store.FormatClock(st.WindowStart), store.FormatClock(st.WindowEnd), tz)
}

// --- settings ---------------------------------------------------------------

// settingsForm is the form's text, as typed, and the errors by field.
type settingsForm struct {
	Values map[string]string
	Errors map[string]string
	Order  []string      // fields with errors, in form order, for the summary
	Keep   time.Duration // the review_requests period typed; 0 leaves it as it is
}

var fieldLabels = map[string]string{
	"delay": "Delay after delivery", "fallback_delay": "Fallback after fulfillment", "reminder": "Reminder",
	"consent_required": "Consent", "review_url": "Review destination",
	"subject": "Subject", "window_start": "Window opens", "window_end": "Window closes", "time_zone": "Time zone",
	"excluded_products": "Excluded product IDs", "excluded_tags": "Excluded product tags",
	store.KeepRequestsField: "Keep review requests",
}

var formOrder = []string{"delay", "fallback_delay", "reminder", store.KeepRequestsField, "consent_required", "review_url", "subject",
	"window_start", "window_end", "time_zone", "excluded_products", "excluded_tags"}

func formFromSettings(st store.Settings) settingsForm {
	ids := make([]string, len(st.ExcludedProducts))
	for i, id := range st.ExcludedProducts {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return settingsForm{Errors: map[string]string{}, Values: map[string]string{
		"delay": config.FormatDuration(st.Delay), "fallback_delay": config.FormatDuration(st.FallbackDelay), "reminder": config.FormatDuration(st.Reminder),
		"consent_required": strconv.FormatBool(st.ConsentRequired), "review_url": st.ReviewURL,
		"subject": st.Subject, "window_start": store.FormatClock(st.WindowStart), "window_end": store.FormatClock(st.WindowEnd),
		"time_zone": st.TimeZone, "excluded_products": strings.Join(ids, ", "), "excluded_tags": strings.Join(st.ExcludedTags, ", "),
	}}
}

// parseSettingsForm reads the form into st, collecting an error per field.
func parseSettingsForm(r *http.Request, st *store.Settings) settingsForm {
	f := settingsForm{Values: map[string]string{}, Errors: map[string]string{}}
	for _, k := range formOrder {
		f.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	dur := func(field string, dst *time.Duration) {
		if strings.HasPrefix(f.Values[field], "-") {
			f.Errors[field] = "Delays must not be negative."
			return
		}
		d, err := config.ParseDuration(f.Values[field])
		if err != nil {
			f.Errors[field] = fmt.Sprintf("%q is not a duration: use a number with s, m, h or d, for example 7d or 36h.", f.Values[field])
			return
		}
		*dst = d
	}
	dur("delay", &st.Delay)
	dur("fallback_delay", &st.FallbackDelay)
	dur("reminder", &st.Reminder)
	if f.Values[store.KeepRequestsField] != "" { // absent: the period stays
		dur(store.KeepRequestsField, &f.Keep)
	}
	switch f.Values["consent_required"] {
	case "true", "false":
		st.ConsentRequired = f.Values["consent_required"] == "true"
	default:
		f.Errors["consent_required"] = "Choose whether consent is required."
	}
	st.ReviewURL, st.Subject, st.TimeZone = f.Values["review_url"], f.Values["subject"], f.Values["time_zone"]
	clock := func(field string, dst *int) {
		m, err := store.ParseClock(f.Values[field])
		if err != nil {
			f.Errors[field] = fmt.Sprintf("%q is not a time of day: use HH:MM, for example 09:00.", f.Values[field])
			return
		}
		*dst = m
	}
	clock("window_start", &st.WindowStart)
	clock("window_end", &st.WindowEnd)
	st.ExcludedProducts = nil
	for _, p := range store.SplitList(f.Values["excluded_products"]) {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			f.Errors["excluded_products"] = fmt.Sprintf("%q is not a product ID: use the numbers from the product's admin URL, separated by commas.", p)
			break
		}
		st.ExcludedProducts = append(st.ExcludedProducts, id)
	}
	st.ExcludedTags = store.SplitList(f.Values["excluded_tags"])
	for _, p := range st.Problems() {
		if _, seen := f.Errors[p.Field]; !seen {
			f.Errors[p.Field] = p.Msg
		}
	}
	f.sort()
	return f
}

// add records a field's problem unless it already has one.
func (f *settingsForm) add(p *store.FieldError) {
	if _, seen := f.Errors[p.Field]; !seen {
		f.Errors[p.Field] = p.Msg
	}
	f.sort()
}

// sort lists the fields with errors in form order, for the summary.
func (f *settingsForm) sort() {
	f.Order = f.Order[:0]
	for _, k := range formOrder {
		if f.Errors[k] != "" {
			f.Order = append(f.Order, k)
		}
	}
}

// shopify is the Admin API path the merchant pages use: the activities'
// refresh-aware one.
func (s *Server) shopify() *activities.Activities {
	return &activities.Activities{DB: s.DB, Keys: s.Keys, Shopify: s.Shopify, OAuth: s.OAuth, Now: s.Now}
}

func (s *Server) appSettings(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your settings.")
		return
	}
	ov, err := s.DB.Overrides(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your settings.")
		return
	}
	f := formFromSettings(shop.Settings)
	f.Values[store.KeepRequestsField] = config.FormatDuration(ov.Keep(retention.ReviewRequests))
	s.render(w, http.StatusOK, "settings", appPage{Title: "Settings", Shop: m.Shop, CSRF: m.csrf(), Nav: "settings",
		Notice: notices[r.URL.Query().Get("notice")], Data: f})
}

func (s *Server) appSettingsPost(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your settings.")
		return
	}
	st := shop.Settings
	f := parseSettingsForm(r, &st)
	// A review destination on a domain of the shop's own is checked against
	// the domains Shopify reports for it now.
	var hosts []string
	if f.Errors["review_url"] == "" && store.ReviewHostNeedsShop(st.ReviewURL, m.Shop) {
		p, err := s.shopify().ShopProfile(r.Context(), shop)
		if err != nil {
			s.Logger.Warn("could not read the shop's domains", "shop", m.Shop, "error", err)
			s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not ask Shopify for your shop's domains, to check the review destination. Nothing was saved.")
			return
		}
		hosts = p.Hosts()
	}
	var fe *store.FieldError
	if err := store.CheckReviewHost(st.ReviewURL, m.Shop, hosts); errors.As(err, &fe) {
		f.add(fe)
	}
	// Nothing is saved: the form comes back with what was typed and each
	// problem next to its field.
	refuse := func() {
		s.render(w, http.StatusUnprocessableEntity, "settings", appPage{Title: "Settings", Shop: m.Shop, CSRF: m.csrf(),
			Nav: "settings", Error: "Nothing was saved. Please correct the fields below.", Data: f})
	}
	if len(f.Order) > 0 {
		refuse()
		return
	}
	// The timing and the review_requests period are checked together: a
	// change that lets a waiting request expire is refused, next to the
	// field that changed.
	if err := s.DB.SaveSettings(r.Context(), m.Shop, st, f.Keep, hosts...); errors.As(err, &fe) {
		f.Errors[fe.Field], f.Order = fe.Msg, []string{fe.Field}
		refuse()
		return
	} else if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not save your settings.")
		return
	}
	s.Logger.Info("shop settings changed", "shop", m.Shop)
	http.Redirect(w, r, "/app/settings?notice=saved", http.StatusSeeOther)
}

// --- recent review requests -------------------------------------------------

type requestRow struct {
	OrderName string
	Products  []string
	Status    string
	Reason    string
	Planned   string
	Sent      string
	Reminder  string
	Created   string
}

var reasonText = map[string]string{
	activities.ReasonAlreadySent: "already sent", activities.ReasonOutcomeUnknown: "SendGrid may have accepted it but never confirmed; it is not sent again",
	activities.ReasonRequestErased: "erased", activities.ReasonOrderNotFound: "order not found in Shopify",
	activities.ReasonCancelled: "order cancelled", activities.ReasonRefunded: "order refunded",
	activities.ReasonUnsubscribed: "customer unsubscribed", activities.ReasonUndeliverable: "address bounced or invalid",
	activities.ReasonSpamReport: "customer reported an earlier email as spam", activities.ReasonErased: "customer's data erased",
	activities.ReasonNoConsent: "no email-marketing consent",
	activities.ReasonOptedOut:  "customer opted out of marketing", activities.ReasonNoEmail: "order has no email address",
	activities.ReasonNotSent: "first email was not sent", activities.ReasonExcluded: "all products excluded",
	"shop_disconnected": "shop disconnected", "send_failed": "sending failed", "stopped": "stopped",
	activities.ReasonSenderUnverified: "SendGrid refused the sender address (not a verified sender); not retried",
	activities.ReasonReviewURLRefused: "review destination is not on your shop's domains or a review platform",
}

// statusText names the statuses that read badly as codes.
var statusText = map[string]string{store.StatusSentUnconfirmed: "sent, unconfirmed"}

func statusLabel(code string) string {
	if t, ok := statusText[code]; ok {
		return t
	}
	return code
}

func (s *Server) appRequests(w http.ResponseWriter, r *http.Request, m merchantSession) {
	shop, err := s.DB.Shop(r.Context(), m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your shop.")
		return
	}
	loc := time.UTC
	if shop.TimeZone != "" {
		if l, err := time.LoadLocation(shop.TimeZone); err == nil {
			loc = l
		}
	}
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(loc).Format("2 Jan 2006 15:04 MST")
	}
	reqs, err := s.DB.RecentRequests(r.Context(), m.Shop, 50)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your review requests.")
		return
	}
	rows := make([]requestRow, 0, len(reqs))
	for _, q := range reqs {
		row := requestRow{OrderName: q.OrderName, Status: statusLabel(q.Status), Reason: reason(q.Reason),
			Sent: stamp(q.SentAt), Created: stamp(&q.CreatedAt)}
		if q.Status == store.StatusScheduled || q.Status == store.StatusSending {
			row.Planned = stamp(q.SendAt)
		}
		if q.ReminderStatus != "" {
			row.Reminder = statusLabel(q.ReminderStatus)
			if q.ReminderReason != "" {
				row.Reminder += " (" + reason(q.ReminderReason) + ")"
			}
		}
		if ps, err := q.Products(); err == nil {
			for _, p := range ps {
				row.Products = append(row.Products, p.Title)
			}
		}
		rows = append(rows, row)
	}
	s.render(w, http.StatusOK, "requests", appPage{Title: "Recent review requests", Shop: m.Shop, CSRF: m.csrf(),
		Nav: "requests", Data: map[string]any{"Rows": rows, "Zone": loc.String()}})
}

func reason(code string) string {
	if t, ok := reasonText[code]; ok {
		return t
	}
	return strings.ReplaceAll(code, "_", " ")
}

// --- test email -------------------------------------------------------------

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
		s.showOverview(w, r, m, http.StatusUnprocessableEntity, "", "Choose your shop's owner or contact address in Shopify to send the test email to.")
		return
	}
	if s.Mailer == nil {
		s.showOverview(w, r, m, http.StatusServiceUnavailable, "", "This server has no mailer configured (SENDGRID_API_KEY).")
		return
	}
	ctx := r.Context()
	shop, err := s.DB.Shop(ctx, m.Shop)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not load your shop.")
		return
	}
	profile, err := s.shopify().ShopProfile(ctx, shop)
	if err != nil {
		s.Logger.Warn("could not read the shop's addresses", "shop", m.Shop, "error", err)
		s.showOverview(w, r, m, http.StatusServiceUnavailable, "", "Could not ask Shopify for your shop's address; nothing was sent. Try again.")
		return
	}
	to := profile.Email
	if which == TestToContact {
		to = profile.ContactEmail
	}
	if to == "" {
		s.showOverview(w, r, m, http.StatusUnprocessableEntity, "", "Your shop has no such address in Shopify (Settings › General); nothing was sent.")
		return
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	ref := "test_" + hex.EncodeToString(b)
	msg, err := activities.TestEmail(shop, profile, ref, s.PublicURL)
	if err != nil {
		s.appError(w, http.StatusInternalServerError, "Could not build the email", "The email template could not be rendered.")
		return
	}
	now := s.now()
	var proof registry.Proof
	if err := s.DB.InTx(ctx, func(tx *sqlx.Tx) error {
		// A few an hour: enough to try settings, too few to relay spam.
		var recent int
		if err := tx.GetContext(ctx, &recent, `SELECT count(*) FROM registry_entries
			WHERE shop = $1 AND system = 'sendgrid' AND ref LIKE 'test\_%' AND at > $2`, m.Shop, now.Add(-time.Hour)); err != nil {
			return err
		}
		if recent >= TestEmailsPerHour {
			return errTooManyTests
		}
		read := registry.Entry{Shop: m.Shop, Datum: registry.DatumEmail, System: registry.SystemShopify,
			Action: registry.ActionRead, Purpose: registry.PurposeReviewRequest, LegalBasis: registry.BasisConsent,
			ExpiresAt: now, Ref: ref} // held in memory for this request only
		proof, err = registry.Append(ctx, tx, now, read, registry.Entry{Shop: m.Shop, Datum: registry.DatumEmail,
			System: registry.SystemSendGrid, Action: registry.ActionTransmitted, Purpose: registry.PurposeReviewRequest,
			LegalBasis: registry.BasisConsent, ExpiresAt: now.Add(retention.Lookup(retention.SendGridActivity).Keep), Ref: ref}) // SendGrid's own 30 days: the sweep erases customers, not test recipients
		return err
	}); errors.Is(err, errTooManyTests) {
		s.showOverview(w, r, m, http.StatusTooManyRequests, "", fmt.Sprintf("You sent %d test emails in the last hour; try again later.", TestEmailsPerHour))
		return
	} else if err != nil {
		s.showOverview(w, r, m, http.StatusServiceUnavailable, "", "Could not record the test email; nothing was sent. Try again.")
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
			s.showOverview(w, r, m, http.StatusBadGateway, "", senderRefusedText(s.Mailer.Sender()))
			return
		}
		s.showOverview(w, r, m, http.StatusBadGateway, "", "SendGrid did not confirm the test email. Try again later.")
		return
	}
	s.Logger.Info("test email sent", "shop", m.Shop, "ref", ref)
	http.Redirect(w, r, "/app?notice=test-sent", http.StatusSeeOther)
}

// --- registry export --------------------------------------------------------

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

// appPrivacy is GET /app/privacy[?customer_id=N]: the shop's recent privacy
// requests (Shopify's compliance webhooks), and for one customer the
// evidence: each erasure's receipt per system, each data request's report.
// A lookup reads the customer's pseudonymous records, so it is recorded.
func (s *Server) appPrivacy(w http.ResponseWriter, r *http.Request, m merchantSession) {
	ctx := r.Context()
	page := appPage{Title: "Privacy requests", Shop: m.Shop, CSRF: m.csrf(), Nav: "privacy"}
	data := map[string]any{}
	status := http.StatusOK
	if v := r.URL.Query().Get("customer_id"); v != "" {
		data["CustomerID"] = v
		if id, err := strconv.ParseInt(v, 10, 64); err != nil || id <= 0 {
			page.Error = "A customer ID is the number in the customer's page address in your Shopify admin."
			status = http.StatusBadRequest
		} else if data["Subject"], data["Found"], err = s.subjectEvidence(ctx, m.Shop, id); err != nil {
			s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not look up the customer's requests.")
			return
		}
	}
	recent, err := s.DB.RecentPrivacyRequests(ctx, m.Shop, 20)
	if err != nil {
		s.appError(w, http.StatusServiceUnavailable, "Please try again", "Could not list the privacy requests.")
		return
	}
	data["Recent"] = recent
	page.Data = data
	s.render(w, status, "privacy", page)
}

// subjectEvidence records a lookup of one customer's privacy requests, then
// returns the customer's pseudonym and their erasures and data requests.
func (s *Server) subjectEvidence(ctx context.Context, shop string, customerID int64) (string, []store.SubjectRequest, error) {
	subject := s.Keys.Subject(shop, customerID)
	if err := registry.RecordAccess(ctx, s.DB.DB, []string{shop}, subject, registry.NewLookupID("sr"), s.now()); err != nil {
		return "", nil, err
	}
	var found []store.SubjectRequest
	for _, kind := range []string{store.KindCustomerRedact, store.KindDataRequest} {
		rs, err := s.DB.SubjectRequests(ctx, shop, subject, kind)
		if err != nil {
			return "", nil, err
		}
		found = append(found, rs...)
	}
	return subject, found, nil
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
		Exporter: appExporter(m.Shop), Role: "merchant_app", SignaturePath: "/app/exports/%s/signature"})
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

var appTemplates = template.Must(template.New("app").Funcs(template.FuncMap{
	"label":           func(k string) string { return fieldLabels[k] },
	"senderRefused":   senderRefusedText,
	"reviewPlatforms": func() string { return strings.Join(store.ReviewPlatforms, ", ") },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}).Parse(appHTML))
