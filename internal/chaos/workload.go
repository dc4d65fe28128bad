package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// workload is the clients of a run: idempotent acks=all producers,
// consumers reading every partition by assignment, and the consumer group
// member processes the runner kills.
type workload struct {
	topic      string
	partitions int32
	brokers    []string
	rate       int // records per second per partition
	rec        *Recorder
	plan       Plan
	exe        string // samsa, for the group members
	dir        string
	group      string
	seed       uint64 // the transactional producers' choices

	sent       atomic.Int64
	memberRuns atomic.Int64 // member lives started
	kills      atomic.Int64 // member lives ended by SIGKILL

	stuckMu sync.Mutex
	stuck   []string // transactional producers that did not stop (txnStopGrace)
}

// txnStopGrace is how long a transactional producer may take to stop
// once told to: a cluster that keeps a transaction hanging (InitProducerId
// answered CONCURRENT_TRANSACTIONS for ever) holds franz-go's
// BeginTransaction, which takes no context, without end. After it the
// producer's client is closed, which frees it, and the run fails with
// what it was doing.
const txnStopGrace = 45 * time.Second

// maxInFlight bounds a partition's records sent and not yet answered: a
// partition without a leader stops taking new records rather than
// buffering the whole outage.
const maxInFlight = 64

// produce runs one producer client per three partitions until stop is
// closed, then waits up to drain for the answers still due; every value
// sent is recorded with its answer.
func (w *workload) produce(stop <-chan struct{}, drain time.Duration) error {
	var wg sync.WaitGroup
	var clients []*kgo.Client
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	const perClient = 3
	for first := int32(0); first < w.partitions; first += perClient {
		cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(w.topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.MetadataMinAge(100*time.Millisecond), kgo.RecordDeliveryTimeout(20*time.Second),
			kgo.ProducerLinger(2*time.Millisecond), kgo.DialTimeout(2*time.Second))
		if err != nil {
			return err
		}
		clients = append(clients, cl)
		for p := first; p < min(first+perClient, w.partitions); p++ {
			wg.Go(func() { w.producePartition(cl, p, stop) })
		}
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	for _, cl := range clients {
		_ = cl.Flush(ctx) // what is still due after drain fails with the close
	}
	return nil
}

func (w *workload) producePartition(cl *kgo.Client, p int32, stop <-chan struct{}) {
	inflight := make(chan struct{}, maxInFlight)
	tick := time.NewTicker(time.Second / time.Duration(w.rate))
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			continue // the partition is not keeping up: skip a beat
		}
		v := fmt.Sprintf("%d-%d", p, n)
		n++
		w.sent.Add(1)
		w.rec.Add(Event{Kind: Send, Process: fmt.Sprintf("producer-%d", p), Topic: w.topic, Partition: p, Value: v})
		cl.Produce(context.Background(), &kgo.Record{Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
			e := Event{Kind: Ack, Process: fmt.Sprintf("producer-%d", p), Topic: w.topic, Partition: p, Value: v, Offset: -1}
			if err != nil {
				e.Err = err.Error()
			} else {
				e.Offset = r.Offset
			}
			w.rec.Add(e)
			<-inflight
		})
	}
}

