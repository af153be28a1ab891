//go:build !nodev

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/devenv"
	"github.com/candorhq/candor/integrations/sendgrid/sendgridtest"
	"github.com/candorhq/candor/integrations/shopify/shopifytest"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
	"github.com/candorhq/candor/workflows"
)

// runDev starts everything with one command: real Temporal (the Temporal
// CLI's dev server with its UI, as a child process), Postgres, migrations, the worker and the HTTP server,
// plus a demo store and a mail outbox when no Shopify or SendGrid
// credentials are configured.
//
// It is long on purpose: each thing it starts is stopped by a defer here,
// in the reverse order, when the worker and the server end; split into
// steps, every step would have to hand its cleanup back.
func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	uiPort := fs.Int("ui-port", 8233, "Temporal UI port")
	pgPort := fs.Int("private-pg-port", 54329, "port for the private PostgreSQL cluster, when one is needed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	logger := newLogger()
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		return err
	}
	// A new master key under .candor/ means starting over (the README says
	// to delete .candor/ for that): the dev database on the local server
	// holds data sealed with the old key, so it is emptied too.
	startOver := false
	if cfg.MasterKey == nil {
		_, statErr := os.Stat(filepath.Join(devDir, "master.key"))
		startOver = errors.Is(statErr, os.ErrNotExist)
		if cfg.MasterKey, err = devMasterKey(true); err != nil {
			return err
		}
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.HTTPAddr
	}

	// Postgres: DATABASE_URL, else the local server, else a private cluster.
	pgNote := "DATABASE_URL"
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL, pgNote, err = devPostgres(ctx, *pgPort, startOver, logger)
		if err != nil {
			return err
		}
		if pgNote == "private cluster" {
			defer stopCluster(logger)
		}
	}
	owner, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer owner.Close()
	if _, err := owner.Migrate(ctx); err != nil {
		return err
	}
	// As in production, the server and worker run as an app role that
	// cannot change the registry (docs/security.md). On a database that
	// candor dev administers it makes the role; DATABASE_URL is used as
	// given.
	db := owner
	if pgNote != "DATABASE_URL" {
		appURL, err := owner.EnsureAppRole(ctx, cfg.DatabaseURL, devAppRole)
		if err != nil {
			return err
		}
		if err := owner.GrantApp(ctx, devAppRole); err != nil {
			return err
		}
		if db, err = store.Open(ctx, appURL); err != nil {
			return fmt.Errorf("connect as the app role %s: %w", devAppRole, err)
		}
		defer db.Close()
	}
	ring, dk, err := openKeys(ctx, cfg, db)
	if err != nil {
		return err
	}

	// Temporal: TEMPORAL_ADDRESS if set, else the Temporal CLI's dev server.
	uiURL := ""
	if os.Getenv("TEMPORAL_ADDRESS") == "" {
		host, port, err := splitHostPort(cfg.TemporalAddress)
		if err != nil {
			return err
		}
		// The UI decodes payloads through Candor's codec endpoint, with an
		// operator token made for this run. The dev server's UI offers no
		// includeCredentials, so the cookie sign-in that serve uses cannot
		// reach it: the token is in the endpoint's path, on loopback.
		codecToken, rec, err := db.CreateToken(ctx, store.TokenSpec{Name: "candor dev codec (this run)", Role: store.RoleOperator, TTL: 7 * 24 * time.Hour})
		if err != nil {
			return err
		}
		// It dies with this run, so restarts do not pile up live tokens.
		defer func() { _ = db.RevokeToken(context.WithoutCancel(ctx), rec.ID) }()
		codecURL := cfg.PublicURL + "/codec/" + codecToken
		logger.Info("starting the Temporal dev server (the first run builds the Temporal CLI, a few minutes)", "version", devenv.CLIVersion)
		t, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{IP: host, Port: port, UIPort: *uiPort, UICodecEndpoint: codecURL,
			DatabaseFile: filepath.Join(devDir, "temporal.db"), Namespace: cfg.TemporalNamespace,
			// Errors only (devenv asks for no more): the server's warnings
			// are for Temporal developers.
			Output: os.Stderr})
		if err != nil {
			return err
		}
		defer t.Stop()
		uiURL = t.UIURL
		cfg.CodecOrigins = append(cfg.CodecOrigins, uiURL)
	}
	obs, err := newObservability(ctx, "candor-dev")
	if err != nil {
		return err
	}
	defer obs.close(logger)
	c, err := dialTemporal(ctx, cfg, logger, dk, obs)
	if err != nil {
		return err
	}
	defer c.Close()
	// The dev server started here has them (devenv registers them); a
	// TEMPORAL_ADDRESS server must have them too.
	if err := workflows.CheckSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
		return err
	}
	retention, err := namespaceRetention(ctx, cfg)
	if err != nil {
		return err
	}

	// Shopify and SendGrid: real when configured, local stand-ins otherwise.
	extra := map[string]http.Handler{}
	demo := cfg.ShopifyAPISecret == "" && cfg.ShopifyAPIKey == ""
	if demo {
		if cfg.ShopifyAPISecret, err = devShopifySecret(true); err != nil {
			return err
		}
		token, err := devSecret("demo-store-token", true, randomHex(16))
		if err != nil {
			return err
		}
		demoStore := shopifytest.New("shpat_"+token, cfg.ShopifyAPIVersion)
		defer demoStore.Close()
		cfg.ShopifyBaseURL = demoStore.URL
		// The demo store also knows Candor as a public app, so the install
		// at /shopify/install?shop=candor-demo.myshopify.com can be tried.
		cfg.ShopifyAPIKey = "candor-demo-app"
		demoStore.Shop = DemoShop
		demoStore.EnableOAuth(shopifytest.App{APIKey: cfg.ShopifyAPIKey, APISecret: cfg.ShopifyAPISecret,
			RedirectURI: cfg.PublicURL + "/shopify/callback"})
		if err := ensureDemoShop(ctx, db, ring, "shpat_"+token); err != nil {
			return err
		}
	} else if cfg.ShopifyAPISecret == "" {
		return errors.New("SHOPIFY_API_SECRET is empty: webhooks cannot be verified, refusing to start")
	}
	outboxNote := "SendGrid (SENDGRID_API_KEY)"
	if cfg.SendGridAPIKey == "" {
		key, _ := randomHex(16)()
		outbox := sendgridtest.New("SG." + key)
		defer outbox.Close()
		cfg.SendGridAPIKey, cfg.SendGridBaseURL = outbox.Key, outbox.URL
		// The outbox is an account whose one authenticated domain is the
		// sender's, as the operator's SendGrid account would be.
		if cfg.MailFrom == "" {
			cfg.MailFrom = DevMailFrom
		}
		outbox.AuthenticateDomain(cfg.MailFrom[strings.LastIndexByte(cfg.MailFrom, '@')+1:])
		extra["GET /dev/outbox"] = outbox.OutboxHandler()
		outboxNote = cfg.PublicURL + "/dev/outbox"
		// The outbox signs its events with its own key, as SendGrid does.
		if cfg.SendGridWebhookKey, err = config.ParseSendGridWebhookKey(outbox.WebhookPublicKey()); err != nil {
			return err
		}
		outbox.SetEventWebhook("http://" + cfg.HTTPAddr + "/webhooks/sendgrid")
		extra["POST /dev/outbox/events"] = outbox.EventsHandler()
	} else if cfg.MailFrom == "" {
		return errors.New("CANDOR_MAIL_FROM is not set: with a real SENDGRID_API_KEY, name the sender address, on a domain authenticated in that account")
	}
	st := devState{DatabaseURL: cfg.DatabaseURL, ServerURL: cfg.PublicURL}
	if demo {
		st.DemoShop = DemoShop
	}
	if err := saveDevState(st); err != nil {
		return err
	}
	extra["GET /{$}"] = devHome(devHomeData{Outbox: outboxNote, TemporalUI: uiURL, Demo: demo, Shop: DemoShop})

	srv, err := newWebServer(cfg, db, c, dk, logger, retention)
	if err != nil {
		return err
	}
	// One registry: /metrics serves the worker's metrics and the SDK's too.
	srv = obs.web(srv)
	obs.metrics.WatchErasures(db, nil)
	srv.Extra = extra
	// The dev server's UI cannot send the codec cookie (web/codec.go).
	srv.CodecPathTokens = uiURL != ""
	g, gctx := errgroup.WithContext(ctx)
	acts := obs.activities(newActivities(cfg, db, dk))
	acts.TemporalRetention = retention
	g.Go(func() error { return startWorker(gctx, c, acts, obs) })
	g.Go(func() error { return serveHTTP(gctx, cfg.HTTPAddr, srv.Handler()) })

	fmt.Printf(`
Candor dev is running. Open:
  Candor        %s
  Mail outbox   %s
  Temporal UI   %s
  Postgres      %s (%s)
`, cfg.PublicURL, outboxNote, orDash(uiURL, "TEMPORAL_ADDRESS="+cfg.TemporalAddress), redactURL(cfg.DatabaseURL), pgNote)
	if demo {
		self := "candor"
		if strings.Contains(os.Args[0], "go-build") {
			self = "go run ./cmd/candor" // started with go run
		}
		fmt.Printf(`
Demo store %s: review emails go out 20s after delivery,
or 60s after fulfillment when no delivery event comes. In another terminal:
  %s simulate fulfillment              # a signed fulfillments/create webhook
  %s simulate fulfillment --delivered  # ...followed by "delivered"

Merchant pages for the demo store (this login link works once, for 24 hours;
'%s shops login --shop %s' makes another):
  %s/app/login?token=%s

The public-app install, against the demo store: %s/shopify/install?shop=%s
`, DemoShop, self, self, self, DemoShop, cfg.PublicURL, web.LoginLink(ring, DemoShop, web.MaxLoginLinkTTL, time.Now()), cfg.PublicURL, DemoShop)
	}
	fmt.Println("\nPress Ctrl-C to stop.")
	err = g.Wait()
	fmt.Println("\ncandor dev stopped.")
	return err
}

