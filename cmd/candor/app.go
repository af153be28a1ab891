package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/candorhq/candor/activities"
	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/datakeys"
	"github.com/candorhq/candor/integrations/sendgrid"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/pacing"
	"github.com/candorhq/candor/staff"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/telemetry"
	"github.com/candorhq/candor/web"
	"github.com/candorhq/candor/workflows"
)

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// flags parses a command's flags, turning mistakes into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), rest[0])
	}
	return nil
}

// parseInterspersed parses flags wherever they stand among the arguments
// (Go's flag package stops at the first non-flag) and returns the others.
// "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		fs.SetOutput(io.Discard)
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.PrintDefaults()
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		if len(args) > fs.NArg() && args[len(args)-fs.NArg()-1] == "--" {
			return append(rest, fs.Args()...), nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// dialTemporal connects with the environment's address, namespace, TLS and
// API key (config.TemporalOptions) and Candor's data converter: every payload is
// encrypted (AES-GCM) under its review request's data key or the service
// key, so histories hold ciphertext. A payload whose key was destroyed fails
// its activity without retries (datakeys.FailureConverter).
func dialTemporal(ctx context.Context, cfg config.Config, logger *slog.Logger, dk *datakeys.Keys, obs *observability) (client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	o := cfg.TemporalOptions()
	if obs != nil {
		if err := telemetry.Instrument(&o, obs.metrics, obs.tracing); err != nil {
			return nil, fmt.Errorf("temporal metrics and tracing: %w", err)
		}
	}
	o.Logger = tlog.NewStructuredLogger(logger.With("component", "temporal"))
	o.DataConverter = dk.DataConverter(workflows.DataKeyOwner(dk.Ring()))
	o.FailureConverter = datakeys.FailureConverter()
	c, err := client.DialContext(dctx, o)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

// namespaceRetention is how long the namespace keeps closed workflow
// histories, which the registry's expires_at for Temporal must reflect.
func namespaceRetention(ctx context.Context, cfg config.Config) (time.Duration, error) {
	o := cfg.TemporalOptions()
	o.Logger = tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	nc, err := client.NewNamespaceClient(o)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	d, err := nc.Describe(ctx, cfg.TemporalNamespace)
	if err != nil {
		return 0, fmt.Errorf("describe namespace %s: %w", cfg.TemporalNamespace, err)
	}
	return d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(), nil
}

// openKeys makes the key ring from the master key (and, during a rotation,
// the previous ones), adopts the installation's identity keys from Postgres
// so pseudonyms never change with the master key, and opens the data keys.
func openKeys(ctx context.Context, cfg config.Config, db *store.DB) (*keys.Ring, *datakeys.Keys, error) {
	if cfg.MasterKey == nil {
		return nil, nil, errors.New("CANDOR_MASTER_KEY is not set (base64 of 32 random bytes: openssl rand -base64 32)")
	}
	ring, err := keys.New(cfg.MasterKey, cfg.MasterKeyPrevious...)
	if err != nil {
		return nil, nil, err
	}
	if err := datakeys.LoadIdentity(ctx, db, ring, cfg.MasterKeyPrevious...); err != nil {
		return nil, nil, fmt.Errorf("%w (has 'candor migrate' run?)", err)
	}
	return ring, datakeys.New(db, ring), nil
}

// dialCLI is the Temporal client for a CLI command that starts a workflow:
// payloads are encrypted, so it needs the database's data keys too.
func dialCLI(ctx context.Context) (client.Client, func(), error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, nil, err
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	_, dk, err := openKeys(ctx, cfg, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	c, err := dialTemporal(ctx, cfg, newLogger(), dk, nil)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); db.Close() }, nil
}

func openStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	if err := cfg.RequireDatabase(); err != nil {
		return nil, err
	}
	return store.Open(ctx, cfg.DatabaseURL)
}

