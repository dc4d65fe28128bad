package tlsconf

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a CA and the files of a server and a client it signed.
type pki struct {
	dir            string
	caCert, caKey  []byte
	server, client string // keystore files: certificate and key
	ca             string // truststore file
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	now := time.Now().Add(-time.Hour)
	p := &pki{dir: dir}
	var err error
	if p.caCert, p.caKey, err = NewCA("test CA", now, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p.ca = p.write(t, "ca.pem", p.caCert)
	p.server = p.issue(t, "server.pem", pkix.Name{CommonName: "broker"}, []string{"localhost", "127.0.0.1"}, now, now.Add(48*time.Hour))
	p.client = p.issue(t, "client.pem", pkix.Name{CommonName: "writer", OrganizationalUnit: []string{"eng"}, Organization: []string{"Samsa"}, Country: []string{"NO"}}, nil, now, now.Add(48*time.Hour))
	return p
}

func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) issue(t *testing.T, name string, subject pkix.Name, hosts []string, from, to time.Time) string {
	t.Helper()
	cert, key, err := IssueCert(p.caCert, p.caKey, subject, hosts, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name, append(key, cert...)) // any order in a keystore file
}

// handshake runs one TLS handshake over TCP and returns what the server
// saw, or the first error of either side.
func handshake(t *testing.T, server, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		err = tc.Handshake()
		if err == nil {
			// TLS 1.3 clients learn that their certificate was refused
			// only on the first read: make the server speak.
			_, err = tc.Write([]byte("x"))
		}
		done <- result{tc.ConnectionState(), err}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(c, client)
	cerr := tc.Handshake()
	if cerr == nil {
		_, cerr = tc.Read(make([]byte, 1))
	}
	r := <-done
	if r.err != nil {
		return r.state, r.err
	}
	return r.state, cerr
}

