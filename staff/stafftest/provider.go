// Package stafftest starts a real OpenID Connect provider for tests: the
// OpenID-certified github.com/zitadel/oidc/v3 op package, with its example
// in-memory storage and login page, extended so each test person carries
// groups and the amr/acr claims of their sign-in. Tests sign in through its
// login form like a person would; nothing here mints a token by hand.
package stafftest

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Person is an account at the provider.
type Person struct {
	Username, Password string
	Groups             []string
	// AMR and ACR are what the provider states about this person's
	// sign-in (RFC 8176 values like "pwd", "otp").
	AMR []string
	ACR string
}

// Client IDs registered at the provider.
const (
	ClientID     = "candor"
	ClientSecret = "candor-test-secret"
	// UIClientID is a second client, standing for the Temporal UI's own
	// sign-in, whose JWT access tokens it passes to the codec.
	UIClientID     = "temporal-ui"
	UIClientSecret = "temporal-ui-secret"
)

// Provider is a running OpenID provider.
type Provider struct {
	Issuer string
	people map[string]Person // by user ID
}

// Start runs a provider on loopback until the test ends. redirectURIs are
// the callbacks both clients may use.
func Start(t testing.TB, redirectURIs []string, people ...Person) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	p := &Provider{Issuer: issuer, people: map[string]Person{}}
	users := userStore{byID: map[string]*storage.User{}}
	for i, person := range people {
		id := "user" + string(rune('a'+i))
		p.people[id] = person
		users.byID[id] = &storage.User{ID: id, Username: person.Username, Password: person.Password}
	}
	clients := map[string]*storage.Client{
		ClientID:   storage.WebClient(ClientID, ClientSecret, redirectURIs...),
		UIClientID: storage.WebClient(UIClientID, UIClientSecret, redirectURIs...),
	}
	st := &mfaStorage{Storage: storage.NewStorageWithClients(users, clients), people: p.people}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

type userStore struct{ byID map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }
func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, user := range u.byID {
		if user.Username == name {
			return user
		}
	}
	return nil
}
func (u userStore) ExampleClientID() string { return "service" }

// mfaStorage adds each person's groups, amr and acr to what the example
// storage issues, and JWT access tokens for the Temporal UI's client.
type mfaStorage struct {
	*storage.Storage
	people map[string]Person
}

// mfaRequest states the person's amr and acr once they have signed in.
type mfaRequest struct {
	*storage.AuthRequest
	person Person
}

func (r mfaRequest) GetAMR() []string {
	if r.Done() {
		return r.person.AMR
	}
	return nil
}

func (r mfaRequest) GetACR() string {
	if r.Done() {
		return r.person.ACR
	}
	return ""
}

func (s *mfaStorage) wrap(req op.AuthRequest, err error) (op.AuthRequest, error) {
	if err != nil {
		return nil, err
	}
	ar, ok := req.(*storage.AuthRequest)
	if !ok {
		return req, nil
	}
	return mfaRequest{AuthRequest: ar, person: s.people[ar.UserID]}, nil
}

func unwrap(req op.TokenRequest) op.TokenRequest {
	if m, ok := req.(mfaRequest); ok {
		return m.AuthRequest
	}
	return req
}

func (s *mfaStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByID(ctx, id))
}

func (s *mfaStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.wrap(s.Storage.AuthRequestByCode(ctx, code))
}

func (s *mfaStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	return s.Storage.CreateAccessToken(ctx, unwrap(req))
}

func (s *mfaStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	return s.Storage.CreateAccessAndRefreshTokens(ctx, unwrap(req), current)
}

// SetUserinfoFromRequest puts the groups into the ID token.
func (s *mfaStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.people[req.GetSubject()].Groups)
	return nil
}

// GetPrivateClaimsFromRequest puts groups, amr and acr into JWT access
// tokens, as IdPs like Okta and Entra do.
func (s *mfaStorage) GetPrivateClaimsFromRequest(ctx context.Context, req op.TokenRequest, scopes []string) (map[string]any, error) {
	claims := map[string]any{"groups": s.people[req.GetSubject()].Groups}
	if m, ok := req.(mfaRequest); ok {
		claims["amr"] = m.GetAMR()
		if acr := m.GetACR(); acr != "" {
			claims["acr"] = acr
		}
	}
	return claims, nil
}

// GetClientByClientID gives the Temporal UI's client JWT access tokens.
func (s *mfaStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != UIClientID {
		return c, err
	}
	return jwtClient{c}, nil
}

type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

// SignIn walks a browser-like client through the provider's login page:
// from authURL (the provider's authorization endpoint with Candor's
// parameters) to the redirect back with a code. It returns that redirect
// URL, not yet visited. client keeps the provider's cookies.
func SignIn(t testing.TB, client *http.Client, authURL, username, password string) *url.URL {
	t.Helper()
	if client == nil {
		jar, _ := cookiejar.New(nil)
		client = &http.Client{Jar: jar}
	}
	var back *url.URL
	c := *client
	issuerHost := mustParse(t, authURL).Host
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != issuerHost {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("open the provider's sign-in: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/login/username") {
		t.Fatalf("the provider did not show its login page: %s %s", resp.Status, resp.Request.URL.Path)
	}
	id := resp.Request.URL.Query().Get("authRequestID")
	loginURL := resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err = c.PostForm(loginURL.String(), url.Values{"id": {id}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatalf("post the provider's login form: %v", err)
	}
	resp.Body.Close()
	if back == nil {
		t.Fatalf("the provider did not send the browser back (%s): wrong password?", resp.Status)
	}
	return back
}

func mustParse(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
