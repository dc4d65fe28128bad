package broker_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// BenchmarkReplicatedProduce measures the replicated produce path end to
// end: one idempotent acks=all producer (kgo with linger 0 and no
// compression, as samsa bench) sends records to a topic of one partition,
// on a single broker (rf1) and on three combined broker,controller nodes
// in this process, over real TCP with no fault links, with replication
// factor 3 and min.insync.replicas=2 (rf3): the leader's append, the
// followers' fetches and appends, the high watermark and the acks=all
// wait. Each run of the body makes a fresh topic. MB/s counts record
// values (10^6 bytes); p50-ms and p99-ms are the latency from Produce to the
// acknowledgement; cpu-ms/MB is the process's CPU (every broker and the
// client) per 10^6 bytes of values. Compare rf3 with rf1 of the same run:
//
//	go test -run '^$' -bench ReplicatedProduce -benchtime 200000x ./internal/broker
func BenchmarkReplicatedProduce(b *testing.B) {
	single := startBenchCluster(b, 1)
	three := startBenchCluster(b, 3)
	for _, size := range []int{1 << 10, 16 << 10} {
		for _, c := range []struct {
			name    string
			seeds   []string
			factor  int16
			minISR  string
			brokers int
		}{{"rf1", single, 1, "1", 1}, {"rf3", three, 3, "2", 3}} {
			b.Run(fmt.Sprintf("%s/%dB", c.name, size), func(b *testing.B) {
				benchProduce(b, c.seeds, c.factor, c.minISR, size)
			})
		}
	}
}

// startBenchCluster starts n combined nodes that form one cluster and
// returns their listeners; the benchmark's end stops them.
func startBenchCluster(b *testing.B, n int) []string {
	b.Helper()
	ports := broker.FreeAddrs(b, n)
	var voters []string
	for i, p := range ports {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, p))
	}
	brokers := make([]*broker.Broker, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n { // a voter alone cannot elect a leader: start them together
		wg.Go(func() {
			brokers[i], errs[i] = broker.Start(broker.Config{DataDir: b.TempDir(), Static: map[string]string{
				"node.id":                          fmt.Sprint(i + 1),
				"process.roles":                    "broker,controller",
				"controller.quorum.voters":         strings.Join(voters, ","),
				"controller.listener.names":        "CONTROLLER",
				"listeners":                        "PLAINTEXT://127.0.0.1:0,CONTROLLER://" + ports[i],
				"offsets.topic.replication.factor": fmt.Sprint(n),
			}})
		})
	}
	wg.Wait()
	var seeds []string
	for i, err := range errs {
		if err != nil {
			b.Fatalf("node %d: %v", i+1, err)
		}
		b.Cleanup(func() { brokers[i].Close() })
		seeds = append(seeds, brokers[i].Addr())
	}
	return seeds
}

// benchProduce produces b.N records of size bytes to a new topic of one
// partition and reports throughput, latency and CPU per MB.
func benchProduce(b *testing.B, seeds []string, factor int16, minISR string, size int) {
	ctx := context.Background()
	admin, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	topic := fmt.Sprintf("bench-%016x", rand.Uint64())
	resp, err := kadm.NewClient(admin).CreateTopic(ctx, 1, factor, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	value := make([]byte, size)
	for i := range value {
		value[i] = byte(rand.Uint32())
	}
	// Once every broker knows the topic, the first record connects and
	// gets a producer ID before the clock starts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("warm-up produce: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	latencies := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	var firstErr error
	cpu0 := cpuNow(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		at := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			mu.Lock() // kgo calls promises serially; the lock is for the reads below
			latencies = append(latencies, time.Since(at))
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuNow(b) - cpu0
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(latencies)
	mb := float64(b.N) * float64(size) / 1e6
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1e3, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/mb, "cpu-ms/MB")
}
