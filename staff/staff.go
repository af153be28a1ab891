// Package staff owns how operators and auditors prove who they are: OpenID
// Connect sign-in (authorization code with PKCE, state and nonce) against
// any provider, and the policy a person must meet to get in: a role mapped
// from a claim, and multi-factor authentication shown by the amr or acr
// claim.
//
// It holds no sessions and serves no pages (web/staff.go does), and it never
// logs or returns a claim's value in an error: claims are a person's data.
package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/store"
)

// Refusals that say what is missing; none carries a claim's value.
var (
	// ErrNoMFA: the token shows no second factor (amr/acr).
	ErrNoMFA = errors.New("the sign-in did not use multi-factor authentication")
	// ErrNoRole: no value of the role claim maps to a Candor role.
	ErrNoRole = errors.New("this account has no Candor staff role")
	// ErrBadToken: the token is not one the issuer signed for us, or has expired.
	ErrBadToken = errors.New("the token was not issued for Candor by the configured provider, or has expired")
	// ErrNonce: the ID token answers another sign-in than this one.
	ErrNonce = errors.New("the ID token's nonce does not match this sign-in")
)

// Identity is a signed-in staff member as Candor needs them: no name, no
// email.
type Identity struct {
	// Principal is a pseudonym for the provider's subject: "oidc_" and a
	// hash of issuer and sub, so logs and the registry never hold the
	// provider's user ID.
	Principal string
	Role      string
	// AMR and ACR as the provider stated them (method names, not personal).
	AMR []string
	ACR string
	// Expiry is the token's expiry.
	Expiry time.Time
}

// Provider signs staff in through one OpenID Connect issuer. Discovery
// happens on first use, so `candor serve` starts while the provider is
// unreachable and staff sign-in recovers when it is back.
type Provider struct {
	cfg    config.OIDC
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// New checks cfg and returns a Provider; redirectURL is where the provider
// sends the browser back (…/staff/callback). client nil is http.DefaultClient.
func New(cfg config.OIDC, client *http.Client) (*Provider, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || len(cfg.Roles) == 0 {
		return nil, errors.New("staff sign-in needs an issuer, a client ID and a role mapping")
	}
	if len(cfg.RequiredAMR) == 0 && len(cfg.RequiredACR) == 0 {
		return nil, errors.New("staff sign-in needs required amr or acr values: MFA is not optional")
	}
	for _, role := range cfg.Roles {
		if role != store.RoleOperator && role != store.RoleAuditor {
			return nil, fmt.Errorf("CANDOR_OIDC_ROLES: a staff role is %s or %s, not %q", store.RoleOperator, store.RoleAuditor, role)
		}
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Provider{cfg: cfg, client: client}, nil
}

func (p *Provider) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// discover fetches the issuer's metadata once it succeeds.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	// The key set outlives this request: its fetches use the context
	// given to NewProvider, so it must not be the request's.
	op, err := oidc.NewProvider(p.ctx(context.WithoutCancel(ctx)), p.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover the OIDC provider: %w", err)
	}
	p.provider = op
	return op, nil
}

func (p *Provider) oauth(op *oidc.Provider, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: redirectURL, Scopes: []string{oidc.ScopeOpenID, "profile"}}
}

// Attempt is one sign-in's secrets: state (ties the callback to this
// browser), nonce (ties the ID token to this sign-in) and the PKCE
// verifier (ties the code to us). They are kept server-side until the
// callback and used once.
type Attempt struct {
	State, Nonce, Verifier string
}

// NewAttempt makes fresh random secrets.
func NewAttempt() Attempt {
	return Attempt{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier()}
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthURL is where to send the browser to sign in.
func (p *Provider) AuthURL(ctx context.Context, a Attempt, redirectURL string) (string, error) {
	op, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	return p.oauth(op, redirectURL).AuthCodeURL(a.State, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier)), nil
}

// Exchange redeems the callback's code with a's PKCE verifier, verifies the
// ID token (signature, issuer, audience, expiry, nonce) and applies the
// policy.
func (p *Provider) Exchange(ctx context.Context, a Attempt, code, redirectURL string) (Identity, error) {
	op, err := p.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := p.oauth(op, redirectURL).Exchange(p.ctx(ctx), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("%w (code exchange refused)", ErrBadToken)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fmt.Errorf("%w (no ID token in the answer)", ErrBadToken)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}).Verify(p.ctx(ctx), raw)
	if err != nil {
		return Identity{}, ErrBadToken
	}
	if !CheckNonce(idt.Nonce, a.Nonce) {
		return Identity{}, ErrNonce
	}
	return p.identity(idt)
}

// CheckNonce compares an ID token's nonce with the one this sign-in sent.
func CheckNonce(got, want string) bool {
	return want != "" && got == want
}

// VerifyBearer checks a token that a client sends as `Authorization:
// Bearer` (the Temporal UI's codec calls with passAccessToken): a JWT, ID
// or access token, signed by the issuer, unexpired, for Candor's client ID
// or one of the configured audiences, meeting the same policy as a
// sign-in.
func (p *Provider) VerifyBearer(ctx context.Context, raw string) (Identity, error) {
	op, err := p.discover(ctx)
	if err != nil {
		return Identity{}, err
	}
	idt, err := op.Verifier(&oidc.Config{SkipClientIDCheck: true}).Verify(p.ctx(ctx), raw)
	if err != nil {
		return Identity{}, ErrBadToken
	}
	ok := false
	for _, aud := range idt.Audience {
		ok = ok || aud == p.cfg.ClientID || slices.Contains(p.cfg.Audiences, aud)
	}
	if !ok {
		return Identity{}, ErrBadToken
	}
	return p.identity(idt)
}

// identity applies the policy: MFA, then a role.
func (p *Provider) identity(idt *oidc.IDToken) (Identity, error) {
	var c struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	var all map[string]any
	if err := idt.Claims(&c); err != nil {
		return Identity{}, ErrBadToken
	}
	if err := idt.Claims(&all); err != nil {
		return Identity{}, ErrBadToken
	}
	mfa := slices.Contains(p.cfg.RequiredACR, c.ACR) && c.ACR != ""
	for _, m := range c.AMR {
		mfa = mfa || slices.Contains(p.cfg.RequiredAMR, m)
	}
	if !mfa {
		return Identity{}, ErrNoMFA
	}
	role := p.role(all[p.cfg.RoleClaim])
	if role == "" {
		return Identity{}, ErrNoRole
	}
	sum := sha256.Sum256([]byte(idt.Issuer + "\x00" + idt.Subject))
	return Identity{Principal: "oidc_" + hex.EncodeToString(sum[:8]), Role: role, AMR: c.AMR, ACR: c.ACR, Expiry: idt.Expiry}, nil
}

// role maps the role claim (a string, or a list of strings) to a role; an
// operator mapping wins over an auditor one.
func (p *Provider) role(claim any) string {
	var values []string
	switch v := claim.(type) {
	case string:
		values = strings.Fields(v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				values = append(values, s)
			}
		}
	}
	role := ""
	for _, v := range values {
		switch p.cfg.Roles[v] {
		case store.RoleOperator:
			return store.RoleOperator
		case store.RoleAuditor:
			role = store.RoleAuditor
		}
	}
	return role
}
