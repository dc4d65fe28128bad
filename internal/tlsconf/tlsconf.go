package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// Settings are Kafka's ssl.* configs of one listener or client, resolved
// (listener.name.<l>.ssl.* overrides applied by the caller).
type Settings struct {
	KeystoreType             string   // ssl.keystore.type: PEM ("" is PEM)
	KeystoreLocation         string   // ssl.keystore.location: a PEM file of the key and its chain
	KeystoreCertificateChain string   // ssl.keystore.certificate.chain: PEM text
	KeystoreKey              string   // ssl.keystore.key: PEM text
	KeyPassword              string   // ssl.key.password
	TruststoreType           string   // ssl.truststore.type: PEM ("" is PEM)
	TruststoreLocation       string   // ssl.truststore.location: a PEM file of CA certificates
	TruststoreCertificates   string   // ssl.truststore.certificates: PEM text
	ClientAuth               string   // ssl.client.auth: required, requested, none ("" is none)
	EnabledProtocols         []string // ssl.enabled.protocols (default TLSv1.2,TLSv1.3)
	CipherSuites             []string // ssl.cipher.suites: IANA names; empty is Go's defaults
	// EndpointIdentification is ssl.endpoint.identification.algorithm:
	// "https" verifies the server's host name, "" only its chain.
	EndpointIdentification string
}

// reloadInterval bounds how often the files behind a keystore or trust
// store are checked for changes.
var reloadInterval = time.Second

// Server returns the configuration of a TLS listener. The key pair and the
// trust store are reloaded when their files change.
func Server(s Settings, logger *slog.Logger) (*tls.Config, error) {
	if s.KeystoreLocation == "" && s.KeystoreCertificateChain == "" {
		return nil, errors.New("config ssl.keystore.location (or ssl.keystore.certificate.chain and ssl.keystore.key) is required for an SSL listener")
	}
	base, err := baseConfig(s)
	if err != nil {
		return nil, err
	}
	keys, err := newKeyStore(s, logger)
	if err != nil {
		return nil, err
	}
	var trust *trustStore
	switch s.ClientAuth {
	case "", "none":
		base.ClientAuth = tls.NoClientCert
	case "required", "requested":
		if trust, err = newTrustStore(s, logger); err != nil {
			return nil, err
		}
		if trust == nil {
			return nil, fmt.Errorf("config ssl.truststore.location (or ssl.truststore.certificates) is required with ssl.client.auth=%s", s.ClientAuth)
		}
		base.ClientAuth = tls.RequireAndVerifyClientCert
		if s.ClientAuth == "requested" {
			base.ClientAuth = tls.VerifyClientCertIfGiven
		}
	default:
		return nil, fmt.Errorf("invalid value '%s' for config ssl.client.auth: must be required, requested or none", s.ClientAuth)
	}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.GetConfigForClient = nil
		cert := keys.get()
		c.Certificates = []tls.Certificate{*cert}
		if trust != nil {
			c.ClientCAs = trust.get()
		}
		return c, nil
	}
	return base, nil
}

// Client returns the configuration for dialing serverName: the keystore, if
// any, is the client certificate; the trust store verifies the server (the
// system's roots when none is given). Both are reloaded as in Server.
func Client(s Settings, serverName string, logger *slog.Logger) (*tls.Config, error) {
	c, err := baseConfig(s)
	if err != nil {
		return nil, err
	}
	c.ServerName = serverName
	if s.KeystoreLocation != "" || s.KeystoreCertificateChain != "" {
		keys, err := newKeyStore(s, logger)
		if err != nil {
			return nil, err
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return keys.get(), nil }
	}
	trust, err := newTrustStore(s, logger)
	if err != nil {
		return nil, err
	}
	roots := func() *x509.CertPool { return nil } // the system's
	if trust != nil {
		roots = trust.get
	}
	switch strings.ToLower(s.EndpointIdentification) {
	case "https":
		if trust != nil {
			// RootCAs is fixed per Config: verify against the current
			// store ourselves, host name included.
			c.InsecureSkipVerify = true
			c.VerifyConnection = func(cs tls.ConnectionState) error { return verify(cs, roots(), serverName) }
		}
	case "":
		c.InsecureSkipVerify = true // the chain is still verified, below
		c.VerifyConnection = func(cs tls.ConnectionState) error { return verify(cs, roots(), "") }
	default:
		return nil, fmt.Errorf("invalid value '%s' for config ssl.endpoint.identification.algorithm: must be https or empty", s.EndpointIdentification)
	}
	return c, nil
}

