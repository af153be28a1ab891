package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"

	"go.temporal.io/sdk/client"
)

// TemporalSecurity is how the client authenticates to a secured Temporal
// frontend (a cluster with TLS or mTLS, or Temporal Cloud). The variable
// names are those of Temporal's own environment configuration, which the
// Temporal CLI and SDKs read
// (https://docs.temporal.io/develop/environment-configuration):
//
//	TEMPORAL_TLS                              true: TLS even with no other TLS setting; false: never
//	TEMPORAL_TLS_CLIENT_CERT_PATH / _DATA     client certificate (PEM) for mTLS
//	TEMPORAL_TLS_CLIENT_KEY_PATH / _DATA      its private key (PEM)
//	TEMPORAL_TLS_SERVER_CA_CERT_PATH / _DATA  CA that signs the server's certificate (default: the system's)
//	TEMPORAL_TLS_SERVER_NAME                  name to verify the server's certificate against
//	TEMPORAL_TLS_DISABLE_HOST_VERIFICATION    true: do not verify the server's name (testing only)
//	TEMPORAL_API_KEY                          API key (Temporal Cloud), sent as a bearer token
//
// Any TLS setting or an API key turns TLS on, unless TEMPORAL_TLS=false.
type TemporalSecurity struct {
	TLS    *tls.Config // nil: plaintext
	APIKey string
}

// temporalFromEnv reads the TEMPORAL_TLS* and TEMPORAL_API_KEY variables.
// Each is read whatever the others hold (see Names). Errors name the
// variable and never its value.
func temporalFromEnv(getenv func(string) string) (TemporalSecurity, error) {
	tlsFlag := getenv("TEMPORAL_TLS")
	certPath, certData := getenv("TEMPORAL_TLS_CLIENT_CERT_PATH"), getenv("TEMPORAL_TLS_CLIENT_CERT_DATA")
	keyPath, keyData := getenv("TEMPORAL_TLS_CLIENT_KEY_PATH"), getenv("TEMPORAL_TLS_CLIENT_KEY_DATA")
	caPath, caData := getenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH"), getenv("TEMPORAL_TLS_SERVER_CA_CERT_DATA")
	serverName := getenv("TEMPORAL_TLS_SERVER_NAME")
	skipVerify := getenv("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION")
	s := TemporalSecurity{APIKey: getenv("TEMPORAL_API_KEY")}

	enabled, explicit, err := parseBool("TEMPORAL_TLS", tlsFlag)
	if err != nil {
		return s, err
	}
	insecure, _, err := parseBool("TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", skipVerify)
	if err != nil {
		return s, err
	}
	cert, err := pemSetting("TEMPORAL_TLS_CLIENT_CERT", certPath, certData)
	if err != nil {
		return s, err
	}
	key, err := pemSetting("TEMPORAL_TLS_CLIENT_KEY", keyPath, keyData)
	if err != nil {
		return s, err
	}
	ca, err := pemSetting("TEMPORAL_TLS_SERVER_CA_CERT", caPath, caData)
	if err != nil {
		return s, err
	}
	tlsSettings := cert != nil || key != nil || ca != nil || serverName != "" || insecure
	if explicit && !enabled {
		if tlsSettings {
			return s, errors.New("TEMPORAL_TLS is false but TLS settings (TEMPORAL_TLS_…) are given: remove one or the other")
		}
		return s, nil
	}
	if !enabled && !tlsSettings && s.APIKey == "" {
		return s, nil
	}
	s.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecure} //nolint:gosec // only when the operator asks
	switch {
	case cert != nil && key != nil:
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return s, fmt.Errorf("TEMPORAL_TLS_CLIENT_CERT and TEMPORAL_TLS_CLIENT_KEY are not a PEM certificate and its private key: %w", err)
		}
		s.TLS.Certificates = []tls.Certificate{pair}
	case cert != nil:
		return s, errors.New("TEMPORAL_TLS_CLIENT_CERT_PATH (or _DATA) is set without TEMPORAL_TLS_CLIENT_KEY_PATH (or _DATA): mTLS needs both")
	case key != nil:
		return s, errors.New("TEMPORAL_TLS_CLIENT_KEY_PATH (or _DATA) is set without TEMPORAL_TLS_CLIENT_CERT_PATH (or _DATA): mTLS needs both")
	}
	if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return s, errors.New("TEMPORAL_TLS_SERVER_CA_CERT_PATH (or _DATA) holds no PEM certificate")
		}
		s.TLS.RootCAs = pool
	}
	return s, nil
}

// pemSetting reads NAME_PATH (a file) or NAME_DATA (inline PEM); nil when
// neither is set.
func pemSetting(name, path, data string) ([]byte, error) {
	switch {
	case path != "" && data != "":
		return nil, fmt.Errorf("%s_PATH and %s_DATA are both set: use one", name, name)
	case data != "":
		return []byte(data), nil
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s_PATH: %w", name, err)
		}
		return b, nil
	}
	return nil, nil
}

func parseBool(name, v string) (value, set bool, err error) {
	if v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, false, fmt.Errorf("%s must be true or false", name)
	}
	return b, true, nil
}

// TemporalOptions are the client options every Candor client of Temporal
// starts from: address, namespace, security and no gRPC compression.
// Callers add their logger and converters.
//
// The SDK gzips every request by default. Candor's payloads are AES-GCM
// ciphertext (datakeys.Codec), which does not compress, so gzip would
// spend CPU in Candor and in the Temporal frontend on each start, signal
// and task for a few bytes of envelope (measured in docs/benchmarks.md,
// "Soak").
func (c Config) TemporalOptions() client.Options {
	o := client.Options{HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace,
		ConnectionOptions: client.ConnectionOptions{TLS: c.Temporal.TLS, GrpcCompression: &client.GrpcCompressionNone{}}}
	if c.Temporal.APIKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(c.Temporal.APIKey)
	}
	return o
}
