package clustertest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// TestInterBrokerTLS runs three nodes whose Kafka listener (and so the
// inter-broker traffic: replica fetches, transaction markers) is mutual
// TLS: every record of a topic of replication factor 3 and
// min.insync.replicas 3 written with acks=all is acknowledged — only once
// both followers have fetched it over TLS, each presenting its
// certificate to the leader — and read back, with the ISR still whole.
func TestInterBrokerTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsconf.DevCerts(dir, []string{"127.0.0.1"}, []string{"client"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	c := Start(t, Options{Nodes: 3, Static: map[string]string{
		"listener.security.protocol.map":   "PLAINTEXT:SSL,CONTROLLER:PLAINTEXT",
		"ssl.keystore.location":            filepath.Join(dir, "server.pem"),
		"ssl.truststore.location":          filepath.Join(dir, "ca.pem"),
		"ssl.client.auth":                  "required",
		"offsets.topic.replication.factor": "3",
	}})
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("ca: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "client-client.pem"), filepath.Join(dir, "client-client.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secure := kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}})
	adm := c.Admin(secure)
	resp, err := adm.CreateTopic(ctxT(t, 30*time.Second), 1, 3, map[string]*string{"min.insync.replicas": strp("3")}, "tls")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	want := values("v", 0, 50)
	produce(t, c.Client(secure, kgo.RequiredAcks(kgo.AllISRAcks())), "tls", want...)
	cl := c.Client(secure, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"tls": {0: kgo.NewOffset().AtStart()}}))
	ctx := ctxT(t, 30*time.Second)
	var got []string
	for len(got) < len(want) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	equal(t, "read back", got, want)
	if isr := c.Node(0).Broker().Image().Topics["tls"].Partitions[0].ISR; len(isr) != 3 {
		t.Fatalf("ISR %v", isr)
	}
}

func strp(s string) *string { return &s }