// verify checks the server's chain against roots and, unless host is "",
// its name.
func verify(cs tls.ConnectionState, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, DNSName: host, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// baseConfig applies the settings every side shares.
func baseConfig(s Settings) (*tls.Config, error) {
	if t := strings.ToUpper(s.KeystoreType); t != "" && t != "PEM" {
		return nil, fmt.Errorf("invalid value '%s' for config ssl.keystore.type: only PEM is supported (convert a %s keystore with openssl)", s.KeystoreType, t)
	}
	if t := strings.ToUpper(s.TruststoreType); t != "" && t != "PEM" {
		return nil, fmt.Errorf("invalid value '%s' for config ssl.truststore.type: only PEM is supported", s.TruststoreType)
	}
	if s.KeystoreLocation != "" && (s.KeystoreCertificateChain != "" || s.KeystoreKey != "") {
		return nil, errors.New("config ssl.keystore.location and ssl.keystore.certificate.chain/ssl.keystore.key are both set: use one")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	if len(s.EnabledProtocols) > 0 {
		c.MinVersion, c.MaxVersion = 0, 0
		for _, p := range s.EnabledProtocols {
			var v uint16
			switch strings.TrimSpace(p) {
			case "TLSv1.2":
				v = tls.VersionTLS12
			case "TLSv1.3":
				v = tls.VersionTLS13
			default:
				return nil, fmt.Errorf("invalid value '%s' for config ssl.enabled.protocols: %s is not supported (TLSv1.2 and TLSv1.3 are)", strings.Join(s.EnabledProtocols, ","), p)
			}
			if c.MinVersion == 0 || v < c.MinVersion {
				c.MinVersion = v
			}
			c.MaxVersion = max(c.MaxVersion, v)
		}
	}
	if len(s.CipherSuites) > 0 {
		byName := map[string]uint16{}
		for _, cs := range tls.CipherSuites() {
			byName[cs.Name] = cs.ID
		}
		for _, name := range s.CipherSuites {
			id, ok := byName[strings.TrimSpace(name)]
			if !ok {
				return nil, fmt.Errorf("invalid value '%s' for config ssl.cipher.suites: unknown or insecure cipher suite %s", strings.Join(s.CipherSuites, ","), name)
			}
			c.CipherSuites = append(c.CipherSuites, id)
		}
	}
	return c, nil
}

// reloader holds material read from a file, reread when the file changes.
type reloader[T any] struct {
	path   string
	parse  func([]byte) (T, error)
	config string // the config that names path, for logs
	logger *slog.Logger

	mu      sync.Mutex
	current T
	checked time.Time
	mtime   time.Time
	size    int64
}

func newReloader[T any](path, config string, parse func([]byte) (T, error), logger *slog.Logger) (*reloader[T], error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &reloader[T]{path: path, parse: parse, config: config, logger: logger}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", config, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", config, err)
	}
	if r.current, err = parse(data); err != nil {
		return nil, fmt.Errorf("config %s: %s: %w", config, path, err)
	}
	r.checked, r.mtime, r.size = time.Now(), fi.ModTime(), fi.Size()
	return r, nil
}

