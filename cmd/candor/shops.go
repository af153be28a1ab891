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
	"github.com/candorhq/candor/store"
)

// settingsFlags binds the per-shop settings flags shared by add and set.
type settingsFlags struct {
	delay, fallback, reminder, consent, reviewURL, from, subject string
}

func (f *settingsFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.delay, "delay", "", "wait after delivery before sending, e.g. 7d, 36h, 90s")
	fs.StringVar(&f.fallback, "fallback-delay", "", "wait after fulfillment when no delivery event comes")
	fs.StringVar(&f.reminder, "reminder", "", "send one reminder this long after the first email (0 = none)")
	fs.StringVar(&f.consent, "consent-required", "", "true: email only customers subscribed to email marketing")
	fs.StringVar(&f.reviewURL, "review-url", "", "review destination template: https://... with {shop}, {product_id}, {handle}")
	fs.StringVar(&f.from, "from", "", "sender address (must be verified in SendGrid)")
	fs.StringVar(&f.subject, "subject", "", "email subject; {order} is the order name")
}

// apply changes s by the flags that were given.
func (f *settingsFlags) apply(fs *flag.FlagSet, s *store.Settings) error {
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
			s.ConsentRequired = b
		case "review-url":
			s.ReviewURL = f.reviewURL
		case "from":
			s.Sender = f.from
		case "subject":
			s.Subject = f.subject
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
		return usagef("shops: say add, set or list")
	}
	switch args[0] {
	case "add":
		return shopsAdd(ctx, args[1:])
	case "set":
		return shopsSet(ctx, args[1:])
	case "list":
		return shopsList(ctx, args[1:])
	}
	return usagef("shops: unknown subcommand %q (add, set, list)", args[0])
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
	_ = cfg
	if s.TokenSealed, err = ring.Seal([]byte(tok), s.Domain); err != nil {
		return err
	}
	if err := db.AddShop(ctx, s); err != nil {
		if errors.Is(err, store.ErrShopExists) {
			return fmt.Errorf("shop %s is already connected (use 'candor shops set' to change settings)", s.Domain)
		}
		return err
	}
	fmt.Printf("connected %s (token sealed with key %s)\n", s.Domain, ring.KeyID())
	return nil
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
	if err := db.UpdateSettings(ctx, s.Domain, s.Settings); err != nil {
		return err
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
	fmt.Fprintln(tw, "SHOP\tDELAY\tFALLBACK\tREMINDER\tCONSENT\tFROM\tREVIEW URL")
	for _, s := range shops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\n", s.Domain, human(s.Delay), human(s.FallbackDelay),
			human(s.Reminder), s.ConsentRequired, s.Sender, s.ReviewURL)
	}
	return tw.Flush()
}

func human(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
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
