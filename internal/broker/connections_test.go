package broker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// TestMaxConnectionsPerIPWithClient fills max.connections.per.ip, shows a
// franz-go client cannot connect while existing connections keep working,
// and that it can once one of them closes.
func TestMaxConnectionsPerIPWithClient(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"max.connections.per.ip": "2"})
	ping := func(cl *kgo.Client, wait time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return cl.Ping(ctx)
	}
	// Each client keeps the connection its ping opened.
	var held []*kgo.Client
	for i := 0; i < 2; i++ {
		cl := tb.client()
		if err := ping(cl, 10*time.Second); err != nil {
			t.Fatalf("client %d within the limit: %v", i+1, err)
		}
		held = append(held, cl)
	}
	cl := tb.client(kgo.RetryTimeout(time.Second))
	if err := ping(cl, 2*time.Second); err == nil {
		t.Fatal("a client connected past max.connections.per.ip=2")
	}
	for i, h := range held {
		if err := ping(h, 5*time.Second); err != nil {
			t.Fatalf("held client %d broken by the refused one: %v", i+1, err)
		}
	}
	held[0].Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ping(cl, 2*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client still refused after a held connection closed: %v", err)
		}
	}
}

// TestIdleConnectionsClosedWithClient checks connections.max.idle.ms through
// franz-go: the broker closes a client's idle connection and the client,
// reconnecting, still produces.
func TestIdleConnectionsClosedWithClient(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"connections.max.idle.ms": "300"})
	createTopic(t, tb.admin(), "idle", 1, nil)
	c, err := net.Dial("tcp", tb.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A connection that never sends a request is idle too.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %v, want EOF (closed by the broker)", err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("idle"), kgo.ConnIdleTimeout(10*time.Minute))
	for i := 0; i < 2; i++ {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		time.Sleep(time.Second) // the broker closes the producer's connection meanwhile
	}
	if recs := consumeAll(t, tb, "idle", 2); recs[0].Value[0] != 0 || recs[1].Value[0] != 1 {
		t.Fatalf("records %v", recs)
	}
}

// TestConnectionConfigsRefusedAtStart checks that bad connection configs stop
// the broker at start-up with a message naming the config.
func TestConnectionConfigsRefusedAtStart(t *testing.T) {
	for static, want := range map[string]string{
		"max.connections=-5":                    "max.connections",
		"max.connections.per.ip=0":              "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides is set",
		"max.connections.per.ip.overrides=a:b:": "max.connections.per.ip.overrides",
		"connections.max.idle.ms=1m":            "connections.max.idle.ms",
	} {
		k, v, _ := strings.Cut(static, "=")
		b, err := broker.Start(broker.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Static: map[string]string{k: v}})
		if err == nil {
			b.Close()
			t.Errorf("%s: broker started", static)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to name %s", static, err, want)
		}
	}
}

// TestConnectionLimitsDynamic changes max.connections.per.ip cluster-wide
// at runtime, as kafka-configs --entity-default does: a client past the new
// limit is refused, an invalid change is INVALID_CONFIG naming the config,
// and deleting the override lifts the limit.
func TestConnectionLimitsDynamic(t *testing.T) {
	tb := startBroker(t, "", nil)
	var adm *kadm.Client
	adm = tb.admin()
	ctx := ctxT(t)
	alter := func(op kadm.IncrementalOp, name, value string) error {
		resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: name, Value: strp(value)}})
		if err != nil {
			return err
		}
		if resp[0].Err != nil {
			return fmt.Errorf("%w: %s", resp[0].Err, resp[0].ErrMessage)
		}
		return nil
	}
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return tb.client(kgo.RetryTimeout(time.Second)).Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	// The admin client holds a connection: a limit of 1 refuses any other.
	if err := alter(kadm.SetConfig, "max.connections.per.ip", "1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a new client refused at max.connections.per.ip=1", func() bool { return ping() != nil })
	err := alter(kadm.SetConfig, "max.connections.per.ip", "0")
	if !errors.Is(err, kerr.InvalidConfig) || !strings.Contains(err.Error(), "max.connections.per.ip") {
		t.Fatalf("max.connections.per.ip=0 without overrides: %v, want INVALID_CONFIG naming it", err)
	}
	// The limit lives in the metadata log: a restarted broker keeps it.
	tb = tb.restart()
	adm = tb.admin()
	if err := alter(kadm.SetConfig, "num.partitions", "1"); err != nil { // adm's one connection
		t.Fatal(err)
	}
	if err := ping(); err == nil {
		t.Fatal("after a restart, a second client connected at max.connections.per.ip=1")
	}
	if err := alter(kadm.DeleteConfig, "max.connections.per.ip", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a new client served once the limit is deleted", func() bool { return ping() == nil })
}