var clusterToStop *devenv.Cluster

func stopCluster(logger *slog.Logger) {
	if clusterToStop != nil {
		if err := clusterToStop.Stop(); err != nil {
			logger.Error("stopping private PostgreSQL", "error", err)
		}
	}
}

func devPostgres(ctx context.Context, port int, startOver bool, logger *slog.Logger) (string, string, error) {
	if u, err := devenv.EnsureDatabase(ctx, devenv.LocalServerURL, "candor_dev"); err == nil {
		if startOver {
			logger.Info("new .candor/: emptying the candor_dev database on 127.0.0.1:5432")
			if u, err = devenv.RecreateDatabase(ctx, devenv.LocalServerURL, "candor_dev"); err != nil {
				return "", "", err
			}
		}
		return u, "local server on 127.0.0.1:5432", nil
	}
	logger.Info("no PostgreSQL on 127.0.0.1:5432; starting a private cluster under .candor/postgres")
	cl, err := devenv.StartCluster(ctx, filepath.Join(devDir, "postgres"), port)
	if err != nil {
		return "", "", err
	}
	clusterToStop = cl
	u, err := devenv.EnsureDatabase(ctx, cl.URL, "candor_dev")
	if err != nil {
		_ = cl.Stop()
		return "", "", err
	}
	return u, "private cluster", nil
}