func newActivities(cfg config.Config, db *store.DB, dk *datakeys.Keys) *activities.Activities {
	return &activities.Activities{
		DB:         db,
		Keys:       dk.Ring(),
		DataKeys:   dk,
		Mailer:     sendgrid.New(cfg.SendGridAPIKey, cfg.SendGridBaseURL, sendgrid.From(cfg.MailFrom)),
		Shopify:    shopify.AdminConfig{APIVersion: cfg.ShopifyAPIVersion, BaseURL: cfg.ShopifyBaseURL, Pace: pacing.New(db.DB)},
		PublicURL:  cfg.PublicURL,
		Namespace:  cfg.TemporalNamespace,
		OAuth:      shopify.OAuth{APIKey: cfg.ShopifyAPIKey, APISecret: cfg.ShopifyAPISecret, BaseURL: cfg.ShopifyBaseURL},
		Pace:       pacing.New(db.DB),
		MailBudget: activities.SendGridBudget(cfg.SendGridRate),
	}
}

// startWorker runs the Temporal worker until ctx ends.
func startWorker(ctx context.Context, c client.Client, acts *activities.Activities, obs *observability) error {
	opts := workflows.WorkerOptions()
	opts.BackgroundActivityContext = obs.activityContext(context.WithoutCancel(ctx))
	w := worker.New(c, workflows.TaskQueue, opts)
	acts.Temporal = c
	acts.StartReview = workflows.ReviewStarter(c, acts.Keys.RequestID)
	acts.StartPrivacy = workflows.PrivacyStarter(c)
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := workflows.EnsureSchedules(ctx, c); err != nil {
		w.Stop()
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// serveHTTP runs srv on addr until ctx ends, then drains for up to 10s.
func serveHTTP(ctx context.Context, addr string, h http.Handler) error {
	return listenAndServe(ctx, addr, "CANDOR_HTTP_ADDR", h)
}

// serveMetrics serves the worker's /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, h http.Handler) error {
	return listenAndServe(ctx, addr, "CANDOR_METRICS_ADDR", h)
}

// listenAndServe serves h on addr, which the variable env sets.
func listenAndServe(ctx context.Context, addr, env string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set %s to use another address): %w", addr, env, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

func newWebServer(cfg config.Config, db *store.DB, c client.Client, dk *datakeys.Keys, logger *slog.Logger, retention time.Duration) (*web.Server, error) {
	var sp *staff.Provider
	if cfg.OIDC.Issuer != "" {
		var err error
		if sp, err = staff.New(cfg.OIDC, nil); err != nil {
			return nil, err
		}
	}
	return &web.Server{Staff: sp, DB: db, Temporal: c, Keys: dk.Ring(), DataKeys: dk, ShopifySecret: cfg.ShopifyAPISecret, Logger: logger,
		TemporalRetention: retention, Extra: map[string]http.Handler{}, CodecOrigins: cfg.CodecOrigins,
		SendGridWebhookKey: cfg.SendGridWebhookKey,
		ShopifyAPIKey:      cfg.ShopifyAPIKey, PublicURL: cfg.PublicURL, Mailer: sendgrid.New(cfg.SendGridAPIKey, cfg.SendGridBaseURL, sendgrid.From(cfg.MailFrom)),
		OAuth:   shopify.OAuth{APIKey: cfg.ShopifyAPIKey, APISecret: cfg.ShopifyAPISecret, BaseURL: cfg.ShopifyBaseURL},
		Shopify: shopify.AdminConfig{APIVersion: cfg.ShopifyAPIVersion, BaseURL: cfg.ShopifyBaseURL, Pace: pacing.New(db.DB)}}, nil
}

// production is what serve and worker share: configuration checked by
// require, the key ring, Postgres and Temporal, whose namespace must have
// Candor's search attributes. close releases them.
type production struct {
	cfg    config.Config
	obs    *observability
	logger *slog.Logger
	keys   *datakeys.Keys
	db     *store.DB
	tc     client.Client
}

func openProduction(ctx context.Context, name string, args []string, require func(config.Config) error) (*production, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	if err := require(cfg); err != nil {
		return nil, err
	}
	p := &production{cfg: cfg, logger: newLogger()}
	if p.obs, err = newObservability(ctx, "candor-"+name); err != nil {
		return nil, err
	}
	if p.db, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if _, p.keys, err = openKeys(ctx, cfg, p.db); err != nil {
		p.db.Close()
		return nil, err
	}
	if p.tc, err = dialTemporal(ctx, cfg, p.logger, p.keys, p.obs); err != nil {
		p.db.Close()
		return nil, err
	}
	// Without them Temporal refuses every review request's start, and a
	// workflow's upsert fails its task: better not to start at all.
	if err := workflows.CheckSearchAttributes(ctx, p.tc, cfg.TemporalNamespace); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *production) close() {
	p.tc.Close()
	p.db.Close()
	p.obs.close(p.logger)
}

func runServe(ctx context.Context, args []string) error {
	p, err := openProduction(ctx, "serve", args, config.Config.RequireServe)
	if err != nil {
		return err
	}
	defer p.close()
	retention, err := namespaceRetention(ctx, p.cfg)
	if err != nil {
		return err
	}
	p.logger.Info("serving", "addr", p.cfg.HTTPAddr)
	srv, err := newWebServer(p.cfg, p.db, p.tc, p.keys, p.logger, retention)
	if err != nil {
		return err
	}
	p.obs.metrics.WatchErasures(p.db, nil)
	return serveHTTP(ctx, p.cfg.HTTPAddr, p.obs.web(srv).Handler())
}

func runWorker(ctx context.Context, args []string) error {
	p, err := openProduction(ctx, "worker", args, config.Config.RequireWorker)
	if err != nil {
		return err
	}
	defer p.close()
	acts := p.obs.activities(newActivities(p.cfg, p.db, p.keys))
	if acts.TemporalRetention, err = namespaceRetention(ctx, p.cfg); err != nil {
		return err
	}
	p.logger.Info("worker polling", "task_queue", workflows.TaskQueue)
	if p.cfg.MetricsAddr == "" {
		p.logger.Info("worker metrics are not served: set CANDOR_METRICS_ADDR (e.g. 0.0.0.0:9464) to serve /metrics")
		return startWorker(ctx, p.tc, acts, p.obs)
	}
	p.logger.Info("worker metrics", "addr", p.cfg.MetricsAddr)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return startWorker(gctx, p.tc, acts, p.obs) })
	g.Go(func() error { return serveMetrics(gctx, p.cfg.MetricsAddr, p.obs.metricsHandler()) })
	return g.Wait()
}

