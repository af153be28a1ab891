package staff_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/oauth2"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/staff"
	"github.com/candorhq/candor/staff/stafftest"
)

const callback = "http://127.0.0.1:1/staff/callback"

var people = []stafftest.Person{
	{Username: "ops-mfa", Password: "pw1", Groups: []string{"ops"}, AMR: []string{"pwd", "otp"}},
	{Username: "ops-pwd", Password: "pw2", Groups: []string{"ops"}, AMR: []string{"pwd"}},
	{Username: "sales-mfa", Password: "pw3", Groups: []string{"sales"}, AMR: []string{"pwd", "hwk"}},
	{Username: "audit-acr", Password: "pw4", Groups: []string{"audit"}, AMR: []string{"pwd"}, ACR: "phr"},
}

func newProvider(t *testing.T, mut func(*config.OIDC)) (*staff.Provider, *stafftest.Provider) {
	t.Helper()
	idp := stafftest.Start(t, []string{callback}, people...)
	cfg := config.OIDC{Issuer: idp.Issuer, ClientID: stafftest.ClientID, ClientSecret: stafftest.ClientSecret,
		RoleClaim: "groups", Roles: map[string]string{"ops": "operator", "audit": "auditor"},
		RequiredAMR: config.DefaultRequiredAMR, Audiences: []string{stafftest.UIClientID}}
	if mut != nil {
		mut(&cfg)
	}
	p, err := staff.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, idp
}

func signIn(t *testing.T, p *staff.Provider, user, pw string) (staff.Identity, error) {
	t.Helper()
	ctx := context.Background()
	a := staff.NewAttempt()
	u, err := p.AuthURL(ctx, a, callback)
	if err != nil {
		t.Fatal(err)
	}
	back := stafftest.SignIn(t, nil, u, user, pw)
	if got := back.Query().Get("state"); got != a.State {
		t.Fatalf("state came back as %q", got)
	}
	return p.Exchange(ctx, a, back.Query().Get("code"), callback)
}

func TestExchange_AppliesMFAAndRolePolicy(t *testing.T) {
	p, _ := newProvider(t, func(c *config.OIDC) { c.RequiredACR = []string{"phr"} })
	id, err := signIn(t, p, "ops-mfa", "pw1")
	if err != nil || id.Role != "operator" || id.Principal == "" {
		t.Fatalf("MFA operator: %+v, %v", id, err)
	}
	if _, err := signIn(t, p, "ops-pwd", "pw2"); !errors.Is(err, staff.ErrNoMFA) {
		t.Fatalf("password only: %v, want ErrNoMFA", err)
	}
	if _, err := signIn(t, p, "sales-mfa", "pw3"); !errors.Is(err, staff.ErrNoRole) {
		t.Fatalf("unmapped group: %v, want ErrNoRole", err)
	}
	if id, err := signIn(t, p, "audit-acr", "pw4"); err != nil || id.Role != "auditor" {
		t.Fatalf("acr phr counts as MFA when configured: %+v, %v", id, err)
	}
}

func TestExchange_ACRNotConfiguredDoesNotCount(t *testing.T) {
	p, _ := newProvider(t, nil)
	if _, err := signIn(t, p, "audit-acr", "pw4"); !errors.Is(err, staff.ErrNoMFA) {
		t.Fatalf("acr without CANDOR_OIDC_REQUIRED_ACR: %v, want ErrNoMFA", err)
	}
}

func TestExchange_CodeFromAnotherSignInIsRefused(t *testing.T) {
	p, _ := newProvider(t, nil)
	ctx := context.Background()
	a, b := staff.NewAttempt(), staff.NewAttempt()
	u, _ := p.AuthURL(ctx, a, callback)
	back := stafftest.SignIn(t, nil, u, "ops-mfa", "pw1")
	code := back.Query().Get("code")
	// The code of sign-in a, presented with b's secrets (a code injection):
	// PKCE refuses it.
	if _, err := p.Exchange(ctx, b, code, callback); !errors.Is(err, staff.ErrBadToken) {
		t.Fatalf("code under another attempt: %v", err)
	}
	// Once redeemed, the code is spent.
	if _, err := p.Exchange(ctx, a, code, callback); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := p.Exchange(ctx, a, code, callback); !errors.Is(err, staff.ErrBadToken) {
		t.Fatalf("code replayed: %v", err)
	}
}

