package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/integrations/shopify"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/shoptoken"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/web"
)

// settingsFlags binds the per-shop settings flags shared by add and set.
type settingsFlags struct {
	delay, fallback, reminder, consent, reviewURL, from, subject string
	window, timeZone, excludeProducts, excludeTags               string
	emailPer, maxEmails, productOnce, maxProducts, consentMode   string
}

func (f *settingsFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.delay, "delay", "", "wait after delivery before sending, e.g. 7d, 36h, 90s")
	fs.StringVar(&f.fallback, "fallback-delay", "", "wait after fulfillment when no delivery event comes")
	fs.StringVar(&f.reminder, "reminder", "", "send one reminder this long after the first email (0 = none)")
	fs.StringVar(&f.consent, "consent-required", "", "true: email only customers subscribed to email marketing (--consent-mode explicit); false: --consent-mode none")
	fs.StringVar(&f.consentMode, "consent-mode", "", "explicit, soft_opt_in (EU soft opt-in: the objection notice in every email) or none (docs/consent.md)")
	fs.StringVar(&f.reviewURL, "review-url", "", "review destination template: https://... with {shop}, {product_id}, {handle}")
	fs.StringVar(&f.from, "from", "", "not a setting: every email comes from CANDOR_MAIL_FROM in the shop's name, with replies to the shop's contact email")
	fs.StringVar(&f.subject, "subject", "", "email subject; {order} is the order name")
	fs.StringVar(&f.window, "send-window", "", "send only between these local times, e.g. 09:00-18:00 ('any' = any time)")
	fs.StringVar(&f.timeZone, "time-zone", "", "IANA time zone of the send window, e.g. Europe/Berlin ('shop' = the store's own)")
	fs.StringVar(&f.excludeProducts, "exclude-products", "", "comma-separated product IDs never asked about ('' = none)")
	fs.StringVar(&f.excludeTags, "exclude-tags", "", "comma-separated product tags never asked about ('' = none)")
	fs.StringVar(&f.maxEmails, "max-emails", "", "at most this many review emails per customer in 30 days (0 = no cap)")
	fs.StringVar(&f.productOnce, "product-once", "", "true: ask a customer about a product at most once in 12 months")
	fs.StringVar(&f.maxProducts, "max-products", "", "at most this many products in one email (1-10)")
	fs.StringVar(&f.emailPer, "email-per", "", "order: one email once the whole order is delivered; shipment: one per shipment")
}

// parseWindow reads "HH:MM-HH:MM", or "any" for no window.
func parseWindow(v string) (start, end int, err error) {
	if v == "any" || v == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a window like 09:00-18:00", v)
	}
	if start, err = store.ParseClock(a); err == nil {
		end, err = store.ParseClock(b)
	}
	if err == nil && start == end {
		err = fmt.Errorf("%q is empty: give two different times, or 'any'", v)
	}
	return start, end, err
}

