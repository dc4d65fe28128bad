package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/localcluster"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failoverBench is `samsa bench failover`: a local cluster of real samsa
// serve processes (cluster local's), a topic of replication factor 3 with
// min.insync.replicas=2, an idempotent acks=all producer per partition,
// and kill -9 of a partition leader, again and again.
type failoverBench struct {
	lc         localCluster
	kills      int
	partitions int32
	timeout    time.Duration
}

func newBenchFailoverCommand() *cobra.Command {
	var fb failoverBench
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Measure the time from kill -9 of a partition leader to the next acks=all produce on its partitions",
		Long: `Start a local cluster of --nodes real samsa serve processes (as cluster local
does, with its --set configs), create a topic of --partitions partitions with
replication factor 3 and min.insync.replicas=2, and run an idempotent acks=all
producer writing to every partition without pause (one franz-go client per
partition, refreshing metadata at most every 100ms, like the Java client's
retry.backoff.ms, instead of franz-go's 5s). Then --kills times: kill -9 the
leader of one partition (in turn), time from the kill to the first
acknowledgement of a record handed to the producer after the kill, on each
partition the killed node led (the failover is the slowest of them), restart
the node on its directory and wait until every partition has its three
replicas in the ISR again. Prints each kill (whether the node was also the
active controller) and the median and maximum failover.`,
		Example: `  samsa bench failover
  samsa bench failover --kills 30 --set broker.session.timeout.ms=18000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fb.lc.nodes < 3 || fb.kills < 1 || fb.partitions < 1 {
				return fmt.Errorf("want --nodes of at least 3 and at least one kill and partition")
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the samsa binary: %w", err)
			}
			temp := fb.lc.dir == ""
			if temp {
				if fb.lc.dir, err = os.MkdirTemp("", "samsa-failover-"); err != nil {
					return err
				}
			}
			if fb.lc.dir, err = filepath.Abs(fb.lc.dir); err != nil {
				return err
			}
			err = fb.run(commandContext(cmd), exe, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if temp && err == nil {
				return os.RemoveAll(fb.lc.dir)
			}
			if temp {
				fmt.Fprintf(cmd.ErrOrStderr(), "data and logs kept in %s\n", fb.lc.dir)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVarP(&fb.lc.nodes, "nodes", "n", 3, "number of nodes (at least 3)")
	f.IntVar(&fb.kills, "kills", 20, "how many leaders to kill")
	f.Int32VarP(&fb.partitions, "partitions", "p", 3, "partitions of the topic")
	f.StringVar(&fb.lc.dir, "dir", "", "directory for the nodes' data and logs (default: a new temporary directory, removed after a clean run)")
	f.StringVar(&fb.lc.logLevel, "log-level", "info", "the nodes' --log-level")
	f.DurationVar(&fb.timeout, "timeout", time.Minute, "how long a failover or a recovery may take before the run fails")
	f.StringArrayVar(&fb.lc.sets, "set", nil, "a broker config for every node, name=value (repeatable)")
	fb.lc.stopTimeout = 30 * time.Second
	return cmd
}

// failoverStream is one partition's producer. From a mark (a kill), it
// notes the first acknowledgement of a record handed over after it.
type failoverStream struct {
	mu       sync.Mutex
	next     int       // the number of the next record handed over
	from     int       // records numbered from here were handed over after the mark
	firstAck time.Time // the first of them acknowledged, or zero
	errs     []error
}

// mark starts a measurement: only records handed over from now count.
func (s *failoverStream) mark() {
	s.mu.Lock()
	s.from, s.firstAck = s.next, time.Time{}
	s.mu.Unlock()
}

func (s *failoverStream) first() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstAck
}

func (fb *failoverBench) run(ctx context.Context, exe string, stdout, stderr io.Writer) (err error) {
	lc := &fb.lc
	kafka, controller, err := lc.ports()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(lc.dir, 0o755); err != nil {
		return err
	}
	nodes := make([]*localcluster.Node, lc.nodes)
	defer func() {
		var running []*localcluster.Node
		for _, n := range nodes {
			if n != nil {
				running = append(running, n)
			}
		}
		if stopErr := localcluster.StopAll(running, lc.stopTimeout); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	start := func(id int) error {
		n, err := lc.startNode(exe, id, kafka, controller)
		nodes[id-1] = n
		return err
	}
	for id := 1; id <= lc.nodes; id++ {
		if err := start(id); err != nil {
			return err
		}
	}
	if err := localcluster.WaitReady(ctx, nodes, fb.timeout); err != nil {
		return err
	}
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.Addr)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryTimeout(fb.timeout))
	if err != nil {
		return err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	const topic = "failover"
	minISR := "2"
	resp, err := adm.CreateTopic(ctx, fb.partitions, 3, map[string]*string{"min.insync.replicas": &minISR}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}

	streams := make([]*failoverStream, fb.partitions)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for p := range fb.partitions {
		// AlwaysRetryEOF: a connection the client opens to a node just as
		// it is killed ends with EOF at its first response, which franz-go
		// otherwise takes for a SASL or TLS misconfiguration and fails the
		// buffered records on (InitProducerID included), as a client of a
		// cluster known to need neither should not.
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.MaxBufferedRecords(50), kgo.MetadataMinAge(100*time.Millisecond), kgo.RetryTimeout(fb.timeout),
			kgo.AlwaysRetryEOF())
		if err != nil {
			return err
		}
		s := &failoverStream{from: math.MaxInt}
		streams[p] = s
		wg.Go(func() {
			defer cl.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.mu.Lock()
				s.next = i + 1
				s.mu.Unlock()
				cl.Produce(ctx, &kgo.Record{Partition: p, Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
					now := time.Now()
					s.mu.Lock()
					defer s.mu.Unlock()
					if err != nil {
						s.errs = append(s.errs, err)
						return
					}
					if i >= s.from && s.firstAck.IsZero() {
						s.firstAck = now
					}
				})
			}
		})
	}
	if err := fb.waitFullISR(ctx, adm, topic); err != nil {
		return err
	}

	var all, withController, leaderOnly []time.Duration
	for k := range fb.kills {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			return err
		}
		victim := md.Topics[topic].Partitions[int32(k)%fb.partitions].Leader
		var led []int32
		for p, pd := range md.Topics[topic].Partitions {
			if pd.Leader == victim {
				led = append(led, p)
			}
		}
		slices.Sort(led)
		wasController := md.Controller == victim
		n := nodes[victim-1]
		at := time.Now()
		n.Kill()
		// Only a record handed over once the process is gone proves the
		// failover: the dying leader may have answered earlier ones.
		for _, p := range led {
			streams[p].mark()
		}
		var took time.Duration
		for _, p := range led {
			deadline := time.Now().Add(fb.timeout)
			for {
				if first := streams[p].first(); !first.IsZero() {
					took = max(took, first.Sub(at))
					break
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					return fmt.Errorf("kill %d: partition %d had no acks=all produce acknowledged within %v of killing node %d", k+1, p, fb.timeout, victim)
				}
				time.Sleep(time.Millisecond)
			}
		}
		all = append(all, took)
		role := "leader"
		if wasController {
			role = "leader and active controller"
			withController = append(withController, took)
		} else {
			leaderOnly = append(leaderOnly, took)
		}
		fmt.Fprintf(stdout, "kill %2d: node %d (%s of partitions %v): failover %v\n", k+1, victim, role, led, took.Round(time.Millisecond))
		if err := start(int(victim)); err != nil {
			return err
		}
		if err := localcluster.WaitReady(ctx, nodes, fb.timeout); err != nil {
			return err
		}
		if err := fb.waitFullISR(ctx, adm, topic); err != nil {
			return err
		}
	}
	var errs []error
	for p, s := range streams {
		s.mu.Lock()
		if len(s.errs) > 0 {
			errs = append(errs, fmt.Errorf("partition %d: %d produce errors, the first: %w", p, len(s.errs), s.errs[0]))
		}
		s.mu.Unlock()
	}
	fmt.Fprintf(stdout, "failover over %d kills: %s\n", len(all), durationStats(all))
	if len(withController) > 0 && len(leaderOnly) > 0 {
		fmt.Fprintf(stdout, "  of a leader only (%d): %s\n", len(leaderOnly), durationStats(leaderOnly))
		fmt.Fprintf(stdout, "  of a leader that was also the active controller (%d): %s\n", len(withController), durationStats(withController))
	}
	return errors.Join(errs...)
}

// durationStats is "p50 X max Y".
func durationStats(ds []time.Duration) string {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("p50 %v max %v", s[(len(s)-1)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// waitFullISR waits until every partition of topic has a leader and all
// its replicas in the ISR.
func (fb *failoverBench) waitFullISR(ctx context.Context, adm *kadm.Client, topic string) error {
	deadline := time.Now().Add(fb.timeout)
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			full := len(md.Topics[topic].Partitions) == int(fb.partitions)
			for _, p := range md.Topics[topic].Partitions {
				full = full && p.Err == nil && p.Leader >= 0 && len(p.ISR) == len(p.Replicas)
			}
			if full {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the partitions of %s did not all get their whole ISR back within %v (last: %v)", topic, fb.timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
