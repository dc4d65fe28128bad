package broker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// benchTargets starts Samsa and kfake, each with a 6-partition topic
// "bench-groups", and returns their addresses.
func benchTargets(b *testing.B) map[string]string {
	b.Helper()
	// Both brokers tell KIP-848 members to heartbeat every 500 ms (Kafka's
	// default is 5 s), which bounds how fast a rebalance can go.
	static := groupStatic()
	static["group.consumer.heartbeat.interval.ms"] = "500"
	br, err := broker.Start(broker.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Static: static})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "bench-groups", 6, 1
	req.Topics = append(req.Topics, rt)
	if _, err := req.RequestWith(context.Background(), cl); err != nil {
		b.Fatal(err)
	}
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "bench-groups"),
		kfake.BrokerConfigs(map[string]string{"group.initial.rebalance.delay.ms": "0", "group.consumer.heartbeat.interval.ms": "500"}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fake.Close)
	return map[string]string{"samsa": br.Addr(), "kfake": fake.ListenAddrs()[0]}
}

// BenchmarkGroupOffsetCommit commits one offset per request from 16
// concurrent callers, into one group or spread over 1,000 groups, against
// Samsa and kfake side by side.
func BenchmarkGroupOffsetCommit(b *testing.B) {
	targets := benchTargets(b)
	for _, target := range []string{"samsa", "kfake"} {
		for _, groups := range []int{1, 1000} {
			b.Run(fmt.Sprintf("%s/groups=%d", target, groups), func(b *testing.B) {
				// Kafka 4.0's versions: OffsetCommit v9, by topic name.
				cl, err := kgo.NewClient(kgo.SeedBrokers(targets[target]), kgo.MaxVersions(kversion.V4_0_0()))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				ctx := context.Background()
				var next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := 0; w < 16; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							req := kmsg.NewPtrOffsetCommitRequest()
							req.Group, req.Generation = fmt.Sprintf("bench-%s-%d", target, i%int64(groups)), -1
							rt := kmsg.NewOffsetCommitRequestTopic()
							rt.Topic = "bench-groups"
							rp := kmsg.NewOffsetCommitRequestTopicPartition()
							rp.Partition, rp.Offset = int32(i%6), i
							rt.Partitions = append(rt.Partitions, rp)
							req.Topics = append(req.Topics, rt)
							resp, err := req.RequestWith(ctx, cl)
							if err != nil {
								b.Error(err)
								return
							}
							if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
								b.Errorf("commit: error %d", code)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
			})
		}
	}
}

// BenchmarkGroupRebalance measures the time from a third member joining a
// consuming two-member group to every member consuming again (each owning
// two partitions and the new one having read a record), with the classic
// protocol and with KIP-848's server-side assignment, against Samsa and
// kfake side by side.
func BenchmarkGroupRebalance(b *testing.B) {
	targets := benchTargets(b)
	protocols := map[string][]kgo.Opt{
		"classic":  {kgo.SessionTimeout(6 * time.Second)},
		"consumer": {kgo.ServerSideBalancer()},
	}
	for _, protocol := range []string{"classic", "consumer"} {
		for _, target := range []string{"samsa", "kfake"} {
			b.Run(protocol+"/"+target, func(b *testing.B) {
				benchRebalance(b, targets[target], protocol+"-"+target, protocols[protocol])
			})
		}
	}
}

func benchRebalance(b *testing.B, addr, name string, opts []kgo.Opt) {
	producer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench-groups"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer producer.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			producer.ProduceSync(ctx, &kgo.Record{Value: []byte("x")})
			time.Sleep(time.Millisecond)
		}
	}()
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		group := fmt.Sprintf("rebalance-%s-%d", name, i)
		a := startMemberAt(b, addr, group, "bench-groups", opts...)
		c := startMemberAt(b, addr, group, "bench-groups", opts...)
		waitBench(b, func() bool { return len(a.partitions()) == 3 && len(c.partitions()) == 3 })
		joined := time.Now()
		d := startMemberAt(b, addr, group, "bench-groups", opts...)
		waitBench(b, func() bool {
			return len(a.partitions()) == 2 && len(c.partitions()) == 2 && len(d.partitions()) == 2 && len(d.consumed()) > 0
		})
		took = append(took, time.Since(joined))
		for _, m := range []*groupMember{a, c, d} {
			m.stop()
		}
	}
	// The median: one rebalance that waits an extra heartbeat would move
	// a mean of a few runs by a whole interval.
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/rebalance(median)")
}

func waitBench(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
