package e2e

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/keys"
	"github.com/candorhq/candor/staff"
	"github.com/candorhq/candor/staff/stafftest"
	"github.com/candorhq/candor/store"
	"github.com/candorhq/candor/store/storetest"
	"github.com/candorhq/candor/web"
)

// An operator opens the staff console in a real headless chromium, is sent
// to the OpenID provider's own login page, signs in there (an account whose
// sign-in used a one-time password), lands back on the console, and signs
// out. A colleague whose sign-in used only a password is turned away.
func TestStaffConsole_SignInThroughTheProvidersLoginPageInARealBrowser(t *testing.T) {
	db, _ := storetest.New(t)
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, _ := keys.New(k)
	var h http.Handler
	candor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(candor.Close)
	idp := stafftest.Start(t, []string{candor.URL + "/staff/callback"},
		stafftest.Person{Username: "ops", Password: "correct horse", Groups: []string{"ops"}, AMR: []string{"pwd", "otp"}},
		stafftest.Person{Username: "ops-pwd", Password: "battery staple", Groups: []string{"ops"}, AMR: []string{"pwd"}})
	p, err := staff.New(config.OIDC{Issuer: idp.Issuer, ClientID: stafftest.ClientID, ClientSecret: stafftest.ClientSecret,
		RoleClaim: "groups", Roles: map[string]string{"ops": store.RoleOperator}, RequiredAMR: config.DefaultRequiredAMR}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h = (&web.Server{DB: db, Keys: ring, Staff: p, PublicURL: candor.URL, Logger: slog.New(slog.DiscardHandler)}).Handler()

	br := startBrowser(t)
	br.open(candor.URL + "/staff")
	if u := br.currentURL(); !strings.HasPrefix(u, idp.Issuer+"/login/username") {
		t.Fatalf("/staff did not lead to the provider's login page: %s", u)
	}
	br.fill("#username", "ops")
	br.fill("#password", "correct horse")
	br.follow("button[type=submit]")
	if u := br.currentURL(); u != candor.URL+"/staff" {
		t.Fatalf("after the provider's login the browser is at %s", u)
	}
	if got := br.text("main"); !strings.Contains(got, "Signed in as operator") || !strings.Contains(got, "otp") {
		t.Fatalf("console:\n%s", got)
	}
	br.follow("form[action='/staff/logout'] button")
	if got := br.text("main"); !strings.Contains(got, "Your staff session has ended") {
		t.Fatalf("after sign-out:\n%s", got)
	}
	var n int
	_ = db.Get(&n, `SELECT count(*) FROM staff_sessions`)
	if n != 0 {
		t.Fatalf("%d sessions after sign-out", n)
	}

	// Password only: the provider lets them in, Candor does not.
	br.open(candor.URL + "/staff")
	if u := br.currentURL(); !strings.HasPrefix(u, idp.Issuer+"/login/username") {
		t.Fatalf("after sign-out /staff did not ask to sign in again: %s", u)
	}
	br.fill("#username", "ops-pwd")
	br.fill("#password", "battery staple")
	br.follow("button[type=submit]")
	if got := br.text("main"); !strings.Contains(got, "needs multi-factor authentication") {
		t.Fatalf("password-only sign-in:\n%s", got)
	}
	_ = db.Get(&n, `SELECT count(*) FROM staff_sessions`)
	if n != 0 {
		t.Fatalf("%d sessions after a refused sign-in", n)
	}
}
