package broker_test

import (
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// TestListenersConfig starts a broker from Kafka's listeners and
// advertised.listeners instead of the --listen and --advertise shortcuts:
// it binds the PLAINTEXT listener and clients are told the advertised one.
func TestListenersConfig(t *testing.T) {
	b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Static: map[string]string{
		"listeners":            "PLAINTEXT://127.0.0.1:0",
		"advertised.listeners": "PLAINTEXT://advertised.example:19092",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") {
		t.Fatalf("bound %s", b.Addr())
	}
	tb := &testBroker{Broker: b, t: t}
	meta, err := tb.admin().BrokerMetadata(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 1 || meta.Brokers[0].Host != "advertised.example" || meta.Brokers[0].Port != 19092 {
		t.Fatalf("brokers %+v", meta.Brokers)
	}
}

// TestListenersConfigRefused: a shortcut and its config given together are
// refused, naming both.
func TestListenersConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		cfg  broker.Config
		want string
	}{
		{broker.Config{Listen: "127.0.0.1:0", Static: map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0"}},
			"--listen 127.0.0.1:0 and config listeners are both given"},
		{broker.Config{Listen: "127.0.0.1:0", Advertise: "h:1", Static: map[string]string{"advertised.listeners": "PLAINTEXT://h:2"}},
			"--advertise h:1 and config advertised.listeners are both given"},
	} {
		tc.cfg.DataDir = t.TempDir()
		b, err := broker.Start(tc.cfg)
		if err == nil {
			b.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("error %v, want %q", err, tc.want)
		}
	}
}