// apply changes s by the flags that were given.
func (f *settingsFlags) apply(fs *flag.FlagSet, s *store.Settings) error {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if given["consent-required"] && given["consent-mode"] {
		return usagef("--consent-required and --consent-mode both set the consent mode: give one")
	}
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		dur := func(dst *time.Duration, v string) {
			d, e := config.ParseDuration(v)
			if e != nil {
				err = usagef("--%s: %v", fl.Name, e)
				return
			}
			*dst = d
		}
		switch fl.Name {
		case "delay":
			dur(&s.Delay, f.delay)
		case "fallback-delay":
			dur(&s.FallbackDelay, f.fallback)
		case "reminder":
			dur(&s.Reminder, f.reminder)
		case "consent-required":
			b, e := strconv.ParseBool(f.consent)
			if e != nil {
				err = usagef("--consent-required must be true or false, not %q", f.consent)
				return
			}
			s.ConsentMode = store.ConsentNone
			if b {
				s.ConsentMode = store.ConsentExplicit
			}
		case "consent-mode":
			switch f.consentMode {
			case store.ConsentExplicit, store.ConsentSoftOptIn, store.ConsentNone:
				s.ConsentMode = f.consentMode
			default:
				err = usagef("--consent-mode must be %s, %s or %s, not %q", store.ConsentExplicit, store.ConsentSoftOptIn, store.ConsentNone, f.consentMode)
			}
		case "max-emails", "max-products":
			v, dst := f.maxEmails, &s.MaxEmails
			if fl.Name == "max-products" {
				v, dst = f.maxProducts, &s.MaxProducts
			}
			n, e := strconv.Atoi(v)
			if e != nil {
				err = usagef("--%s must be a whole number, not %q", fl.Name, v)
				return
			}
			*dst = n
		case "product-once":
			b, e := strconv.ParseBool(f.productOnce)
			if e != nil {
				err = usagef("--product-once must be true or false, not %q", f.productOnce)
				return
			}
			s.ProductOnce = b
		case "email-per":
			if f.emailPer != store.EmailPerOrder && f.emailPer != store.EmailPerShipment {
				err = usagef("--email-per must be %s or %s, not %q", store.EmailPerOrder, store.EmailPerShipment, f.emailPer)
				return
			}
			s.EmailPer = f.emailPer
		case "review-url":
			s.ReviewURL = f.reviewURL
		case "from":
			err = usagef("--from: a shop cannot choose the sender address. Every email comes from Candor's sender (CANDOR_MAIL_FROM) in the shop's name, and replies go to the shop's contact email in Shopify")
		case "subject":
			s.Subject = f.subject
		case "send-window":
			start, end, e := parseWindow(f.window)
			if e != nil {
				err = usagef("--send-window: %v", e)
				return
			}
			s.WindowStart, s.WindowEnd = start, end
		case "time-zone":
			s.TimeZone = f.timeZone
			if f.timeZone == "shop" {
				s.TimeZone = ""
			}
		case "exclude-products":
			s.ExcludedProducts = nil
			for _, p := range store.SplitList(f.excludeProducts) {
				id, e := strconv.ParseInt(p, 10, 64)
				if e != nil || id <= 0 {
					err = usagef("--exclude-products: %q is not a product ID", p)
					return
				}
				s.ExcludedProducts = append(s.ExcludedProducts, id)
			}
		case "exclude-tags":
			s.ExcludedTags = store.SplitList(f.excludeTags)
		}
	})
	if err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func runShops(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("shops: say add, set, list or login")
	}
	switch args[0] {
	case "add":
		return shopsAdd(ctx, args[1:])
	case "set":
		return shopsSet(ctx, args[1:])
	case "list":
		return shopsList(ctx, args[1:])
	case "login":
		return shopsLogin(ctx, args[1:])
	}
	return usagef("shops: unknown subcommand %q (add, set, list, login)", args[0])
}

// readToken takes the token from the flag, or from stdin when the flag is
// "-", which keeps it out of shell history and the process list.
func readToken(v string) (string, error) {
	if v == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("could not read the token from standard input")
		}
		v = line
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", usagef("shops add: --token is required (use --token - to read it from standard input)")
	}
	return v, nil
}

func shopsAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shops add", flag.ContinueOnError)
	shop := fs.String("shop", "", "shop domain, e.g. my-store.myshopify.com")
	token := fs.String("token", "", "Admin API access token of the custom app ('-' reads it from standard input)")
	var sf settingsFlags
	sf.bind(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !shopify.ValidShopDomain(*shop) {
		return usagef("shops add: --shop %q is not a *.myshopify.com domain", *shop)
	}
	tok, err := readToken(*token)
	if err != nil {
		return err
	}
	s := store.Shop{Domain: *shop, Settings: store.DefaultSettings(*shop)}
	if err := sf.apply(fs, &s.Settings); err != nil {
		return err
	}
	cfg, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if s.TokenSealed, err = ring.Seal([]byte(tok), s.Domain); err != nil {
		return err
	}
	hosts, err := shopHosts(ctx, cfg, db, s)
	if err != nil {
		return err
	}
	if err := db.AddShop(ctx, s, hosts...); err != nil {
		if errors.Is(err, store.ErrShopExists) {
			return fmt.Errorf("shop %s is already connected (use 'candor shops set' to change settings)", s.Domain)
		}
		return settingError("shops add", err)
	}
	fmt.Printf("connected %s (token sealed with key %s)\n", s.Domain, ring.KeyID())
	return nil
}

// settingError names the flag of a setting the store refused (a timing
// that no longer fits the shop's review_requests period).
func settingError(cmd string, err error) error {
	var fe *store.FieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("%s: --%s: %s", cmd, strings.ReplaceAll(fe.Field, "_", "-"), fe.Msg)
	}
	return err
}