func TestExchange_NonceMustMatch(t *testing.T) {
	p, _ := newProvider(t, nil)
	ctx := context.Background()
	a := staff.NewAttempt()
	u, _ := p.AuthURL(ctx, a, callback)
	back := stafftest.SignIn(t, nil, u, "ops-mfa", "pw1")
	other := a
	other.Nonce = staff.NewAttempt().Nonce // same PKCE verifier, another sign-in's nonce
	if _, err := p.Exchange(ctx, other, back.Query().Get("code"), callback); !errors.Is(err, staff.ErrNonce) {
		t.Fatalf("ID token for another nonce: %v, want ErrNonce", err)
	}
}

// uiAccessToken signs in as the Temporal UI's client would and returns its
// JWT access token.
func uiAccessToken(t *testing.T, idp *stafftest.Provider, user, pw string) (access, id string) {
	t.Helper()
	ctx := context.Background()
	cfg := oauth2.Config{ClientID: stafftest.UIClientID, ClientSecret: stafftest.UIClientSecret, RedirectURL: callback,
		Endpoint: oauth2.Endpoint{AuthURL: idp.Issuer + "/auth", TokenURL: idp.Issuer + "/oauth/token"}, Scopes: []string{"openid"}}
	v := oauth2.GenerateVerifier()
	back := stafftest.SignIn(t, nil, cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), user, pw)
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	idt, _ := tok.Extra("id_token").(string)
	return tok.AccessToken, idt
}

func TestVerifyBearer_TemporalUIAccessToken(t *testing.T) {
	p, idp := newProvider(t, nil)
	ctx := context.Background()
	access, idt := uiAccessToken(t, idp, "ops-mfa", "pw1")
	for name, tok := range map[string]string{"access": access, "id": idt} {
		if id, err := p.VerifyBearer(ctx, tok); err != nil || id.Role != "operator" {
			t.Fatalf("%s token: %+v, %v", name, id, err)
		}
	}
	access, _ = uiAccessToken(t, idp, "ops-pwd", "pw2")
	if _, err := p.VerifyBearer(ctx, access); !errors.Is(err, staff.ErrNoMFA) {
		t.Fatalf("no MFA: %v", err)
	}
	// A token for an audience Candor does not accept.
	strict, err := staff.New(config.OIDC{Issuer: idp.Issuer, ClientID: stafftest.ClientID, RoleClaim: "groups",
		Roles: map[string]string{"ops": "operator"}, RequiredAMR: config.DefaultRequiredAMR}, nil)
	if err != nil {
		t.Fatal(err)
	}
	access, _ = uiAccessToken(t, idp, "ops-mfa", "pw1")
	if _, err := strict.VerifyBearer(ctx, access); !errors.Is(err, staff.ErrBadToken) {
		t.Fatalf("other audience: %v", err)
	}
	if _, err := p.VerifyBearer(ctx, "not.a.jwt"); !errors.Is(err, staff.ErrBadToken) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestNew_RefusesConfigWithoutMFAOrWithUnknownRole(t *testing.T) {
	base := config.OIDC{Issuer: "https://idp.example", ClientID: "c", Roles: map[string]string{"g": "operator"}}
	if _, err := staff.New(base, nil); err == nil {
		t.Fatal("no required amr/acr accepted")
	}
	base.RequiredAMR = []string{"otp"}
	base.Roles = map[string]string{"g": "admin"}
	if _, err := staff.New(base, nil); err == nil {
		t.Fatal("role admin accepted")
	}
}
