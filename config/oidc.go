package config

import (
	"fmt"
	"net/url"
	"strings"
)

// OIDC is the staff console's sign-in through an OpenID Connect provider.
// Issuer empty means no staff sign-in is configured.
type OIDC struct {
	Issuer       string // CANDOR_OIDC_ISSUER
	ClientID     string // CANDOR_OIDC_CLIENT_ID
	ClientSecret string // CANDOR_OIDC_CLIENT_SECRET
	// RoleClaim names the claim holding the person's groups or roles
	// (CANDOR_OIDC_ROLE_CLAIM, default "groups"); a string or a list.
	RoleClaim string
	// Roles maps a value of RoleClaim to a Candor role
	// (CANDOR_OIDC_ROLES, "idp-group=operator,other-group=auditor").
	// Nobody without a mapped value gets in; staff.New checks the role
	// names.
	Roles map[string]string
	// RequiredAMR and RequiredACR say what counts as multi-factor: the ID
	// token's amr holds one of RequiredAMR, or its acr is one of
	// RequiredACR (CANDOR_OIDC_REQUIRED_AMR, default "mfa,otp,hwk,swk";
	// CANDOR_OIDC_REQUIRED_ACR, default none). At least one is set: MFA
	// cannot be configured away.
	RequiredAMR []string
	RequiredACR []string
	// Audiences are further client IDs whose tokens the codec endpoint
	// accepts as bearer tokens: the Temporal UI's own OIDC client
	// (CANDOR_OIDC_AUDIENCES, comma-separated). ClientID always counts.
	Audiences []string
}

// DefaultRequiredAMR are RFC 8176 method values that mean a second factor.
var DefaultRequiredAMR = []string{"mfa", "otp", "hwk", "swk"}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// oidcFromEnv reads the CANDOR_OIDC_* variables; all are read on every call.
func oidcFromEnv(getenv func(string) string) (OIDC, error) {
	o := OIDC{
		Issuer:       strings.TrimSpace(getenv("CANDOR_OIDC_ISSUER")),
		ClientID:     strings.TrimSpace(getenv("CANDOR_OIDC_CLIENT_ID")),
		ClientSecret: getenv("CANDOR_OIDC_CLIENT_SECRET"),
		RoleClaim:    strings.TrimSpace(getenv("CANDOR_OIDC_ROLE_CLAIM")),
		RequiredAMR:  splitList(getenv("CANDOR_OIDC_REQUIRED_AMR")),
		RequiredACR:  splitList(getenv("CANDOR_OIDC_REQUIRED_ACR")),
		Audiences:    splitList(getenv("CANDOR_OIDC_AUDIENCES")),
	}
	roles := getenv("CANDOR_OIDC_ROLES")
	if o.RoleClaim == "" {
		o.RoleClaim = "groups"
	}
	if len(o.RequiredAMR) == 0 && len(o.RequiredACR) == 0 {
		o.RequiredAMR = DefaultRequiredAMR
	}
	if o.Issuer == "" {
		if o.ClientID != "" || roles != "" {
			return o, fmt.Errorf("CANDOR_OIDC_ISSUER is needed with CANDOR_OIDC_CLIENT_ID and CANDOR_OIDC_ROLES")
		}
		return o, nil
	}
	// http only on loopback: a provider on this machine, for trying it out.
	u, err := url.Parse(o.Issuer)
	loopback := err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
	if err != nil || !(u.Scheme == "https" || u.Scheme == "http" && loopback) || u.Host == "" {
		return o, fmt.Errorf("CANDOR_OIDC_ISSUER must be the provider's absolute https URL")
	}
	if o.ClientID == "" {
		return o, fmt.Errorf("CANDOR_OIDC_CLIENT_ID is needed with CANDOR_OIDC_ISSUER")
	}
	o.Roles = map[string]string{}
	for _, pair := range splitList(roles) {
		value, role, ok := strings.Cut(pair, "=")
		value, role = strings.TrimSpace(value), strings.TrimSpace(role)
		if !ok || value == "" || role == "" {
			return o, fmt.Errorf("CANDOR_OIDC_ROLES: %q is not group=operator or group=auditor", pair)
		}
		o.Roles[value] = role
	}
	if len(o.Roles) == 0 {
		return o, fmt.Errorf("CANDOR_OIDC_ROLES is needed with CANDOR_OIDC_ISSUER, like candor-operators=operator,candor-auditors=auditor")
	}
	return o, nil
}