func shopsSet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shops set", flag.ContinueOnError)
	shop := fs.String("shop", "", "shop domain")
	var sf settingsFlags
	sf.bind(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !shopify.ValidShopDomain(*shop) {
		return usagef("shops set: --shop %q is not a *.myshopify.com domain", *shop)
	}
	if fs.NFlag() == 1 {
		return usagef("shops set: give at least one setting to change")
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := db.Shop(ctx, *shop)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("shop %s is not connected", *shop)
	}
	if err != nil {
		return err
	}
	if err := sf.apply(fs, &s.Settings); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	hosts, err := shopHosts(ctx, cfg, db, s)
	if err != nil {
		return err
	}
	if err := db.UpdateSettings(ctx, s.Domain, s.Settings, hosts...); err != nil {
		return settingError("shops set", err)
	}
	fmt.Printf("updated %s\n", s.Domain)
	return nil
}

func shopsList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shops list", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	shops, err := db.Shops(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHOP\tDELAY\tFALLBACK\tREMINDER\tCONSENT\tWINDOW\tREVIEW URL")
	for _, s := range shops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\n", s.Domain, config.FormatDuration(s.Delay), config.FormatDuration(s.FallbackDelay),
			config.FormatDuration(s.Reminder), s.ConsentRequired(), windowText(s.Settings), s.ReviewURL)
	}
	return tw.Flush()
}

// shopHosts checks a review destination that is neither {shop} nor a review
// platform against the shop's domains as Shopify reports them now, read
// through shoptoken, the path every Admin call takes. It returns those domains for the
// store, which checks again.
func shopHosts(ctx context.Context, cfg config.Config, db *store.DB, s store.Shop) ([]string, error) {
	if !store.ReviewHostNeedsShop(s.ReviewURL, s.Domain) {
		return nil, nil
	}
	_, dk, err := openKeys(ctx, cfg, db)
	if err != nil {
		return nil, err
	}
	a := newActivities(cfg, db, dk)
	p, err := shoptoken.Opener{DB: a.DB, Keys: a.Keys, Shopify: a.Shopify, OAuth: a.OAuth, Now: a.Now}.ShopProfile(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("could not read %s's domains from Shopify, to check --review-url: %w", s.Domain, err)
	}
	if err := store.CheckReviewHost(s.ReviewURL, s.Domain, p.Hosts()); err != nil {
		return nil, usagef("--review-url: %v", err)
	}
	return p.Hosts(), nil
}

// windowText is the send window as `shops list` shows it.
func windowText(s store.Settings) string {
	if !s.HasWindow() {
		return "any"
	}
	tz := s.TimeZone
	if tz == "" {
		tz = "shop"
	}
	return store.FormatClock(s.WindowStart) + "-" + store.FormatClock(s.WindowEnd) + " " + tz
}

// openWithKeys opens the store and the key ring for commands that seal.
func openWithKeys(ctx context.Context) (config.Config, *keys.Ring, *store.DB, error) {
	cfg, err := loadConfig()
	if err != nil {
		return cfg, nil, nil, err
	}
	if cfg.MasterKey == nil {
		return cfg, nil, nil, errors.New("CANDOR_MASTER_KEY is not set (base64 of 32 random bytes: openssl rand -base64 32)")
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return cfg, nil, nil, err
	}
	ring, _, err := openKeys(ctx, cfg, db)
	if err != nil {
		db.Close()
		return cfg, nil, nil, err
	}
	return cfg, ring, db, nil
}

// shopsLogin prints a signed, expiring, single-use login link to the
// merchant pages of one shop.
func shopsLogin(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("shops login", flag.ContinueOnError)
	shop := fs.String("shop", "", "shop domain")
	ttl := fs.String("ttl", "15m", "how long the link works, at most 24h")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !shopify.ValidShopDomain(*shop) {
		return usagef("shops login: --shop %q is not a *.myshopify.com domain", *shop)
	}
	d, err := config.ParseDuration(*ttl)
	if err != nil || d < time.Minute || d > web.MaxLoginLinkTTL {
		return usagef("shops login: --ttl must be a duration from 1m to 24h, not %q", *ttl)
	}
	cfg, ring, db, err := openWithKeys(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	base := cfg.PublicURL
	if base == "" {
		if st, ok := loadDevState(); ok {
			base = st.ServerURL
		}
	}
	if base == "" {
		return errors.New("CANDOR_PUBLIC_URL is not set: the login link needs the server's public URL")
	}
	if _, err := db.Shop(ctx, *shop); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("shop %s is not connected", *shop)
	} else if err != nil {
		return err
	}
	fmt.Printf("%s/app/login?token=%s\n", base, web.LoginLink(ring, *shop, d, time.Now()))
	fmt.Fprintf(os.Stderr, "This link logs in to %s once, until %s.\n", *shop, time.Now().Add(d).UTC().Format(time.RFC3339))
	return nil
}
