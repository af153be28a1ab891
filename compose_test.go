package candor_test

// Static checks of docker-compose.yml and Dockerfile against the production
// topology the README's "Running in production" describes. They need no
// Docker daemon.

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/candorhq/candor/config"
	"github.com/candorhq/candor/prodenv"
	"github.com/candorhq/candor/review"
)

const (
	composePath    = "docker-compose.yml"
	dockerfilePath = "Dockerfile"
)

// secretVars must be given as ${NAME:?message} so compose refuses to start without them.
var secretVars = []string{"SHOPIFY_API_SECRET", "SHOPIFY_API_KEY", "SENDGRID_API_KEY", "CANDOR_MASTER_KEY"}

// appVars must reach both the HTTP server and the worker.
var appVars = []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "CANDOR_MASTER_KEY", "SENDGRID_API_KEY", "CANDOR_PUBLIC_URL", "CANDOR_MAIL_FROM"}

type composeFile struct {
	Version  any                       `yaml:"version"`
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string   `yaml:"image"`
	Entrypoint  any      `yaml:"entrypoint"`
	Profiles    []string `yaml:"profiles"`
	Build       any      `yaml:"build"`
	Command     any      `yaml:"command"`
	Environment any      `yaml:"environment"`
	DependsOn   any      `yaml:"depends_on"`
	Healthcheck any      `yaml:"healthcheck"`
	Ports       []any    `yaml:"ports"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatalf("read %s: %v", composePath, err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("parse %s: %v", composePath, err)
	}
	return cf
}

func service(t *testing.T, cf composeFile, name string) composeService {
	t.Helper()
	s, ok := cf.Services[name]
	if !ok {
		t.Fatalf("%s: service %q is missing", composePath, name)
	}
	return s
}

// env returns a service's environment as a map, for both the mapping and the
// list ("KEY=VALUE") forms. A key with no value maps to nil.
func env(t *testing.T, svc string, s composeService) map[string]any {
	t.Helper()
	out := map[string]any{}
	switch e := s.Environment.(type) {
	case nil:
	case map[string]any:
		for k, v := range e {
			out[k] = v
		}
	case []any:
		for _, item := range e {
			str, ok := item.(string)
			if !ok {
				t.Fatalf("service %s: environment entry %v is not a string", svc, item)
			}
			if k, v, ok := strings.Cut(str, "="); ok {
				out[k] = v
			} else {
				out[str] = nil
			}
		}
	default:
		t.Fatalf("service %s: environment has unexpected type %T", svc, s.Environment)
	}
	return out
}

func envString(t *testing.T, svc string, e map[string]any, key string) (string, bool) {
	t.Helper()
	v, ok := e[key]
	if !ok || v == nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case int:
		return strconv.Itoa(v), true
	default:
		return fmt.Sprint(v), true
	}
}

// dependsOn returns dependency name -> condition ("" for the short list form).
func dependsOn(t *testing.T, svc string, s composeService) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch d := s.DependsOn.(type) {
	case nil:
	case []any:
		for _, name := range d {
			out[fmt.Sprint(name)] = ""
		}
	case map[string]any:
		for name, spec := range d {
			cond := ""
			if m, ok := spec.(map[string]any); ok {
				if c, ok := m["condition"].(string); ok {
					cond = c
				}
			}
			out[name] = cond
		}
	default:
		t.Fatalf("service %s: depends_on has unexpected type %T", svc, s.DependsOn)
	}
	return out
}

func command(s composeService) []string {
	switch c := s.Command.(type) {
	case string:
		return strings.Fields(c)
	case []any:
		out := make([]string, 0, len(c))
		for _, a := range c {
			out = append(out, fmt.Sprint(a))
		}
		return out
	}
	return nil
}

// TestComposeYAMLMergeKeys makes sure the YAML library resolves merge keys
// (<<: *anchor) when decoding, which the environment checks below rely on.
func TestComposeYAMLMergeKeys(t *testing.T) {
	doc := "x-env: &e\n  A: '1'\nservices:\n  s:\n    environment:\n      <<: *e\n      B: '2'\n"
	var cf composeFile
	if err := yaml.Unmarshal([]byte(doc), &cf); err != nil {
		t.Fatal(err)
	}
	got := env(t, "s", cf.Services["s"])
	if got["A"] != "1" || got["B"] != "2" || len(got) != 2 {
		t.Fatalf("merge keys not resolved: got environment %v, want A=1 and B=2", got)
	}
}

func TestComposeServices(t *testing.T) {
	cf := loadCompose(t)
	if cf.Version != nil {
		t.Errorf("%s: drop the top-level version: key (Compose Specification)", composePath)
	}
	for _, name := range []string{"postgres", "temporal-admin-tools", "temporal", "temporal-create-namespace", "temporal-ui", "migrate", "serve", "worker"} {
		if _, ok := cf.Services[name]; !ok {
			t.Errorf("%s: service %q is missing", composePath, name)
		}
	}
	if pg, ok := cf.Services["postgres"]; ok {
		hc, _ := pg.Healthcheck.(map[string]any)
		if hc == nil || hc["test"] == nil {
			t.Errorf("service postgres: healthcheck with a test is missing")
		} else if !strings.Contains(fmt.Sprint(hc["test"]), "pg_isready") {
			t.Errorf("service postgres: healthcheck test %v does not use pg_isready", hc["test"])
		}
	}
}

func TestComposeCommandsAndDependencies(t *testing.T) {
	cf := loadCompose(t)

	mig := service(t, cf, "migrate")
	if got := command(mig); !slices.Equal(got, []string{"migrate"}) {
		t.Errorf("service migrate: command = %q, want [migrate]", got)
	}
	if c, ok := dependsOn(t, "migrate", mig)["postgres"]; !ok || c != "service_healthy" {
		t.Errorf("service migrate: want depends_on postgres with condition service_healthy, got %q (present=%v)", c, ok)
	}
	checkBuiltFromDockerfile(t, "migrate", mig)

	for _, name := range []string{"serve", "worker"} {
		s := service(t, cf, name)
		if got := command(s); !slices.Equal(got, []string{name}) {
			t.Errorf("service %s: command = %q, want [%s]", name, got, name)
		}
		checkBuiltFromDockerfile(t, name, s)
		deps := dependsOn(t, name, s)
		if c, ok := deps["migrate"]; !ok || c != "service_completed_successfully" {
			t.Errorf("service %s: want depends_on migrate with condition service_completed_successfully, got %q (present=%v)", name, c, ok)
		}
		// serve reads the namespace's retention at start, so the namespace must exist.
		if c, ok := deps["temporal-create-namespace"]; !ok || c != "service_completed_successfully" {
			t.Errorf("service %s: want depends_on temporal-create-namespace with condition service_completed_successfully, got %q (present=%v)", name, c, ok)
		}
	}

	for svc, want := range map[string][2]string{
		"temporal-admin-tools":      {"postgres", "service_healthy"},
		"temporal":                  {"temporal-admin-tools", "service_completed_successfully"},
		"temporal-create-namespace": {"temporal", "service_healthy"},
	} {
		if c, ok := dependsOn(t, svc, service(t, cf, svc))[want[0]]; !ok || c != want[1] {
			t.Errorf("service %s: want depends_on %s with condition %s, got %q (present=%v)", svc, want[0], want[1], c, ok)
		}
	}
}

func checkBuiltFromDockerfile(t *testing.T, name string, s composeService) {
	t.Helper()
	if s.Image != "" {
		t.Errorf("service %s: has image %q; it must be built from the Dockerfile", name, s.Image)
	}
	context, dockerfile := "", ""
	switch b := s.Build.(type) {
	case nil:
		t.Errorf("service %s: build is missing; it must be built from %s", name, dockerfilePath)
		return
	case string:
		context = b
	case map[string]any:
		context, _ = b["context"].(string)
		dockerfile, _ = b["dockerfile"].(string)
	default:
		t.Errorf("service %s: build has unexpected type %T", name, s.Build)
		return
	}
	if context != "." && context != "./" {
		t.Errorf("service %s: build context = %q, want the repository root \".\"", name, context)
	}
	if dockerfile != "" && dockerfile != dockerfilePath {
		t.Errorf("service %s: build dockerfile = %q, want %s", name, dockerfile, dockerfilePath)
	}
}

func TestComposeEnvironment(t *testing.T) {
	cf := loadCompose(t)
	for _, name := range []string{"serve", "worker"} {
		e := env(t, name, service(t, cf, name))
		for _, key := range appVars {
			if v, ok := envString(t, name, e, key); !ok || v == "" {
				t.Errorf("service %s: environment variable %s is missing or empty", name, key)
			}
		}
		if v, _ := envString(t, name, e, "TEMPORAL_ADDRESS"); v != "" && v != "temporal:7233" {
			t.Errorf("service %s: TEMPORAL_ADDRESS = %q, want temporal:7233", name, v)
		}
		if v, _ := envString(t, name, e, "DATABASE_URL"); v != "" && !strings.Contains(v, "@postgres:5432/") {
			t.Errorf("service %s: DATABASE_URL = %q does not point at the postgres service", name, v)
		}
	}
	serve := env(t, "serve", service(t, cf, "serve"))
	if v, _ := envString(t, "serve", serve, "CANDOR_HTTP_ADDR"); v != "0.0.0.0:8080" {
		t.Errorf("service serve: CANDOR_HTTP_ADDR = %q, want 0.0.0.0:8080", v)
	}
	if !publishes(t, "serve", service(t, cf, "serve"), 8080, 8080) {
		t.Errorf("service serve: port mapping 8080:8080 is missing")
	}
	mig := env(t, "migrate", service(t, cf, "migrate"))
	if v, ok := envString(t, "migrate", mig, "DATABASE_URL"); !ok || v == "" {
		t.Errorf("service migrate: environment variable DATABASE_URL is missing or empty")
	}
	// Two roles: migrate as the owner, serve and worker as the app role
	// that migrate grants (docs/security.md).
	ownerURL, _ := envString(t, "migrate", mig, "CANDOR_MIGRATE_DATABASE_URL")
	appURL, _ := envString(t, "migrate", mig, "DATABASE_URL")
	if !strings.Contains(ownerURL, "@postgres:5432/") || urlUser(ownerURL) == urlUser(appURL) {
		t.Errorf("service migrate: CANDOR_MIGRATE_DATABASE_URL %q must name the owner, apart from DATABASE_URL's user %q", ownerURL, urlUser(appURL))
	}
	for _, name := range []string{"serve", "worker"} {
		if v, _ := envString(t, name, env(t, name, service(t, cf, name)), "DATABASE_URL"); urlUser(v) != urlUser(appURL) || urlUser(v) == urlUser(ownerURL) {
			t.Errorf("service %s: DATABASE_URL user %q, want the app role %q", name, urlUser(v), urlUser(appURL))
		}
	}
	roles := service(t, cf, "postgres-roles")
	if !strings.Contains(fmt.Sprint(roles.Command), "CREATE ROLE "+urlUser(appURL)) {
		t.Errorf("service postgres-roles does not create the app role %q", urlUser(appURL))
	}
	if c := dependsOn(t, "migrate", service(t, cf, "migrate"))["postgres-roles"]; c != "service_completed_successfully" {
		t.Errorf("service migrate: want depends_on postgres-roles completed, got %q", c)
	}

	tmp := env(t, "temporal", service(t, cf, "temporal"))
	// BIND_ON_IP: the image binds 127.0.0.1 otherwise, out of the other containers' reach.
	for key, want := range map[string]string{"DB": "postgres12", "DB_PORT": "5432", "POSTGRES_SEEDS": "postgres", "BIND_ON_IP": "0.0.0.0"} {
		if v, _ := envString(t, "temporal", tmp, key); v != want {
			t.Errorf("service temporal: %s = %q, want %q", key, v, want)
		}
	}
	for _, key := range []string{"POSTGRES_USER", "POSTGRES_PWD"} {
		if v, ok := envString(t, "temporal", tmp, key); !ok || v == "" {
			t.Errorf("service temporal: environment variable %s is missing or empty", key)
		}
	}
}

var requiredInterp = regexp.MustCompile(`^\$\{([A-Z0-9_]+):\?[^}]*\}$`)

func TestComposeSecrets(t *testing.T) {
	cf := loadCompose(t)
	for _, name := range []string{"serve", "worker"} {
		e := env(t, name, service(t, cf, name))
		for _, key := range secretVars {
			if _, ok := e[key]; !ok {
				t.Errorf("service %s: secret %s is missing from the environment", name, key)
			}
		}
	}
	// Any secret-like variable, in any service, must be a required interpolation.
	secretLike := regexp.MustCompile(`(SECRET|PASSWORD|PWD|_KEY)$`)
	for svcName, s := range cf.Services {
		e := env(t, svcName, s)
		for key := range e {
			if !slices.Contains(secretVars, key) && !secretLike.MatchString(key) {
				continue
			}
			v, ok := envString(t, svcName, e, key)
			if !ok {
				t.Errorf("service %s: secret %s has no value; give it as ${%s:?message}", svcName, key, key)
				continue
			}
			m := requiredInterp.FindStringSubmatch(v)
			if m == nil {
				t.Errorf("service %s: secret %s = %q; want ${NAME:?message}, never a literal or a default", svcName, key, v)
			} else if slices.Contains(secretVars, key) && m[1] != key {
				t.Errorf("service %s: secret %s reads ${%s}; want ${%s:?...}", svcName, key, m[1], key)
			}
		}
		// A password inside DATABASE_URL must be a required interpolation too.
		if u, ok := envString(t, svcName, e, "DATABASE_URL"); ok {
			if pw, ok := urlPassword(u); ok && !requiredInterp.MatchString(pw) {
				t.Errorf("service %s: DATABASE_URL password %q is not a required ${VAR:?message} interpolation", svcName, pw)
			}
		}
	}
}

var (
	interp      = regexp.MustCompile(`\$\{[^}]*\}`)
	placeholder = regexp.MustCompile("\x00([0-9]+)\x00")
)

// urlPassword returns the password part of a postgres URL whose parts may be
// ${...} interpolations (which can themselves contain ':').
func urlPassword(u string) (string, bool) {
	var parts []string
	masked := interp.ReplaceAllStringFunc(u, func(m string) string {
		parts = append(parts, m)
		return "\x00" + strconv.Itoa(len(parts)-1) + "\x00"
	})
	_, rest, ok := strings.Cut(masked, "://")
	if !ok {
		return "", false
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return "", false
	}
	_, pw, ok := strings.Cut(userinfo, ":")
	if !ok {
		return "", false
	}
	return placeholder.ReplaceAllStringFunc(pw, func(m string) string {
		i, _ := strconv.Atoi(strings.Trim(m, "\x00"))
		return parts[i]
	}), true
}

func TestComposeImagesPinned(t *testing.T) {
	cf := loadCompose(t)
	for name, s := range cf.Services {
		if s.Image == "" {
			if s.Build == nil {
				t.Errorf("service %s: has neither image nor build", name)
			}
			continue
		}
		ref, _, _ := strings.Cut(s.Image, "@")
		tag := ""
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			tag = ref[i+1:]
		}
		if tag == "" || tag == "latest" || strings.Contains(tag, "$") {
			t.Errorf("service %s: image %q is not pinned to a fixed tag", name, s.Image)
		}
	}
}

// TestComposeTemporalUICodecCarriesNoToken: the UI serves its codec
// endpoint to every browser, so the endpoint holds no token; the browser
// authenticates with the operator's cookie, which the UI sends only with
// TEMPORAL_CODEC_INCLUDE_CREDENTIALS (temporalio/ui-server config/docker.yaml).
func TestComposeTemporalUICodecCarriesNoToken(t *testing.T) {
	cf := loadCompose(t)
	ui := service(t, cf, "temporal-ui")
	e := env(t, "temporal-ui", ui)
	if v, _ := envString(t, "temporal-ui", e, "TEMPORAL_ADDRESS"); v != "temporal:7233" {
		t.Errorf("service temporal-ui: TEMPORAL_ADDRESS = %q, want temporal:7233", v)
	}
	endpoint, _ := envString(t, "temporal-ui", e, "TEMPORAL_CODEC_ENDPOINT")
	def := endpoint
	if m := regexp.MustCompile(`^\$\{CANDOR_CODEC_ENDPOINT:-([^}]*)\}$`).FindStringSubmatch(endpoint); m != nil {
		def = m[1]
	}
	if !strings.HasSuffix(def, "/codec") {
		t.Errorf("service temporal-ui: TEMPORAL_CODEC_ENDPOINT = %q, want Candor's /codec with nothing after it (a token in the path reaches every browser)", endpoint)
	}
	if v, _ := envString(t, "temporal-ui", e, "TEMPORAL_CODEC_INCLUDE_CREDENTIALS"); v != "true" {
		t.Errorf("service temporal-ui: TEMPORAL_CODEC_INCLUDE_CREDENTIALS = %q, want true so the operator's cookie reaches the codec", v)
	}
	if v, _ := envString(t, "temporal-ui", e, "TEMPORAL_CODEC_PASS_ACCESS_TOKEN"); v == "true" {
		t.Errorf("service temporal-ui: TEMPORAL_CODEC_PASS_ACCESS_TOKEN is true, but Candor does not accept the UI's OIDC token")
	}
	origins, _ := envString(t, "serve", env(t, "serve", service(t, cf, "serve")), "CANDOR_CODEC_ORIGINS")
	if !strings.Contains(origins, "http://localhost:8233") {
		t.Errorf("service serve: CANDOR_CODEC_ORIGINS = %q, want the UI's origin http://localhost:8233", origins)
	}
}

// TestComposePublishesOnlyCandorByDefault: the Temporal frontend and UI have
// no authentication here, so nothing but Candor's HTTP port reaches the
// host by default; the UI is opt-in (a profile) and then on loopback only.
func TestComposePublishesOnlyCandorByDefault(t *testing.T) {
	cf := loadCompose(t)
	for name, s := range cf.Services {
		if len(s.Ports) == 0 || name == "serve" {
			continue
		}
		if name != "temporal-ui" {
			t.Errorf("service %s: publishes %v; only serve may publish a port", name, s.Ports)
			continue
		}
		if len(s.Profiles) == 0 {
			t.Errorf("service temporal-ui: publishes %v by default; put it under a profile", s.Ports)
		}
		for _, p := range s.Ports {
			if str, ok := p.(string); !ok || !strings.HasPrefix(str, "127.0.0.1:") {
				t.Errorf("service temporal-ui: port %v is not bound to 127.0.0.1", p)
			}
		}
	}
	if !publishes(t, "temporal-ui", service(t, cf, "temporal-ui"), 8233, 8080) {
		t.Errorf("service temporal-ui: port mapping 127.0.0.1:8233:8080 is missing")
	}
}

// TestComposeTemporalImagesAreProdenvVersion: compose runs the Temporal
// release the production-topology tests run.
func TestComposeTemporalImagesAreProdenvVersion(t *testing.T) {
	cf := loadCompose(t)
	want := strings.TrimPrefix(prodenv.TemporalVersion, "v")
	seen := map[string]bool{}
	for name, s := range cf.Services {
		repo, tag, _ := strings.Cut(s.Image, ":")
		switch repo {
		case "temporalio/auto-setup":
			t.Errorf("service %s: temporalio/auto-setup is deprecated; use temporalio/server and an admin-tools job", name)
		case "temporalio/server", "temporalio/admin-tools":
			seen[repo] = true
			if tag != want {
				t.Errorf("service %s: image %s, want tag %s (prodenv.TemporalVersion)", name, s.Image, want)
			}
		}
	}
	for _, repo := range []string{"temporalio/server", "temporalio/admin-tools"} {
		if !seen[repo] {
			t.Errorf("%s: no service runs %s", composePath, repo)
		}
	}
}

// TestComposeCandorEnvironmentIsReadByConfig: every variable compose sets
// for Candor is one the binary reads, so a misspelt name cannot pass
// silently.
func TestComposeCandorEnvironmentIsReadByConfig(t *testing.T) {
	cf := loadCompose(t)
	names := config.Names()
	for _, svc := range []string{"migrate", "serve", "worker"} {
		for key := range env(t, svc, service(t, cf, svc)) {
			if !slices.Contains(names, key) {
				t.Errorf("service %s: sets %s, which config.FromEnv does not read", svc, key)
			}
		}
	}
}

// TestComposeSchemaJobRunsProdenvSchemaSteps: the admin-tools job applies
// Temporal's schema with the same temporal-sql-tool steps, in the same
// order, as prodenv.StartTemporal.
func TestComposeSchemaJobRunsProdenvSchemaSteps(t *testing.T) {
	cf := loadCompose(t)
	job := service(t, cf, "temporal-admin-tools")
	script := strings.Join(command(job), "\n")
	if c, ok := job.Command.([]any); ok && len(c) == 1 {
		script = fmt.Sprint(c[0]) // entrypoint sh -c: one script
	}
	got := schemaToolRuns(t, script)
	const schemaDir = "/etc/temporal/schema/postgresql/v12" // in the admin-tools image
	want := map[string][][]string{}
	for kind, db := range map[string]string{"temporal": "temporal", "visibility": "temporal_visibility"} {
		want[db] = prodenv.SchemaSteps(schemaDir, kind)
	}
	for db, steps := range want {
		if g := got[db]; !slices.EqualFunc(g, steps, slices.Equal) {
			t.Errorf("service temporal-admin-tools: on database %s runs %q, want %q (prodenv.SchemaSteps)", db, g, steps)
		}
	}
	for db := range got {
		if _, ok := want[db]; !ok {
			t.Errorf("service temporal-admin-tools: runs temporal-sql-tool on an unexpected database %s", db)
		}
	}
}

// schemaToolRuns reads the temporal-sql-tool calls of a shell script, with
// the one variable it may use for the tool and its connection flags
// expanded: database -> the steps (the arguments after the connection
// flags), in order.
func schemaToolRuns(t *testing.T, script string) map[string][][]string {
	t.Helper()
	vars := map[string]string{}
	assign := regexp.MustCompile(`^([a-z_]+)="?([^"]*)"?$`)
	out := map[string][][]string{}
	connFlags := map[string]bool{"--plugin": true, "--ep": true, "-p": true, "--port": true, "-u": true, "--user": true, "--pw": true, "--password": true}
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if m := assign.FindStringSubmatch(line); m != nil {
			vars[m[1]] = m[2]
			continue
		}
		line = regexp.MustCompile(`\$\$?\{?([a-z_]+)\}?`).ReplaceAllStringFunc(line, func(v string) string {
			name := strings.Trim(v, "${}")
			if val, ok := vars[name]; ok {
				return val
			}
			return v
		})
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "temporal-sql-tool" {
			continue
		}
		db := ""
		var step []string
		for i := 1; i < len(f); i++ {
			switch {
			case f[i] == "--db" || f[i] == "--database":
				if i+1 < len(f) {
					db = f[i+1]
				}
				i++
			case connFlags[f[i]]:
				i++
			default:
				step = append(step, f[i])
			}
		}
		if db == "" {
			t.Errorf("temporal-sql-tool call without --db: %q", line)
			continue
		}
		out[db] = append(out[db], step)
	}
	return out
}

