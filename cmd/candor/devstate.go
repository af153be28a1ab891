package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/candorhq/candor/config"
)

// devDir holds what `candor dev` generates and remembers between runs. It
// is in .gitignore; its secret files are readable by the owner only.
const devDir = ".candor"

// DemoShop is the built-in demo store's domain.
const DemoShop = "candor-demo.myshopify.com"

// DevMailFrom is the sender `candor dev` uses with its local outbox when
// CANDOR_MAIL_FROM is not set.
const DevMailFrom = "reviews@candor-dev.example"

// devState is what other commands (shops, simulate) need to find the dev
// environment without the user exporting variables.
type devState struct {
	DatabaseURL string `json:"database_url"`
	ServerURL   string `json:"server_url"`
	DemoShop    string `json:"demo_shop,omitempty"`
}

func loadDevState() (devState, bool) {
	var s devState
	b, err := os.ReadFile(filepath.Join(devDir, "dev.json"))
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

func saveDevState(s devState) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(filepath.Join(devDir, "dev.json"), b, 0o600)
}

// devSecret reads .candor/NAME, creating it with gen() if create is set.
func devSecret(name string, create bool, gen func() (string, error)) (string, error) {
	p := filepath.Join(devDir, name)
	b, err := os.ReadFile(p)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	v, err := gen()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(devDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
		return "", err
	}
	return v, nil
}

func randomB64(n int) func() (string, error) {
	return func() (string, error) {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
}

func randomHex(n int) func() (string, error) {
	return func() (string, error) {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	}
}

// devMasterKey is the master key candor dev generated under .candor/.
func devMasterKey(create bool) ([]byte, error) {
	v, err := devSecret("master.key", create, randomB64(32))
	if err != nil {
		return nil, err
	}
	return config.ParseMasterKey(v)
}

// devShopifySecret is the webhook secret of the demo store.
func devShopifySecret(create bool) (string, error) {
	return devSecret("shopify-secret", create, randomHex(24))
}

// loadConfig reads the environment and, for what it leaves unset, falls back
// to the dev environment under .candor/ if there is one, so `candor shops`
// and `candor simulate` work next to a running `candor dev`.
func loadConfig() (config.Config, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, err
	}
	st, ok := loadDevState()
	if !ok {
		return cfg, nil
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = st.DatabaseURL
	}
	if cfg.MasterKey == nil {
		if k, err := devMasterKey(false); err == nil {
			cfg.MasterKey = k
		}
	}
	if cfg.ShopifyAPISecret == "" {
		if s, err := devShopifySecret(false); err == nil {
			cfg.ShopifyAPISecret = s
		}
	}
	return cfg, nil
}
