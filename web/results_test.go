package web_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
)

// A review-link click, an unsubscribe and SendGrid's bounces, spam reports
// and unsubscribes each count once, in the week (UTC) the server's clock
// says they happened; a HEAD, a bad link, a second unsubscribe, a
// temporary bounce and a repeated event post count nothing.
func TestResults_ClicksUnsubscribesAndSendGridEventsCountInTheirWeek(t *testing.T) {
	e := newSGEnv(t)
	key, err := config.ParseSendGridWebhookKey(e.sg.WebhookPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now().UTC().AddDate(0, 0, -14) // two weeks ago
	srv := &web.Server{DB: e.db, Temporal: e.tc, Keys: e.ring, ShopifySecret: secret, SendGridWebhookKey: key,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)), TemporalRetention: 24 * time.Hour, Now: func() time.Time { return clock }}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	var mails []sendgridtest.Mail
	for i := range 5 {
		m, _ := e.sent(t, fmt.Sprintf("results.%d@example.net", i))
		mails = append(mails, m)
	}
	rid := mails[0].CustomArgs[sendgrid.CustomArgRequestID]
	later := clock.Add(time.Hour).Unix()
	reviewLink := hs.URL + "/r/" + e.ring.SignLink(keys.Link{Kind: keys.LinkReview, Shop: shop, RequestID: rid, ProductID: 42, Expires: later})
	for range 2 {
		if p := fetch(t, http.MethodGet, reviewLink); p.status != http.StatusFound {
			t.Fatalf("review link: %d %.200s", p.status, p.body)
		}
	}
	if p := fetch(t, http.MethodHead, reviewLink); p.status != http.StatusFound {
		t.Fatalf("HEAD review link: %d", p.status)
	}
	if p := fetch(t, http.MethodGet, hs.URL+"/r/not-a-token"); p.status != http.StatusBadRequest {
		t.Fatalf("bad link: %d", p.status)
	}
	unsub := hs.URL + "/u/" + e.ring.SignLink(keys.Link{Kind: keys.LinkUnsubscribe, Shop: shop, RequestID: rid, Expires: later})
	fetch(t, http.MethodGet, unsub) // the confirmation page: no unsubscribe yet
	for range 2 {
		friendly(t, fetch(t, http.MethodPost, unsub), 200, "You are unsubscribed")
	}

	body := batch(t, sendgridtest.Event(mails[1], "bounce", "bounce"), sendgridtest.Event(mails[2], "spamreport", ""),
		sendgridtest.Event(mails[3], "unsubscribe", ""), sendgridtest.Event(mails[4], "bounce", "blocked"))
	for range 2 { // SendGrid's retry of the same post
		sig, stamp := e.sg.Sign(body, clock)
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/webhooks/sendgrid", bytes.NewReader(body))
		req.Header.Set(sendgrid.HeaderEventSignature, sig)
		req.Header.Set(sendgrid.HeaderEventTimestamp, stamp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("events: %d", resp.StatusCode)
		}
	}

	weeks, err := e.db.WeeklyResults(context.Background(), shop, time.Now(), 3)
	if err != nil {
		t.Fatal(err)
	}
	then, now := weeks[0], weeks[2]
	if then.Week != store.Week(clock) || now.Week != store.Week(time.Now()) {
		t.Fatalf("weeks %s, %s", then.Week, now.Week)
	}
	if then.Clicks != 2 || then.Unsubscribes != 2 || then.Bounces != 1 || then.SpamReports != 1 || then.Sent != 0 {
		t.Errorf("the clock's week: clicks %d (want 2), unsubscribes %d (2), bounces %d (1), spam reports %d (1), sent %d (0)",
			then.Clicks, then.Unsubscribes, then.Bounces, then.SpamReports, then.Sent)
	}
	if now.Sent != 5 || now.Clicks+now.Unsubscribes+now.Bounces+now.SpamReports != 0 {
		t.Errorf("this week: %+v", now)
	}
}

var (
	resultsSVGRe = regexp.MustCompile(`(?s)<svg class="results-chart".*?</svg>`)
	barRe        = regexp.MustCompile(`<rect class="bar (\w+)" data-week="([0-9-]+)" data-n="(\d+)" x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)" height="([0-9.]+)"`)
	weekRowRe    = regexp.MustCompile(`(?s)<tr data-week="([0-9-]+)"><th scope="row">[^<]+</th>(.*?)</tr>`)
	weekCellRe   = regexp.MustCompile(`<td class="(\w+)">(\d+)</td>`)
)