// consume runs assigning consumer c: sessions of the plan's lengths, each
// a new client reading every partition by assignment from where the
// previous session stopped (the first from the start), until stop.
func (w *workload) consume(c int, stop <-chan struct{}) {
	next := map[int32]int64{}
	sessions := w.plan.Sessions[c]
	for s := 0; ; s++ {
		select {
		case <-stop:
			return
		default:
		}
		offsets := map[int32]kgo.Offset{}
		for p := range w.partitions {
			offsets[p] = kgo.NewOffset().At(next[p])
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: offsets}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxWait(500*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond), kgo.DialTimeout(2*time.Second))
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		process := fmt.Sprintf("assign-%d.%d", c, s)
		ctx, cancel := context.WithTimeout(context.Background(), sessions[s%len(sessions)])
		go func() {
			select {
			case <-stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			var recs []Record
			fetches.EachRecord(func(r *kgo.Record) {
				recs = append(recs, Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
				next[r.Partition] = r.Offset + 1
			})
			if len(recs) > 0 {
				w.rec.Add(Event{Kind: Poll, Process: process, Topic: w.topic, Partition: recs[0].Partition, Records: recs})
			}
		}
		cancel()
		cl.Close()
	}
}

// members runs group member m's lives until stop: each a samsa chaos
// member process, SIGKILLed after its planned run (no LeaveGroup: the
// coordinator learns of it by its session timeout) and restarted after
// its planned time down.
func (w *workload) members(m int, stop <-chan struct{}) error {
	lives := w.plan.Members[m]
	history := w.memberHistory(m)
	for l := 0; ; l++ {
		life := lives[l%len(lives)]
		cmd := exec.Command(w.exe, "chaos", "member", "--brokers", strings.Join(w.brokers, ","), "--topic", w.topic,
			"--group", w.group, "--name", fmt.Sprintf("group-%d.%d", m, l), "--history", history)
		log, err := os.OpenFile(filepath.Join(w.dir, fmt.Sprintf("member-%d.log", m)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		log.Close()
		if err != nil {
			return fmt.Errorf("group member %d: %w", m, err)
		}
		w.memberRuns.Add(1)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t := time.NewTimer(life.Run)
		stopped := false
		select {
		case <-stop:
			stopped = true
		case <-t.C:
		case <-done: // it died on its own: its log says why; start another
		}
		t.Stop()
		_ = cmd.Process.Kill()
		<-done
		w.kills.Add(1)
		if stopped {
			return nil
		}
		select {
		case <-stop:
			return nil
		case <-time.After(life.Down):
		}
	}
}

func (w *workload) memberHistory(m int) string {
	return filepath.Join(w.dir, fmt.Sprintf("member-%d.jsonl", m))
}

// errReadBack is a read-back that could not finish: the run failed, and
// its anomalies are not to be trusted (nothing was read, not "lost").
var errReadBack = errors.New("read-back failed")

// readBack reads every partition from the start to its high watermark as
// the final poll, within timeout, read_committed as every consumer of the
// run: it gets past an open transaction once the transaction ends (or
// times out), and keeps the control records to see where a log ending
// with a marker ends.
func (w *workload) readBack(adm *kadm.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var ends kadm.ListedOffsets
	for {
		var err error
		ends, err = adm.ListEndOffsets(ctx, w.topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil && len(ends[w.topic]) == int(w.partitions) {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: high watermarks of %s: %v", errReadBack, w.topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	end := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for p, o := range ends[w.topic] {
		end[p] = o.Offset
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	next := map[int32]int64{}
	behind := func() []int32 {
		var out []int32
		for p, e := range end {
			if next[p] < e {
				out = append(out, p)
			}
		}
		slices.Sort(out)
		return out
	}
	for len(behind()) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			var at []string
			for _, p := range behind() {
				at = append(at, fmt.Sprintf("partition %d at %d of %d", p, next[p], end[p]))
			}
			return fmt.Errorf("%w: not read within %v: %s", errReadBack, timeout, strings.Join(at, ", "))
		}
		var recs []Record
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return // a transaction marker: only where the log ends
			}
			recs = append(recs, Record{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
		})
		if len(recs) > 0 {
			w.rec.Add(Event{Kind: Poll, Process: "final", Topic: w.topic, Partition: recs[0].Partition, Records: recs, Final: true})
		}
	}
	return nil
}

// txnTimeout is the transactional producers' transaction.timeout.ms: a
// transaction a producer could not end is aborted by the coordinator
// within it (and its cleanup interval), well inside the read-back.
const txnTimeout = 10 * time.Second

// produceTxns runs transactional producer t until stop: transactions of
// one to four values, each for a random partition, committed, or aborted
// one time in five (the choices from the seed). Every value is recorded
// with its transaction and every end with its outcome (TxnEnd): a commit
// that errs is of unknown outcome, whatever follows. A producer whose
// transaction failed starts a new client (fencing its old epoch).
func (w *workload) produceTxns(t int, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(w.seed, 0x7478_6e00+uint64(t)))
	process := fmt.Sprintf("txn-producer-%d", t)
	newClient := func() *kgo.Client {
		for {
			cl, err := kgo.NewClient(kgo.SeedBrokers(w.brokers...), kgo.DefaultProduceTopic(w.topic),
				kgo.TransactionalID(fmt.Sprintf("chaos-txn-%d", t)), kgo.TransactionTimeout(txnTimeout),
				kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(100*time.Millisecond),
				kgo.RecordDeliveryTimeout(20*time.Second), kgo.DialTimeout(2*time.Second))
			if err == nil {
				return cl
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var mu sync.Mutex // guards cl and doing against the stop watchdog
	cl, doing := newClient(), "starting"
	set := func(c *kgo.Client, what string) {
		mu.Lock()
		cl, doing = c, what
		mu.Unlock()
	}
	defer func() {
		mu.Lock()
		cl.Close()
		mu.Unlock()
	}()
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-returned:
			return
		case <-stop:
		}
		select {
		case <-returned:
		case <-time.After(txnStopGrace):
			mu.Lock()
			w.stuckMu.Lock()
			w.stuck = append(w.stuck, fmt.Sprintf("%s still %s %v after the workload stopped (a transaction left hanging?)", process, doing, txnStopGrace))
			w.stuckMu.Unlock()
			cl.Close()
			mu.Unlock()
		}
	}()
	pace := time.NewTicker(max(time.Second/time.Duration(max(w.rate/2, 1)), time.Millisecond))
	defer pace.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-pace.C:
		}
		txn := fmt.Sprintf("%s.%d", process, n)
		values, commit := 1+rng.IntN(4), rng.IntN(5) != 0
		set(cl, "beginning "+txn)
		if err := cl.BeginTransaction(); err != nil {
			cl.Close()
			set(newClient(), "starting")
			continue
		}
		set(cl, "in "+txn)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var failed atomic.Int32
		for i := range values {
			p := rng.Int32N(w.partitions)
			v := fmt.Sprintf("t%d-%d-%d", t, n, i)
			w.sent.Add(1)
			w.rec.Add(Event{Kind: Send, Process: process, Topic: w.topic, Partition: p, Value: v, Txn: txn})
			cl.Produce(ctx, &kgo.Record{Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
				e := Event{Kind: Ack, Process: process, Topic: w.topic, Partition: p, Value: v, Offset: -1}
				if err != nil {
					e.Err = err.Error()
					failed.Add(1)
				} else {
					e.Offset = r.Offset
				}
				w.rec.Add(e)
			})
		}
		if err := cl.Flush(ctx); err != nil || failed.Load() > 0 {
			commit = false // a transaction with a failed record is aborted
		}
		how := kgo.TryAbort
		if commit {
			how = kgo.TryCommit
		}
		err := cl.EndTransaction(ctx, how)
		e := Event{Kind: TxnEnd, Process: process, Txn: txn, Commit: commit}
		if err != nil {
			e.Err = err.Error()
		}
		w.rec.Add(e)
		cancel()
		if err != nil {
			// An abort that failed is still an abort: the coordinator
			// aborts the transaction when the new client's
			// InitProducerID fences this epoch, or when it times out.
			cl.Close()
			set(newClient(), "starting")
		}
	}
}
