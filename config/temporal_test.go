package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// testPKI is a CA with a server certificate for temporal.test and a client
// certificate, written to PEM files.
type testPKI struct {
	dir                           string
	caPEM                         []byte
	server                        tls.Certificate
	clientCert, clientKey, caFile string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "candor test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	p := testPKI{dir: dir, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	sc, sk := issue(2, "temporal.test", x509.ExtKeyUsageServerAuth, []string{"temporal.test"})
	if p.server, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	cc, ck := issue(3, "candor-worker", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert, p.clientKey, p.caFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.pem")
	for f, b := range map[string][]byte{p.clientCert: cc, p.clientKey: ck, p.caFile: p.caPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// seenCall is what a TLS gRPC server saw of a client's first call.
type seenCall struct {
	clientCN string
	auth     []string
}

// mtlsServer is a gRPC server that requires a client certificate signed by
// the test CA and records who called with what authorization. It serves no
// Temporal API: the call it sees is the proof that the handshake worked.
func mtlsServer(t *testing.T, p testPKI) (string, func() []seenCall) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	var mu sync.Mutex
	var calls []seenCall
	record := func(ctx context.Context) {
		var c seenCall
		if pr, ok := peer.FromContext(ctx); ok {
			if ti, ok := pr.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 {
				c.clientCN = ti.State.VerifiedChains[0][0].Subject.CommonName
			}
		}
		md, _ := metadata.FromIncomingContext(ctx)
		c.auth = md.Get("authorization")
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
	}
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})),
		grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
			record(stream.Context())
			return nil
		}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			return h(ctx, req)
		}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), func() []seenCall {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
}

// clearTemporalEnv unsets every variable FromEnv reads, for the test.
func clearTemporalEnv(t *testing.T) {
	t.Helper()
	for _, n := range Names() {
		t.Setenv(n, "")
	}
}

func TestFromEnv_TemporalMTLSAndAPIKeyReachASecuredFrontend(t *testing.T) {
	p := newTestPKI(t)
	addr, calls := mtlsServer(t, p)
	clearTemporalEnv(t)
	t.Setenv("TEMPORAL_ADDRESS", addr)
	t.Setenv("TEMPORAL_NAMESPACE", "candor.a1b2c")
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", p.clientCert)
	t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", p.clientKey)
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", p.caFile)
	t.Setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.test")
	t.Setenv("TEMPORAL_API_KEY", "test-api-key")
	cfg, err := FromEnv()
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	o := cfg.TemporalOptions()
	if o.HostPort != addr || o.Namespace != "candor.a1b2c" {
		t.Fatalf("options address %q namespace %q, want %q and candor.a1b2c", o.HostPort, o.Namespace, addr)
	}
	// Payloads are ciphertext: gzip (the SDK's default) would cost CPU at
	// both ends for nothing.
	if _, ok := o.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone); !ok {
		t.Errorf("gRPC compression %T, want none", o.ConnectionOptions.GrpcCompression)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The server answers no Temporal call, so Dial fails after its first
	// call; what matters is that the call arrived over verified mTLS.
	if c, err := client.DialContext(ctx, o); err == nil {
		c.Close()
	}
	got := calls()
	if len(got) == 0 {
		t.Fatal("no call reached the mTLS server: the client did not complete the TLS handshake")
	}
	if got[0].clientCN != "candor-worker" {
		t.Errorf("server saw client certificate %q, want candor-worker", got[0].clientCN)
	}
	if !slices.Contains(got[0].auth, "Bearer test-api-key") {
		t.Errorf("server saw authorization %q, want the API key as a bearer token", got[0].auth)
	}

	// Without the CA the server's certificate is not trusted: nothing gets through.
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "")
	cfg, err = FromEnv()
	if err != nil {
		t.Fatalf("FromEnv without a CA: %v", err)
	}
	before := len(calls())
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if c, err := client.DialContext(ctx2, cfg.TemporalOptions()); err == nil {
		c.Close()
		t.Fatal("dialled a server whose certificate no trusted CA signed")
	}
	if n := len(calls()); n != before {
		t.Fatalf("%d calls reached the server through an untrusted certificate", n-before)
	}
}

