package broker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// devCerts writes a CA, a server certificate for 127.0.0.1 and client
// certificates into a temporary directory.
func devCerts(t *testing.T, clients ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := tlsconf.DevCerts(dir, []string{"127.0.0.1", "localhost"}, clients, time.Hour); err != nil {
		t.Fatal(err)
	}
	return dir
}

// clientTLS is a client's configuration trusting the CA in dir, with the
// certificate file cert ("" for none).
func clientTLS(t *testing.T, dir, cert string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("ca: %v", err)
	}
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, cert)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

// TestTLSListener serves a PLAINTEXT and a mutual-TLS SSL listener side by
// side: a franz-go client with a certificate produces and consumes over
// TLS, each listener's Metadata names its own port, and what TLS must
// refuse — a client without a certificate, one trusting another CA, one
// with an expired certificate, a plaintext client — is refused without
// harm to the broker.
func TestTLSListener(t *testing.T) {
	dir := devCerts(t, "alice")
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: map[string]string{
		"listeners":                      "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL",
		"ssl.keystore.location":          filepath.Join(dir, "server.pem"),
		"ssl.truststore.location":        filepath.Join(dir, "ca.pem"),
		"ssl.client.auth":                "required",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plainAddr, sslAddr := b.ListenerAddr("PLAINTEXT"), b.ListenerAddr("SSL")
	if plainAddr == "" || sslAddr == "" || plainAddr == sslAddr {
		t.Fatalf("listeners %q %q", plainAddr, sslAddr)
	}
	ctx := ctxT(t)
	alice := clientTLS(t, dir, filepath.Join(dir, "client-alice.pem"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(sslAddr), kgo.DialTLSConfig(alice), kgo.DefaultProduceTopic("secure"),
		kgo.ConsumeTopics("secure"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 10 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("consumed %q", got)
		}
	}

	// Each listener's Metadata answers with that listener's address.
	for _, tc := range []struct {
		addr string
		tls  *tls.Config
	}{{plainAddr, nil}, {sslAddr, alice}} {
		opts := []kgo.Opt{kgo.SeedBrokers(tc.addr)}
		if tc.tls != nil {
			opts = append(opts, kgo.DialTLSConfig(tc.tls))
		}
		c, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Brokers) != 1 || net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port))) != tc.addr {
			t.Fatalf("Metadata on %s: brokers %+v", tc.addr, resp.Brokers)
		}
	}

	// Refused handshakes.
	other := devCerts(t, "mallory")
	expired := filepath.Join(dir, "expired.pem")
	writeExpired(t, dir, expired)
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"no client certificate", clientTLS(t, dir, "")},
		{"server from another CA", clientTLS(t, other, filepath.Join(other, "client-mallory.pem"))},
		{"client certificate from another CA", withRoots(clientTLS(t, other, filepath.Join(other, "client-mallory.pem")), alice.RootCAs)},
		{"expired client certificate", withCert(t, clientTLS(t, dir, ""), expired)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tlsRequest(ctx, sslAddr, tc.cfg); err == nil {
				t.Fatal("a request was answered")
			}
		})
	}
	// A plaintext client on the TLS port is closed, not answered.
	c, err := kgo.NewClient(kgo.SeedBrokers(sslAddr), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	shortCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = kmsg.NewPtrApiVersionsRequest().RequestWith(shortCtx, c)
	cancel()
	c.Close()
	if err == nil {
		t.Fatal("a plaintext request on the TLS listener was answered")
	}
	// The broker still serves TLS clients.
	if err := tlsRequest(ctx, sslAddr, alice); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}

func withRoots(c *tls.Config, roots *x509.CertPool) *tls.Config { c.RootCAs = roots; return c }

func withCert(t *testing.T, c *tls.Config, file string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(file, file)
	if err != nil {
		t.Fatal(err)
	}
	c.Certificates = []tls.Certificate{pair}
	return c
}

// writeExpired writes a client certificate from dir's CA that expired an
// hour ago.
func writeExpired(t *testing.T, dir, file string) {
	caCert, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().Add(-2 * time.Hour)
	cert, key, err := tlsconf.IssueCert(caCert, caKey, pkix.Name{CommonName: "old"}, nil, from, from.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(cert, key...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsRequest sends one ApiVersions over TLS and reads its answer.
func tlsRequest(ctx context.Context, addr string, cfg *tls.Config) error {
	c, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(cfg), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, c)
	if err == nil && resp.ErrorCode != 0 {
		err = errors.New("ApiVersions error")
	}
	return err
}