// /app draws the shop's weeks as an accessible SVG with the same numbers
// in a table, its own shop's only, and no order, customer or request.
func TestResults_OverviewDrawsTheWeeksAsAChartAndATableWithoutPersonalData(t *testing.T) {
	e := newAppEnv(t)
	ctx := context.Background()
	now := time.Now()
	move := func(s string, order int64, name, to, reason string) {
		t.Helper()
		e.addRequest(t, s, order, name, store.StatusScheduled, "", store.Product{ID: order, Title: "Linen Shirt"})
		if moved, err := store.Transition(ctx, e.db, e.ring.RequestID(s, order), []string{store.StatusScheduled}, to, reason); err != nil || !moved {
			t.Fatalf("move %s: %t %v", name, moved, err)
		}
	}
	move(shop, 1001, "#1001", store.StatusSent, "")
	move(shop, 1002, "#1002", store.StatusSent, "")
	move(shop, 1003, "#1003", store.StatusSkipped, string(review.ReasonUnsubscribed))
	move(shop, 1004, "#1004", store.StatusFailed, string(review.ReasonSendFailed))
	move(otherShop, 2001, "#R-2001", store.StatusSent, "")
	lastWeek := now.AddDate(0, 0, -7)
	for _, c := range []struct {
		s      string
		at     time.Time
		metric string
		n      int
	}{{shop, now, store.MetricClick, 3}, {shop, lastWeek, store.MetricClick, 1}, {shop, lastWeek, store.MetricBounce, 1},
		{shop, now, store.MetricSpamReport, 1}, {shop, now, store.MetricUnsubscribe, 2}, {otherShop, now, store.MetricClick, 40}} {
		for range c.n {
			if err := store.CountResult(ctx, e.db, c.s, c.at, c.metric, ""); err != nil {
				t.Fatal(err)
			}
		}
	}

	c, _ := e.login(t, shop)
	status, _, body := do(t, c, "GET", e.url+"/app", nil, nil)
	if status != 200 {
		t.Fatalf("/app: %d", status)
	}
	svg := resultsSVGRe.FindString(body)
	if svg == "" {
		t.Fatalf("no results chart on /app:\n%s", body)
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="results-chart-title results-chart-desc"`,
		`<title id="results-chart-title">Review requests and replies, last 12 weeks</title>`,
		`In these 12 weeks: 2 sent, 1 skipped, 1 failed, 4 clicks, 2 unsubscribes, 1 bounces, 1 spam reports.`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	// The page loads Shopify's Polaris (and, embedded, App Bridge) scripts;
	// the chart itself is drawn by the server, with no script in it
	// (e2e's browser test draws it with JavaScript off).
	if strings.Contains(svg, "<script") || regexp.MustCompile(` on[a-z]+=`).MatchString(svg) {
		t.Error("the chart has a script or an event handler; it must work without JavaScript")
	}

	// Every bar's number is its week's table cell, and a bar is as tall as
	// its number is big.
	table := map[string]map[string]int{} // week -> class -> n
	for _, row := range weekRowRe.FindAllStringSubmatch(body, -1) {
		table[row[1]] = map[string]int{}
		for _, cell := range weekCellRe.FindAllStringSubmatch(row[2], -1) {
			table[row[1]][cell[1]], _ = strconv.Atoi(cell[2])
		}
	}
	if len(table) != 12 {
		t.Fatalf("the table has %d weeks, want 12", len(table))
	}
	this, prev := store.Week(now).Format(time.DateOnly), store.Week(lastWeek).Format(time.DateOnly)
	for week, want := range map[string]map[string]int{
		this: {"sent": 2, "skipped": 1, "failed": 1, "clicks": 3, "unsubscribes": 2, "bounces": 0, "spam": 1, "reminders": 0},
		prev: {"sent": 0, "clicks": 1, "bounces": 1},
	} {
		for class, n := range want {
			if got := table[week][class]; got != n {
				t.Errorf("table, week of %s, %s = %d, want %d", week, class, got, n)
			}
		}
	}
	bars := barRe.FindAllStringSubmatch(svg, -1)
	if len(bars) != 12*7 {
		t.Fatalf("%d bars, want 84 (12 weeks of sent, skipped, failed, clicks, unsubscribes, bounces, spam)", len(bars))
	}
	for _, b := range bars {
		class, week, n := b[1], b[2], b[3]
		if want := strconv.Itoa(table[week][class]); n != want {
			t.Errorf("bar %s of %s is %s, the table says %s", class, week, n, want)
		}
		h, _ := strconv.ParseFloat(b[5], 64)
		if w, _ := strconv.ParseFloat(b[4], 64); w <= 0 || (n != "0") != (h > 0) {
			t.Errorf("bar %s of %s (%s) is %sx%s", class, week, n, b[4], b[5])
		}
	}

	// Reasons are in the table, in words; the chart holds none.
	if !strings.Contains(body, "<td>skipped</td><td>customer unsubscribed</td><td>1</td>") ||
		!strings.Contains(body, "<td>failed</td><td>sending failed</td><td>1</td>") {
		t.Error("the reasons table lacks the skip or the failure")
	}
	if strings.Contains(svg, "unsubscribed") || strings.Contains(svg, "sending failed") {
		t.Error("the chart holds reason text")
	}
	for _, never := range []string{"#1001", "#1003", "#R-2001", "Linen Shirt", e.ring.RequestID(shop, 1001), e.ring.Subject(shop, 7_000_001),
		e.shopify.ShopEmail, e.shopify.ContactEmail, ">40<", `data-n="40"`, "chart_desc", "col_"} {
		if strings.Contains(body, never) {
			t.Errorf("/app shows %q", never)
		}
	}
	if !strings.Contains(body, "no tracking pixels and no open tracking") {
		t.Error("the page does not say how clicks are counted")
	}

	// In the admin user's language: the chart's title and description, the
	// tables, their weeks' dates and the reasons.
	_, _, body = do(t, c, "GET", e.url+"/app", nil, http.Header{"Accept-Language": {"pt-BR"}})
	svg = resultsSVGRe.FindString(body)
	weekPt := fmt.Sprintf("%d %s %d", store.Week(now).Day(), []string{"jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.", "dez."}[store.Week(now).Month()-1], store.Week(now).Year())
	for _, want := range []string{`<title id="results-chart-title">Pedidos de avaliação e reações, últimas 12 semanas</title>`,
		"Nestas 12 semanas: 2 enviados, 1 ignorados, 1 com falha, 4 cliques, 2 descadastros, 1 e-mails devolvidos, 1 denúncias de spam.",
		">Descadastros</text>", ">Enviados</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the pt-BR chart lacks %q", want)
		}
	}
	for _, want := range []string{">Resultados por semana</h2>", "<caption>Resultados por semana (as semanas começam na segunda-feira, UTC)</caption>",
		`<th scope="col">Semana de</th>`, `<th scope="row">` + weekPt + `</th>`,
		"<td>ignorado</td><td>o cliente cancelou a inscrição</td><td>1</td>", "<td>com falha</td><td>o envio falhou</td><td>1</td>",
		"não há pixels de rastreamento"} {
		if !strings.Contains(body, want) {
			t.Errorf("/app in pt-BR lacks %q", want)
		}
	}
	for _, english := range []string{"Results, by week", "Week of", "Review-link clicks", "customer unsubscribed", "no tracking pixels"} {
		if strings.Contains(body, english) {
			t.Errorf("/app in pt-BR still says %q", english)
		}
	}
}

// A shop with nothing counted yet sees the empty weeks and says so.
func TestResults_OverviewOfAShopWithNothingCounted(t *testing.T) {
	e := newAppEnv(t)
	c, _ := e.login(t, shop)
	status, _, body := do(t, c, "GET", e.url+"/app", nil, nil)
	if status != 200 || !strings.Contains(body, "Nothing has been counted in these 12 weeks yet.") {
		t.Fatalf("/app: %d, no empty note", status)
	}
	bars := barRe.FindAllStringSubmatch(resultsSVGRe.FindString(body), -1)
	if len(bars) != 84 {
		t.Fatalf("%d bars", len(bars))
	}
	for _, b := range bars {
		if b[3] != "0" || b[5] != "0.0" {
			t.Fatalf("an empty week drew %v", b)
		}
	}
}