// openDB is the store for CLI commands: the environment, or a running
// candor dev's database.
func openDB(ctx context.Context) (*store.DB, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg)
}

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ownerURL := cfg.MigrateDatabaseURL
	if ownerURL == "" {
		if err := cfg.RequireDatabase(); err != nil {
			return err
		}
		ownerURL = cfg.DatabaseURL
	}
	// The app role is DATABASE_URL's user when the owner's URL is apart.
	appRole := ""
	if cfg.MigrateDatabaseURL != "" && cfg.DatabaseURL != "" {
		owner, app := store.URLUser(cfg.MigrateDatabaseURL), store.URLUser(cfg.DatabaseURL)
		if app == "" {
			return errors.New("DATABASE_URL names no user: with CANDOR_MIGRATE_DATABASE_URL set it must be a postgres:// URL with the app role's user")
		}
		if app == owner {
			return errors.New("DATABASE_URL and CANDOR_MIGRATE_DATABASE_URL name the same user: serve and worker need a role of their own (docs/security.md)")
		}
		appRole = app
	}
	db, err := store.Open(ctx, ownerURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Println("migrations: up to date")
	} else {
		fmt.Printf("migrations: applied %v\n", applied)
	}
	if appRole != "" {
		if err := db.GrantApp(ctx, appRole); err != nil {
			return err
		}
		fmt.Printf("app role %s: granted; it cannot update, delete or truncate the registry\n", appRole)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("TEMPORAL_ADDRESS %q is not host:port", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("TEMPORAL_ADDRESS %q has a bad port", addr)
	}
	return host, port, nil
}