func mustServer(t *testing.T, s Settings) *tls.Config {
	t.Helper()
	c, err := Server(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustClient(t *testing.T, s Settings, host string) *tls.Config {
	t.Helper()
	c, err := Client(s, host, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func principalOf(t *testing.T, state tls.ConnectionState) string {
	t.Helper()
	m, err := ParsePrincipalRules("DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Principal(state, m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	server := mustServer(t, Settings{KeystoreLocation: p.server, TruststoreLocation: p.ca, ClientAuth: "required"})
	state, err := handshake(t, server, mustClient(t, Settings{KeystoreLocation: p.client, TruststoreLocation: p.ca, EndpointIdentification: "https"}, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := principalOf(t, state), "User:CN=writer,OU=eng,O=Samsa,C=NO"; got != want {
		t.Fatalf("principal %q, want %q", got, want)
	}

	// Without a client certificate the handshake fails.
	if _, err := handshake(t, server, mustClient(t, Settings{TruststoreLocation: p.ca}, "localhost")); err == nil {
		t.Fatal("a client without a certificate got through ssl.client.auth=required")
	}

	// A certificate from another CA fails.
	other := newPKI(t)
	if _, err := handshake(t, server, mustClient(t, Settings{KeystoreLocation: other.client, TruststoreLocation: p.ca}, "localhost")); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}

	// An expired certificate fails.
	old := time.Now().Add(-48 * time.Hour)
	expired := p.issue(t, "expired.pem", pkix.Name{CommonName: "old"}, nil, old, old.Add(time.Hour))
	if _, err := handshake(t, server, mustClient(t, Settings{KeystoreLocation: expired, TruststoreLocation: p.ca}, "localhost")); err == nil {
		t.Fatal("an expired client certificate was accepted")
	}
}

func TestRequestedClientAuth(t *testing.T) {
	p := newPKI(t)
	server := mustServer(t, Settings{KeystoreLocation: p.server, TruststoreLocation: p.ca, ClientAuth: "requested"})
	state, err := handshake(t, server, mustClient(t, Settings{TruststoreLocation: p.ca}, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	if got := principalOf(t, state); got != Anonymous {
		t.Fatalf("principal %q, want %s", got, Anonymous)
	}
	state, err = handshake(t, server, mustClient(t, Settings{KeystoreLocation: p.client, TruststoreLocation: p.ca}, "localhost"))
	if err != nil {
		t.Fatal(err)
	}
	if got := principalOf(t, state); !strings.HasPrefix(got, "User:CN=writer") {
		t.Fatalf("principal %q", got)
	}
}

func TestClientVerifiesServer(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	server := mustServer(t, Settings{KeystoreLocation: p.server})
	// The host name is checked with https, and not without it.
	if _, err := handshake(t, server, mustClient(t, Settings{TruststoreLocation: p.ca, EndpointIdentification: "https"}, "wrong.example")); err == nil {
		t.Fatal("https endpoint identification accepted a wrong host name")
	}
	if _, err := handshake(t, server, mustClient(t, Settings{TruststoreLocation: p.ca}, "wrong.example")); err != nil {
		t.Fatalf("without endpoint identification: %v", err)
	}
	// The chain is checked either way.
	for _, alg := range []string{"", "https"} {
		if _, err := handshake(t, server, mustClient(t, Settings{TruststoreLocation: other.ca, EndpointIdentification: alg}, "localhost")); err == nil {
			t.Fatalf("endpoint identification %q accepted a server from an untrusted CA", alg)
		}
	}
}

func TestReload(t *testing.T) {
	defer func(d time.Duration) { reloadInterval = d }(reloadInterval)
	reloadInterval = 10 * time.Millisecond
	p := newPKI(t)
	server := mustServer(t, Settings{KeystoreLocation: p.server})
	client := mustClient(t, Settings{TruststoreLocation: p.ca}, "localhost")
	serialOf := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", listen(t, server), client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := serialOf()

	now := time.Now().Add(-time.Hour)
	cert, key, err := IssueCert(p.caCert, p.caKey, pkix.Name{CommonName: "broker"}, []string{"localhost"}, now, now.Add(time.Hour*48))
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "server.pem", append(cert, key...))
	time.Sleep(20 * time.Millisecond)
	second := serialOf()
	if second == first {
		t.Fatal("the rewritten keystore was not reloaded")
	}

	// A broken file keeps the last good key pair.
	p.write(t, "server.pem", cert[:len(cert)/2])
	time.Sleep(20 * time.Millisecond)
	if got := serialOf(); got != second {
		t.Fatalf("after a broken rewrite the serial is %s, want %s", got, second)
	}
}

// listen serves TLS handshakes (and one byte) on a new listener.
func listen(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestSettingsErrors(t *testing.T) {
	p := newPKI(t)
	for _, c := range []struct {
		s    Settings
		want string
	}{
		{Settings{}, "ssl.keystore.location"},
		{Settings{KeystoreType: "JKS", KeystoreLocation: p.server}, "ssl.keystore.type"},
		{Settings{KeystoreLocation: filepath.Join(p.dir, "missing.pem")}, "ssl.keystore.location"},
		{Settings{KeystoreLocation: p.ca}, "ssl.keystore.location"}, // no key
		{Settings{KeystoreLocation: p.server, ClientAuth: "required"}, "ssl.truststore.location"},
		{Settings{KeystoreLocation: p.server, ClientAuth: "always"}, "ssl.client.auth"},
		{Settings{KeystoreLocation: p.server, EnabledProtocols: []string{"TLSv1.1"}}, "ssl.enabled.protocols"},
		{Settings{KeystoreLocation: p.server, CipherSuites: []string{"TLS_NULL"}}, "ssl.cipher.suites"},
		{Settings{KeystoreCertificateChain: string(p.caCert)}, "ssl.keystore.key"},
	} {
		if _, err := Server(c.s, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Server(%+v): %v, want an error naming %s", c.s, err, c.want)
		}
	}
	if _, err := Client(Settings{EndpointIdentification: "dns"}, "h", nil); err == nil || !strings.Contains(err.Error(), "ssl.endpoint.identification.algorithm") {
		t.Errorf("Client: %v", err)
	}
}

func TestInlineKeystore(t *testing.T) {
	p := newPKI(t)
	now := time.Now().Add(-time.Hour)
	cert, key, err := IssueCert(p.caCert, p.caKey, pkix.Name{CommonName: "broker"}, []string{"localhost"}, now, now.Add(time.Hour*48))
	if err != nil {
		t.Fatal(err)
	}
	server := mustServer(t, Settings{KeystoreCertificateChain: string(cert), KeystoreKey: string(key), EnabledProtocols: []string{"TLSv1.2"}})
	client := mustClient(t, Settings{TruststoreCertificates: string(p.caCert), EndpointIdentification: "https"}, "localhost")
	state, err := handshake(t, server, client)
	if err != nil {
		t.Fatal(err)
	}
	if state.Version != tls.VersionTLS12 {
		t.Fatalf("version %x, want TLS 1.2", state.Version)
	}
}

func TestDevCerts(t *testing.T) {
	dir := t.TempDir()
	paths, err := DevCerts(dir, []string{"localhost", "127.0.0.1"}, []string{"alice"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 {
		t.Fatalf("wrote %v", paths)
	}
	server := mustServer(t, Settings{KeystoreLocation: filepath.Join(dir, "server.pem"), TruststoreLocation: filepath.Join(dir, "ca.pem"), ClientAuth: "required"})
	client := mustClient(t, Settings{KeystoreLocation: filepath.Join(dir, "client-alice.pem"), TruststoreLocation: filepath.Join(dir, "ca.pem"), EndpointIdentification: "https"}, "127.0.0.1")
	state, err := handshake(t, server, client)
	if err != nil {
		t.Fatal(err)
	}
	if got := principalOf(t, state); got != "User:CN=alice" {
		t.Fatalf("principal %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca-key.pem: %v %v", fi.Mode(), err)
	}
	if _, err := DevCerts(dir, nil, []string{"../x"}, time.Hour); err == nil {
		t.Fatal("a client name with a path was accepted")
	}
}
