package config

import (
	"slices"
	"strings"
	"testing"
)

func TestFromEnv_OIDCStaffSignIn(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := fromEnv(env(map[string]string{"CANDOR_OIDC_ISSUER": "https://idp.example", "CANDOR_OIDC_CLIENT_ID": "candor",
		"CANDOR_OIDC_ROLES": "ops = operator, audit=auditor", "CANDOR_OIDC_REQUIRED_ACR": "phr,phrh"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.RoleClaim != "groups" || c.OIDC.Roles["ops"] != "operator" || c.OIDC.Roles["audit"] != "auditor" ||
		!slices.Equal(c.OIDC.RequiredACR, []string{"phr", "phrh"}) || len(c.OIDC.RequiredAMR) != 0 {
		t.Fatalf("%+v", c.OIDC)
	}
	c, _ = fromEnv(env(map[string]string{"CANDOR_OIDC_ISSUER": "https://idp.example", "CANDOR_OIDC_CLIENT_ID": "candor", "CANDOR_OIDC_ROLES": "ops=operator"}))
	if !slices.Equal(c.OIDC.RequiredAMR, DefaultRequiredAMR) {
		t.Fatalf("default amr: %v", c.OIDC.RequiredAMR)
	}
	if c, err := fromEnv(env(nil)); err != nil || c.OIDC.Issuer != "" {
		t.Fatalf("unset: %+v %v", c.OIDC, err)
	}
	for name, kv := range map[string]map[string]string{
		"CANDOR_OIDC_ISSUER":            {"CANDOR_OIDC_CLIENT_ID": "candor", "CANDOR_OIDC_ROLES": "ops=operator"},
		"provider's absolute https URL": {"CANDOR_OIDC_ISSUER": "http://idp.example", "CANDOR_OIDC_CLIENT_ID": "c", "CANDOR_OIDC_ROLES": "ops=operator"},
		"absolute https URL":            {"CANDOR_OIDC_ISSUER": "idp.example", "CANDOR_OIDC_CLIENT_ID": "c", "CANDOR_OIDC_ROLES": "ops=operator"},
		"CANDOR_OIDC_CLIENT_ID":         {"CANDOR_OIDC_ISSUER": "https://idp.example", "CANDOR_OIDC_ROLES": "ops=operator"},
		"CANDOR_OIDC_ROLES is needed":   {"CANDOR_OIDC_ISSUER": "https://idp.example", "CANDOR_OIDC_CLIENT_ID": "c"},
		"group=operator":                {"CANDOR_OIDC_ISSUER": "https://idp.example", "CANDOR_OIDC_CLIENT_ID": "c", "CANDOR_OIDC_ROLES": "ops"},
	} {
		if _, err := fromEnv(env(kv)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: %v, want an error naming %s", kv, err, name)
		}
	}
}