// ensureDemoShop connects the demo store with timings short enough to watch.
// devAppRole is the role candor dev's server and worker use.
const devAppRole = "candor_app"

func ensureDemoShop(ctx context.Context, db *store.DB, ring *keys.Ring, token string) error {
	sealed, err := ring.Seal([]byte(token), DemoShop)
	if err != nil {
		return err
	}
	s := store.Shop{Domain: DemoShop, TokenSealed: sealed, Settings: store.DefaultSettings(DemoShop)}
	s.Delay, s.FallbackDelay = 20*time.Second, 60*time.Second
	err = db.AddShop(ctx, s)
	if errors.Is(err, store.ErrShopExists) {
		// The token changes only if .candor/ was wiped; keep it in step.
		_, err = db.ExecContext(ctx, `UPDATE shops SET access_token_sealed = $2 WHERE domain = $1`, DemoShop, sealed)
	}
	return err
}

type devHomeData struct {
	Outbox, TemporalUI, Shop string
	Demo                     bool
}

var devHomeTmpl = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Candor dev</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body><h1>Candor dev</h1>
<ul>
<li>Mail outbox: <a href="{{.Outbox}}">{{.Outbox}}</a></li>
{{if .TemporalUI}}<li>Temporal UI: <a href="{{.TemporalUI}}">{{.TemporalUI}}</a> (workflows named <code>review/…</code>)</li>{{end}}
<li>Health: <a href="/healthz">/healthz</a>, metrics: <a href="/metrics">/metrics</a></li>
</ul>
{{if .Demo}}<p>The demo store <code>{{.Shop}}</code> is connected. Run <code>candor simulate fulfillment</code>
and watch the outbox: the review email arrives 60 seconds later (20 seconds after a delivery event).</p>{{end}}
</body></html>`))

func devHome(d devHomeData) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = devHomeTmpl.Execute(w, d)
	})
}

func orDash(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}
