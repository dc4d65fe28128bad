package broker_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// secureBroker is a broker with three listeners side by side: PLAINTEXT
// (the inter-broker one), SSL with mutual TLS required, and SASL_SSL with
// PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (server certificate only). The
// dev certificates are in dir: ca.pem, server.pem and client-alice.pem.
type secureBroker struct {
	*broker.Broker
	dir                  string
	plain, ssl, saslSSL  string // the listeners' addresses
	caFile, aliceCertKey string
}

// SCRAM users that startSecure creates, with their mechanisms.
const (
	scram256User, scram256Pass = "bob", "bob-secret"
	scram512User, scram512Pass = "carol", "carol-secret"
)

// startSecure starts a secureBroker with extra configs, creates the SCRAM
// users bob (SCRAM-SHA-256) and carol (SCRAM-SHA-512) through the PLAIN
// admin over SASL_SSL, and creates topics, one partition each, so that
// the tests can compare records in order.
func startSecure(t *testing.T, extra map[string]string, topics ...string) *secureBroker {
	t.Helper()
	dir := devCerts(t, "alice")
	static := map[string]string{
		"listeners":                                     "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"listener.security.protocol.map":                "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL",
		"inter.broker.listener.name":                    "PLAINTEXT",
		"ssl.keystore.location":                         filepath.Join(dir, "server.pem"),
		"ssl.truststore.location":                       filepath.Join(dir, "ca.pem"),
		"listener.name.ssl.ssl.client.auth":             "required",
		"sasl.enabled.mechanisms":                       "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"sasl.mechanism.inter.broker.protocol":          "PLAIN",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": plainJAAS,
	}
	for k, v := range extra {
		static[k] = v
	}
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: static})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	sb := &secureBroker{
		Broker: b, dir: dir,
		plain: b.ListenerAddr("PLAINTEXT"), ssl: b.ListenerAddr("SSL"), saslSSL: b.ListenerAddr("SASL_SSL"),
		caFile: filepath.Join(dir, "ca.pem"), aliceCertKey: filepath.Join(dir, "client-alice.pem"),
	}
	if sb.plain == "" || sb.ssl == "" || sb.saslSSL == "" {
		t.Fatalf("listeners %q %q %q", sb.plain, sb.ssl, sb.saslSSL)
	}
	ctx := ctxT(t)
	admin := kadm.NewClient(saslClient(t, sb.saslSSL, kgo.DialTLSConfig(sb.serverTLS(t)),
		kgo.SASL(plain.Auth{User: "admin", Pass: "admin-secret"}.AsMechanism())))
	altered, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: scram256User, Mechanism: kadm.ScramSha256, Iterations: 4096, Password: scram256Pass},
		{User: scram512User, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: scram512Pass},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range altered {
		if a.Err != nil {
			t.Fatalf("alter SCRAM %s: %v", a.User, a.Err)
		}
	}
	plainAdmin := kadmClient(t, sb.plain)
	for _, topic := range topics {
		createTopic(t, plainAdmin, topic, 1, nil)
	}
	return sb
}

// serverTLS trusts the dev CA and presents no certificate: what a
// SASL_SSL client needs.
func (sb *secureBroker) serverTLS(t *testing.T) *tls.Config { return clientTLS(t, sb.dir, "") }

// aliceTLS is serverTLS with alice's certificate: what an SSL client needs.
func (sb *secureBroker) aliceTLS(t *testing.T) *tls.Config {
	return clientTLS(t, sb.dir, sb.aliceCertKey)
}

// secureValues are the n record values a test produces to topic: distinct,
// in order, with the topic in them so that a record in the wrong topic shows.
func secureValues(topic string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", topic, i)
	}
	return out
}

// checkValues fails unless got is exactly want, in order.
func checkValues(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s read %d records, want %d:\ngot  %q\nwant %q", what, len(got), len(want), got, want)
	}
}

// topicValues reads topic's one partition from the start with franz-go
// over PLAINTEXT until it has n records, and returns their values.
func (sb *secureBroker) topicValues(t *testing.T, topic string, n int) []string {
	t.Helper()
	cl := saslClient(t, sb.plain, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxT(t)
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading %s back: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// kadmClient is an admin client of addr, a PLAINTEXT listener.
func kadmClient(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(saslClient(t, addr))
}

// tlsDialRaw opens a TLS connection for rawRequest.
func tlsDialRaw(addr string, cfg *tls.Config) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
}