// publishes reports whether s maps host port host to container port target,
// in the short ("[ip:]host:target[/proto]") or long syntax.
func publishes(t *testing.T, name string, s composeService, host, target int) bool {
	t.Helper()
	for _, p := range s.Ports {
		switch p := p.(type) {
		case string:
			spec, _, _ := strings.Cut(p, "/")
			parts := strings.Split(spec, ":")
			if len(parts) >= 2 && parts[len(parts)-2] == strconv.Itoa(host) && parts[len(parts)-1] == strconv.Itoa(target) {
				return true
			}
		case map[string]any:
			if fmt.Sprint(p["published"]) == strconv.Itoa(host) && fmt.Sprint(p["target"]) == strconv.Itoa(target) {
				return true
			}
		case int:
			// A bare container port publishes to a random host port.
		default:
			t.Errorf("service %s: port entry %v has unexpected type %T", name, p, p)
		}
	}
	return false
}

type dockerInstr struct {
	cmd  string // upper case
	args string
}

// parseDockerfile returns its instructions grouped by stage, joining
// continuation lines and dropping comments.
func parseDockerfile(t *testing.T) [][]dockerInstr {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	if err != nil {
		t.Fatalf("open %s: %v", dockerfilePath, err)
	}
	defer f.Close()
	var stages [][]dockerInstr
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := dockerInstr{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			return // ARG before the first FROM
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%s: want a multi-stage build, found %d stage(s)", dockerfilePath, len(stages))
	}

	tags := regexp.MustCompile(`-tags[= ]+"?([a-z0-9_,]+)`)
	var built bool
	for _, st := range stages {
		for _, in := range st {
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
				continue
			}
			m := tags.FindStringSubmatch(in.args)
			if strings.Contains(in.args, "./cmd/candor") && m != nil && slices.Contains(strings.Split(m[1], ","), "nodev") {
				built = true
			}
		}
	}
	if !built {
		t.Errorf("%s: no RUN go build of ./cmd/candor with -tags nodev", dockerfilePath)
	}

	final := stages[len(stages)-1]
	user := ""
	var entry string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entry = in.args
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if user == "" || name == "root" || name == "0" {
		t.Errorf("%s: final stage must set USER to a non-root user, got %q", dockerfilePath, user)
	}
	if !strings.Contains(entry, "/candor") {
		t.Errorf("%s: final stage ENTRYPOINT = %q, want the candor binary", dockerfilePath, entry)
	}
}

// urlUser is the user of a postgres:// URL, compose interpolations and
// all ("" if none): what stands between :// and the password's colon.
func urlUser(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return ""
	}
	user, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return user
}

// The namespace job creates every search attribute serve and worker check
// for, with the command the README and their startup error show.
func TestComposeNamespaceJobCreatesTheSearchAttributes(t *testing.T) {
	cf := loadCompose(t)
	job := service(t, cf, "temporal-create-namespace")
	script := strings.Join(command(job), "\n")
	want := review.SearchAttributeCreateCommand(`"$${NAMESPACE}"`)
	if !slices.Contains(strings.Split(script, "\n"), want) {
		t.Errorf("service temporal-create-namespace does not run\n  %s\nits script:\n%s", want, script)
	}
}
