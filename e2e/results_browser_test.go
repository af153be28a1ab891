package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/review"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

// resultsScreenshotPath is where the test leaves a picture of the results
// section of /app, for the README.
const resultsScreenshotPath = "../docs/app-results.png"

// noJavaScript is chromium's switch that turns scripts off in every page.
const noJavaScript = "--blink-settings=scriptEnabled=false"

type elementRect struct {
	X, Y, Width, Height float64
}

// rect returns the rendered box of the element matching css.
func (w *webDriver) rect(css string) elementRect {
	w.t.Helper()
	var r elementRect
	w.call("GET", "/element/"+w.find(css)+"/rect", nil, &r)
	return r
}

// count returns how many elements match css.
func (w *webDriver) count(css string) int {
	w.t.Helper()
	var els []map[string]string
	w.call("POST", "/elements", map[string]string{"using": "css selector", "value": css}, &els)
	return len(els)
}

// The results chart on /app is drawn by the browser with JavaScript off:
// its bars have a size that follows their numbers, and the table beside it
// shows the same numbers.
func TestResultsChart_DrawnWithoutJavaScriptWithTheTablesNumbers(t *testing.T) {
	ctx := context.Background()
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	sealed, _ := ring.Seal([]byte("shpat_x"), shop)
	if err := db.AddShop(ctx, store.Shop{Domain: shop, TokenSealed: sealed, Settings: store.DefaultSettings(shop)}); err != nil {
		t.Fatal(err)
	}
	// This week: 6 sent, 2 skipped (unsubscribed), 1 failed, 4 clicks, 1
	// unsubscribe; three weeks ago: 3 sent, 2 clicks, 1 bounce, 1 spam report.
	now := time.Now()
	for i, to := range []string{store.StatusSent, store.StatusSent, store.StatusSent, store.StatusSent, store.StatusSent,
		store.StatusSentUnconfirmed, store.StatusSkipped, store.StatusSkipped, store.StatusFailed} {
		order := int64(5000 + i)
		rid := ring.RequestID(shop, order)
		reason := ""
		switch to {
		case store.StatusSkipped:
			reason = string(review.ReasonUnsubscribed)
		case store.StatusFailed:
			reason = string(review.ReasonSendFailed)
		}
		if err := db.InTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := store.CreateRequest(ctx, tx, store.Request{RequestID: rid, Shop: shop, OrderID: order, OrderName: "#" + strconv.FormatInt(order, 10),
				ExpiresAt: now.Add(time.Hour)}, []store.Product{{ID: 1, Title: "Linen apron"}}); err != nil {
				return err
			}
			_, err := store.Transition(ctx, tx, rid, []string{store.StatusScheduled}, to, reason)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	earlier := now.AddDate(0, 0, -21)
	for _, c := range []struct {
		at     time.Time
		metric string
		n      int
	}{{now, store.MetricClick, 4}, {now, store.MetricUnsubscribe, 1},
		{earlier, store.MetricSent, 3}, {earlier, store.MetricClick, 2}, {earlier, store.MetricBounce, 1}, {earlier, store.MetricSpamReport, 1}} {
		for range c.n {
			if err := store.CountResult(ctx, db, shop, c.at, c.metric, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := &web.Server{DB: db, Keys: ring, ShopifySecret: secret, Logger: slog.New(slog.DiscardHandler), TemporalRetention: 24 * time.Hour}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	srv.PublicURL = hs.URL

	br := startBrowser(t, noJavaScript)
	// JavaScript is off in this browser: a page's script does not run.
	br.open(`data:text/html,<title>off</title><script>document.title="on"</script>`)
	var title string
	br.call("GET", "/title", nil, &title)
	if title != "off" {
		t.Fatalf("JavaScript ran in the browser (title %q); the chart must be tested without it", title)
	}

	br.open(hs.URL + "/app/login?token=" + web.LoginLink(ring, shop, 15*time.Minute, time.Now()))
	br.follow("button[type=submit]")
	if u := br.currentURL(); u != hs.URL+"/app" {
		t.Fatalf("after login the browser is at %s, want /app", u)
	}

	chart := br.rect("svg.results-chart")
	if chart.Width < 300 || chart.Height < 150 {
		t.Fatalf("the chart is drawn %vx%v", chart.Width, chart.Height)
	}
	if br.attr("svg.results-chart", "role") != "img" || br.attr("svg.results-chart", "aria-labelledby") != "results-chart-title results-chart-desc" {
		t.Error("the chart is not an image labelled by its title and description")
	}
	if got := br.text("table.results-table caption"); !strings.Contains(got, "Results per week") {
		t.Errorf("table caption %q", got)
	}
	if n := br.count("svg.results-chart rect.bar"); n != 12*7 {
		t.Fatalf("%d bars, want 84", n)
	}

	this, then := store.Week(now).Format(time.DateOnly), store.Week(earlier).Format(time.DateOnly)
	want := map[string]map[string]int{
		this: {"sent": 6, "skipped": 2, "failed": 1, "clicks": 4, "unsubscribes": 1, "bounces": 0, "spam": 0},
		then: {"sent": 3, "skipped": 0, "failed": 0, "clicks": 2, "unsubscribes": 0, "bounces": 1, "spam": 1},
	}
	// Within a panel, a bar's height is its number times one scale.
	scale := map[string]float64{}
	panelOf := map[string]string{"sent": "requests", "skipped": "requests", "failed": "requests",
		"clicks": "replies", "unsubscribes": "replies", "bounces": "replies", "spam": "replies"}
	for week, cells := range want {
		for class, n := range cells {
			if got := br.text(`tr[data-week="` + week + `"] td.` + class); got != strconv.Itoa(n) {
				t.Errorf("table, week of %s, %s: %q, want %d", week, class, got, n)
			}
			css := `svg.results-chart rect.bar.` + class + `[data-week="` + week + `"]`
			if got := br.attr(css, "data-n"); got != strconv.Itoa(n) {
				t.Errorf("bar %s of %s says %s, want %d", class, week, got, n)
			}
			r := br.rect(css)
			if n == 0 {
				if r.Height > 0.5 {
					t.Errorf("bar %s of %s is %v tall for 0", class, week, r.Height)
				}
				continue
			}
			if r.Width <= 0 || r.Height <= 0 {
				t.Errorf("bar %s of %s (%d) is drawn %vx%v", class, week, n, r.Width, r.Height)
				continue
			}
			per := r.Height / float64(n)
			if s, ok := scale[panelOf[class]]; ok && (per < s*0.9 || per > s*1.1) {
				t.Errorf("bar %s of %s: %v per unit, its panel's other bars %v", class, week, per, s)
			}
			scale[panelOf[class]] = per
		}
	}

	el := br.find("section[aria-labelledby=results-h]")
	var b64 string
	br.call("GET", "/element/"+el+"/screenshot", nil, &b64)
	png := decodePNG(t, b64)
	if err := os.WriteFile(filepath.FromSlash(resultsScreenshotPath), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func decodePNG(t *testing.T, b64 string) []byte {
	t.Helper()
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes, %v)", len(png), err)
	}
	return png
}