func TestFromEnv_TemporalSecurityDefaultsAndInlinePEM(t *testing.T) {
	p := newTestPKI(t)
	clearTemporalEnv(t)
	cfg, err := FromEnv()
	if err != nil || cfg.Temporal.TLS != nil || cfg.TemporalOptions().Credentials != nil {
		t.Fatalf("with nothing set: TLS %v, credentials %v, err %v; want plaintext and no credentials",
			cfg.Temporal.TLS, cfg.TemporalOptions().Credentials, err)
	}
	// An API key alone means TLS with the system's roots (Temporal Cloud).
	t.Setenv("TEMPORAL_API_KEY", "k")
	if cfg, err = FromEnv(); err != nil || cfg.Temporal.TLS == nil || cfg.Temporal.TLS.RootCAs != nil {
		t.Fatalf("API key alone: TLS %+v, err %v; want TLS with the system roots", cfg.Temporal.TLS, err)
	}
	// ... unless TLS is switched off explicitly (a plaintext proxy in front).
	t.Setenv("TEMPORAL_TLS", "false")
	if cfg, err = FromEnv(); err != nil || cfg.Temporal.TLS != nil || cfg.TemporalOptions().Credentials == nil {
		t.Fatalf("API key with TEMPORAL_TLS=false: TLS %v, err %v; want plaintext with the key", cfg.Temporal.TLS, err)
	}
	t.Setenv("TEMPORAL_TLS", "")
	t.Setenv("TEMPORAL_API_KEY", "")
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_DATA", string(p.caPEM))
	if cfg, err = FromEnv(); err != nil || cfg.Temporal.TLS == nil || cfg.Temporal.TLS.RootCAs == nil {
		t.Fatalf("inline CA: TLS %+v, err %v; want TLS trusting the CA", cfg.Temporal.TLS, err)
	}
}

func TestFromEnv_BadTemporalSecurityGetsOneClearError(t *testing.T) {
	p := newTestPKI(t)
	notPEM := filepath.Join(p.dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"TLS not a boolean", map[string]string{"TEMPORAL_TLS": "yes please"}, "TEMPORAL_TLS must be true or false"},
		{"host verification not a boolean", map[string]string{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "maybe"}, "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION must be true or false"},
		{"cert without key", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": p.clientCert}, "without TEMPORAL_TLS_CLIENT_KEY_PATH"},
		{"key without cert", map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey}, "without TEMPORAL_TLS_CLIENT_CERT_PATH"},
		{"missing cert file", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": filepath.Join(p.dir, "nope.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey}, "TEMPORAL_TLS_CLIENT_CERT_PATH: open"},
		{"cert is not PEM", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": notPEM, "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey}, "are not a PEM certificate and its private key"},
		{"key of another certificate", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": p.caFile, "TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey}, "are not a PEM certificate and its private key"},
		{"CA is not PEM", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": notPEM}, "holds no PEM certificate"},
		{"path and data", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": p.caFile, "TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(p.caPEM)}, "_PATH and TEMPORAL_TLS_SERVER_CA_CERT_DATA are both set"},
		{"TLS off with TLS settings", map[string]string{"TEMPORAL_TLS": "false", "TEMPORAL_TLS_SERVER_NAME": "temporal.test"}, "TEMPORAL_TLS is false but TLS settings"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearTemporalEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := FromEnv()
			if err == nil {
				t.Fatalf("FromEnv accepted %v", c.env)
			}
			if !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error %q, want one line containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "not a certificate") {
				t.Errorf("error %q repeats the value it was given", err)
			}
		})
	}
}

func TestNames_ListsEveryVariableFromEnvReads(t *testing.T) {
	names := Names()
	for _, want := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY",
		"TEMPORAL_TLS_CLIENT_CERT_PATH", "CANDOR_MASTER_KEY", "CANDOR_CODEC_ORIGINS", "SENDGRID_WEBHOOK_PUBLIC_KEY"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %s: %v", want, names)
		}
	}
}
