package broker_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/tlsconf"
)

// The cost of TLS and SASL_SSL against PLAINTEXT on one broker: the same
// franz-go client (acks=all, default linger, no compression) producing
// random 1 KiB records to, and consuming them from, each of the broker's
// three listeners. The broker runs in the benchmark's process, so cpu-ms/MB is the client's
// and the broker's CPU together (getrusage of the process).
//
//	go test -run '^$' -bench 'BenchmarkListener' -benchtime 3s -count 5 ./internal/broker

const benchRecordSize = 1024

// benchListeners is a broker with PLAINTEXT, SSL (mutual TLS) and
// SASL_SSL (SCRAM-SHA-512) listeners, and the client options of each.
type benchListeners struct {
	b    *broker.Broker
	opts map[string][]kgo.Opt
}

var benchListenerNames = []string{"PLAINTEXT", "SSL", "SASL_SSL"}

func startBenchListeners(b *testing.B) *benchListeners {
	b.Helper()
	dir := b.TempDir()
	if _, err := tlsconf.DevCerts(dir, []string{"127.0.0.1"}, []string{"bench"}, time.Hour); err != nil {
		b.Fatal(err)
	}
	br, err := broker.Start(broker.Config{DataDir: b.TempDir(), Static: map[string]string{
		"listeners":                         "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
		"listener.security.protocol.map":    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL",
		"inter.broker.listener.name":        "PLAINTEXT",
		"ssl.keystore.location":             filepath.Join(dir, "server.pem"),
		"ssl.truststore.location":           filepath.Join(dir, "ca.pem"),
		"listener.name.ssl.ssl.client.auth": "required",
		"sasl.enabled.mechanisms":           "SCRAM-SHA-512",
		// Long runs write gigabytes: keep the last 512 MiB of each partition.
		"log.retention.bytes":             "536870912",
		"log.segment.bytes":               "67108864",
		"log.retention.check.interval.ms": "1000",
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		b.Fatalf("ca: %v", err)
	}
	cert := filepath.Join(dir, "client-bench.pem")
	pair, err := tls.LoadX509KeyPair(cert, cert)
	if err != nil {
		b.Fatal(err)
	}
	l := &benchListeners{b: br, opts: map[string][]kgo.Opt{
		"PLAINTEXT": {kgo.SeedBrokers(br.ListenerAddr("PLAINTEXT"))},
		"SSL": {kgo.SeedBrokers(br.ListenerAddr("SSL")),
			kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair}})},
		"SASL_SSL": {kgo.SeedBrokers(br.ListenerAddr("SASL_SSL")), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}),
			kgo.SASL(scram.Auth{User: "bench", Pass: "bench-secret"}.AsSha512Mechanism())},
	}}
	adm := kadm.NewClient(l.client(b, "PLAINTEXT"))
	ctx := context.Background()
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bench", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bench-secret"}})
	if err == nil {
		err = altered.Error()
	}
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range benchListenerNames {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, "bench-"+name); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func (l *benchListeners) client(b *testing.B, listener string, opts ...kgo.Opt) *kgo.Client {
	b.Helper()
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression())}, l.opts[listener]...), opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return cl
}

// benchValues is random bytes from which each record takes its 1 KiB at
// its own offset: the records neither compress nor repeat within a batch.
var benchValues = func() []byte {
	b := make([]byte, 1<<20+benchRecordSize)
	rand.Read(b)
	return b
}()

// listenerProduce sends n records of benchRecordSize to topic and waits for them.
func listenerProduce(b *testing.B, cl *kgo.Client, topic string, n int) {
	b.Helper()
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	ctx := context.Background()
	for i := range n {
		wg.Add(1)
		at := i * 7919 % (1 << 20)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: benchValues[at : at+benchRecordSize]}, func(_ *kgo.Record, err error) {
			if err != nil {
				errOnce.Do(func() { firstErr = err })
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportProcessCPU reports the CPU the process spent per MB moved since start.
func reportProcessCPU(b *testing.B, start time.Duration) {
	mb := float64(b.N) * benchRecordSize / 1e6
	b.ReportMetric(float64(processCPU(b)-start)/float64(time.Millisecond)/mb, "cpu-ms/MB")
}

// BenchmarkListenerProduce: 1 KiB records, acks=all, to one partition
// over each listener.
func BenchmarkListenerProduce(b *testing.B) {
	l := startBenchListeners(b)
	for _, name := range benchListenerNames {
		b.Run(name, func(b *testing.B) {
			cl := l.client(b, name, kgo.RequiredAcks(kgo.AllISRAcks()))
			listenerProduce(b, cl, "bench-"+name, 1000) // connected and warm
			b.SetBytes(benchRecordSize)
			b.ReportAllocs()
			start := processCPU(b)
			b.ResetTimer()
			listenerProduce(b, cl, "bench-"+name, b.N)
			b.StopTimer()
			reportProcessCPU(b, start)
		})
	}
}

// BenchmarkListenerConsume: 1 KiB records read over each listener from a
// topic of 64 Ki records produced once over PLAINTEXT; a run longer than
// the topic reads it again with a new client.
func BenchmarkListenerConsume(b *testing.B) {
	l := startBenchListeners(b)
	const topic, records = "bench-PLAINTEXT", 64 << 10
	listenerProduce(b, l.client(b, "PLAINTEXT", kgo.RequiredAcks(kgo.AllISRAcks())), topic, records)
	for _, name := range benchListenerNames {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchRecordSize)
			b.ReportAllocs()
			start := processCPU(b)
			b.ResetTimer()
			ctx := context.Background()
			for read := 0; read < b.N; {
				cl, err := kgo.NewClient(append(append([]kgo.Opt{}, l.opts[name]...),
					kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
				if err != nil {
					b.Fatal(err)
				}
				for pass := 0; pass < records && read < b.N; {
					fs := cl.PollFetches(ctx)
					if err := fs.Err0(); err != nil {
						b.Fatal(err)
					}
					n := fs.NumRecords()
					pass += n
					read += n
				}
				cl.Close()
			}
			b.StopTimer()
			reportProcessCPU(b, start)
		})
	}
}