// get returns the material, rereading the file when reloadInterval has
// passed since the last check and its modification time or size changed.
func (r *reloader[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < reloadInterval {
		return r.current
	}
	r.checked = time.Now()
	fi, err := os.Stat(r.path)
	if err != nil || (fi.ModTime().Equal(r.mtime) && fi.Size() == r.size) {
		return r.current
	}
	data, err := os.ReadFile(r.path)
	if err == nil {
		var next T
		if next, err = r.parse(data); err == nil {
			r.current, r.mtime, r.size = next, fi.ModTime(), fi.Size()
			r.logger.Info("reloaded TLS material", "config", r.config, "path", r.path)
			return r.current
		}
	}
	// Keep the last good material; try again once the file changes more.
	r.mtime, r.size = fi.ModTime(), fi.Size()
	r.logger.Error("reloading TLS material failed; keeping the previous one", "config", r.config, "path", r.path, "err", err)
	return r.current
}

// keyStore is the key pair, from a file or inline.
type keyStore struct {
	fixed *tls.Certificate
	file  *reloader[*tls.Certificate]
}

func newKeyStore(s Settings, logger *slog.Logger) (*keyStore, error) {
	parse := func(data []byte) (*tls.Certificate, error) { return parseKeyPair(data, data, s.KeyPassword) }
	if s.KeystoreLocation != "" {
		r, err := newReloader(s.KeystoreLocation, "ssl.keystore.location", parse, logger)
		if err != nil {
			return nil, err
		}
		return &keyStore{file: r}, nil
	}
	if s.KeystoreKey == "" {
		return nil, errors.New("config ssl.keystore.key is required with ssl.keystore.certificate.chain")
	}
	cert, err := parseKeyPair([]byte(s.KeystoreCertificateChain), []byte(s.KeystoreKey), s.KeyPassword)
	if err != nil {
		return nil, fmt.Errorf("config ssl.keystore.certificate.chain/ssl.keystore.key: %w", err)
	}
	return &keyStore{fixed: cert}, nil
}

func (k *keyStore) get() *tls.Certificate {
	if k.fixed != nil {
		return k.fixed
	}
	return k.file.get()
}

// parseKeyPair reads the certificate chain from certPEM and the private key
// from keyPEM (the same bytes for a keystore file holding both).
func parseKeyPair(certPEM, keyPEM []byte, password string) (*tls.Certificate, error) {
	var chain, key bytes.Buffer
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			pem.Encode(&chain, b)
		}
	}
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
			return nil, errors.New("the private key is encrypted, which is not supported yet: decrypt it (openssl pkey) and protect the file instead of setting ssl.key.password")
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") && key.Len() == 0 {
			pem.Encode(&key, b)
		}
	}
	if chain.Len() == 0 {
		return nil, errors.New("no CERTIFICATE block found")
	}
	if key.Len() == 0 {
		return nil, errors.New("no PRIVATE KEY block found")
	}
	cert, err := tls.X509KeyPair(chain.Bytes(), key.Bytes())
	if err != nil {
		return nil, err
	}
	return &cert, nil
}

// trustStore is the CA certificates, from a file or inline.
type trustStore struct {
	fixed *x509.CertPool
	file  *reloader[*x509.CertPool]
}

// newTrustStore returns nil when no trust store is configured.
func newTrustStore(s Settings, logger *slog.Logger) (*trustStore, error) {
	switch {
	case s.TruststoreLocation != "" && s.TruststoreCertificates != "":
		return nil, errors.New("config ssl.truststore.location and ssl.truststore.certificates are both set: use one")
	case s.TruststoreLocation != "":
		r, err := newReloader(s.TruststoreLocation, "ssl.truststore.location", parsePool, logger)
		if err != nil {
			return nil, err
		}
		return &trustStore{file: r}, nil
	case s.TruststoreCertificates != "":
		pool, err := parsePool([]byte(s.TruststoreCertificates))
		if err != nil {
			return nil, fmt.Errorf("config ssl.truststore.certificates: %w", err)
		}
		return &trustStore{fixed: pool}, nil
	}
	return nil, nil
}

func (t *trustStore) get() *x509.CertPool {
	if t.fixed != nil {
		return t.fixed
	}
	return t.file.get()
}

func parsePool(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("no CERTIFICATE block found")
	}
	return pool, nil
}
