package txncoord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestScripts runs testdata/*.txt. Each file starts with a coordinator
// leading the one partition of __transaction_state (leader epoch 1) over a
// memory log, producer IDs from 1000 (init and end wait for the marker
// senders to settle, see markers), the clock at 1,700,000,000,000 ms and
// transaction.max.timeout.ms 15 min; a request that meets an end still
// completing answers CONCURRENT_TRANSACTIONS at once, as Kafka (EndWait
// off: TestEndWait covers the wait). Commands:
//
//	init id=X [timeout=MS] [pid=P epoch=E]    InitProducerId: pid=.. epoch=.. or error=..
//	add id=X pid=P epoch=E parts=t-0,t-1      AddPartitionsToTxn (client path)
//	verify id=X pid=P epoch=E parts=...       the verify-only path: one code per partition
//	end id=X pid=P epoch=E commit|abort [v2]  EndTxn
//	state id=X                                the transaction as the coordinator holds it
//	describe ids=X,Y / list [states=..] [pids=..] [duration=MS]
//	markers [fail=t-0:CODE,...|ok]            the markers delivered since the last markers command
//	                                          (after waiting for the senders to settle), one line
//	                                          a request; fail makes those partitions answer CODE
//	                                          until ok
//	log                                       every record of the log, decoded
//	advance ms=N / abort-timed-out / expire   the clock and the two timers
//	restart [epoch=E]                         a new coordinator reads the same log (a crash)
//	unload                                    the partition is no longer led
//	set-epoch id=X epoch=E                    sets the epoch in memory (to reach exhaustion)
//	append-fail on|off                        the log refuses appends (NOT_LEADER_OR_FOLLOWER)
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		e := newEnv(t)
		defer e.c.Close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return e.run(t, d)
		})
	})
}

type env struct {
	t       *testing.T
	now     time.Time
	mu      sync.Mutex
	log     *memLog
	markers *fakeMarkers
	nextID  int64
	endWait time.Duration
	c       *Coordinator
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, now: time.UnixMilli(1_700_000_000_000), log: &memLog{}, markers: &fakeMarkers{fail: map[TopicPartition]int16{}}, nextID: 1000, endWait: -1}
	e.start(1)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) start(epoch int32) {
	e.c = New(Config{
		MaxTimeout: 15 * time.Minute, MarkerRetry: time.Millisecond, WriteTimeout: time.Second, EndWait: e.endWait,
		NextProducerID: func(context.Context) (int64, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.nextID++
			return e.nextID - 1, nil
		},
		Markers: e.markers, Now: e.clock, DisableTimerLoop: true,
	})
	if err := e.c.Sync(1, map[int32]Partition{0: {Log: e.log, Epoch: epoch}}); err != nil {
		e.t.Fatal(err)
	}
}

func errName(code int16) string {
	if code == 0 {
		return "ok"
	}
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) {
		return ke.Message
	}
	return strconv.Itoa(int(code))
}

func parseParts(t *testing.T, s string) []TopicPartition {
	var out []TopicPartition
	for _, f := range strings.Split(s, ",") {
		i := strings.LastIndexByte(f, '-')
		n, err := strconv.Atoi(f[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("bad partition %q", f)
		}
		out = append(out, TopicPartition{f[:i], int32(n)})
	}
	return out
}

func partsString(ps []TopicPartition) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%s-%d", p.Topic, p.Partition)
	}
	return strings.Join(s, ",")
}

func (e *env) run(t *testing.T, d *datadriven.TestData) string {
	arg := func(key string) string {
		for _, a := range d.CmdArgs {
			if a.Key == key {
				if len(a.Vals) == 0 {
					return "true"
				}
				return strings.Join(a.Vals, ",")
			}
		}
		return ""
	}
	num := func(key string, def int64) int64 {
		s := arg(key)
		if s == "" {
			return def
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: bad %s %q", d.Pos, key, s)
		}
		return n
	}
	id, pid, epoch := arg("id"), num("pid", -1), int16(num("epoch", -1))
	switch d.Cmd {
	case "init":
		r := e.c.InitProducerID(context.Background(), id, int32(num("timeout", 60000)), pid, epoch)
		e.settle()
		if r.Code != 0 {
			return "error=" + errName(r.Code) + "\n"
		}
		return fmt.Sprintf("pid=%d epoch=%d\n", r.ProducerID, r.Epoch)
	case "add":
		return errName(e.c.AddPartitions(context.Background(), id, pid, epoch, parseParts(t, arg("parts")))) + "\n"
	case "verify":
		parts := parseParts(t, arg("parts"))
		codes := e.c.Verify(id, pid, epoch, parts)
		var b strings.Builder
		for _, p := range parts {
			fmt.Fprintf(&b, "%s-%d: %s\n", p.Topic, p.Partition, errName(codes[p]))
		}
		return b.String()
	case "end":
		r := e.c.EndTxn(id, pid, epoch, arg("commit") != "", arg("v2") != "")
		e.settle()
		if r.Code != 0 {
			return "error=" + errName(r.Code) + "\n"
		}
		return fmt.Sprintf("ok pid=%d epoch=%d\n", r.ProducerID, r.Epoch)
	case "state":
		e.settle()
		e.c.mu.Lock()
		defer e.c.mu.Unlock()
		tp := e.c.parts[0]
		if tp == nil || tp.txns[id] == nil {
			return "none\n"
		}
		return metaString(tp.txns[id])
	case "describe":
		var b strings.Builder
		for _, s := range e.c.Describe(strings.Split(arg("ids"), ",")) {
			if s.ErrorCode != 0 {
				fmt.Fprintf(&b, "%s: error=%s\n", s.TransactionalID, errName(s.ErrorCode))
				continue
			}
			var parts []string
			for _, tp := range s.Topics {
				for _, p := range tp.Partitions {
					parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, p))
				}
			}
			fmt.Fprintf(&b, "%s: %s pid=%d epoch=%d timeout=%d start=%d parts=[%s]\n", s.TransactionalID, s.State, s.ProducerID, s.ProducerEpoch, s.TimeoutMillis, s.StartTimestamp, strings.Join(parts, ","))
		}
		return b.String()
	case "list":
		var states []string
		if s := arg("states"); s != "" {
			states = strings.Split(s, ",")
		}
		var pids []int64
		if s := arg("pids"); s != "" {
			for _, f := range strings.Split(s, ",") {
				n, _ := strconv.ParseInt(f, 10, 64)
				pids = append(pids, n)
			}
		}
		txns, unknown, code := e.c.List(states, pids, num("duration", -1))
		var b strings.Builder
		if code != 0 {
			return "error=" + errName(code) + "\n"
		}
		for _, x := range txns {
			fmt.Fprintf(&b, "%s pid=%d %s\n", x.TransactionalID, x.ProducerID, x.TransactionState)
		}
		if len(unknown) > 0 {
			fmt.Fprintf(&b, "unknown states: %s\n", strings.Join(unknown, ","))
		}
		if b.Len() == 0 {
			return "none\n"
		}
		return b.String()
	case "markers":
		if s := arg("fail"); s != "" {
			e.markers.setFail(t, s)
			return "ok\n"
		}
		if arg("ok") != "" {
			e.markers.setFail(t, "")
			return "ok\n"
		}
		e.settle()
		return e.markers.take()
	case "log":
		e.settle()
		return e.log.dump(t)
	case "advance":
		e.mu.Lock()
		e.now = e.now.Add(time.Duration(num("ms", 0)) * time.Millisecond)
		e.mu.Unlock()
		return "ok\n"
	case "abort-timed-out":
		e.c.AbortTimedOut()
		e.settle()
		return "ok\n"
	case "expire":
		e.c.ExpireIDs()
		return "ok\n"
	case "restart":
		e.c.Close()
		e.start(int32(num("epoch", 2)))
		return "ok\n"
	case "unload":
		if err := e.c.Sync(1, nil); err != nil {
			t.Fatal(err)
		}
		return "ok\n"
	case "set-epoch":
		e.c.mu.Lock()
		e.c.parts[0].txns[id].epoch = epoch
		e.c.mu.Unlock()
		return "ok\n"
	case "append-fail":
		e.log.mu.Lock()
		e.log.fail = arg("on") != ""
		e.log.mu.Unlock()
		return "ok\n"
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

// settle waits until no marker sender is working: each has either
// completed its transaction or is retrying a failing partition.
func (e *env) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.c.mu.Lock()
		busy := false
		for _, tp := range e.c.parts {
			for _, m := range tp.txns {
				if m.pending || (m.sending && (m.attempts == 0 || !e.markers.blocked(m.sortedPartitions()))) {
					busy = true
				}
			}
		}
		e.c.mu.Unlock()
		if !busy {
			time.Sleep(5 * time.Millisecond) // let a retrying sender record its attempt
			return
		}
		time.Sleep(time.Millisecond)
	}
	e.t.Fatal("marker senders did not settle in 5 s")
}

func metaString(m *txnMeta) string {
	return fmt.Sprintf("%s pid=%d prev=%d epoch=%d last-epoch=%d timeout=%d start=%d update=%d version=%d parts=[%s]\n",
		m.state, m.producerID, m.prevProducerID, m.epoch, m.lastEpoch, m.timeoutMs, m.startMs, m.updateMs, m.version, partsString(m.sortedPartitions()))
}

// memLog is a partition of __transaction_state in memory, every record
// committed as soon as appended.
type memLog struct {
	mu   sync.Mutex
	recs []batch.Record
	fail bool
}

func (l *memLog) Append(recs []batch.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return 0, fmt.Errorf("memory log: %w", kerr.NotLeaderForPartition)
	}
	for _, r := range recs {
		r.Offset = int64(len(l.recs))
		l.recs = append(l.recs, r)
	}
	return int64(len(l.recs)), nil
}

func (l *memLog) WaitCommitted(int64, time.Duration) error { return nil }

func (l *memLog) Replay(fn func(batch.Record) error) error {
	l.mu.Lock()
	recs := append([]batch.Record(nil), l.recs...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLog) dump(t *testing.T) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		id, m, err := decodeRecord(r.Key, r.Value)
		switch {
		case err != nil:
			t.Fatalf("offset %d: %v", r.Offset, err)
		case m == nil:
			fmt.Fprintf(&b, "%d %s: tombstone\n", r.Offset, id)
		default:
			fmt.Fprintf(&b, "%d %s: %s", r.Offset, id, metaString(m))
		}
	}
	return b.String()
}

// fakeMarkers answers each partition 0 or the code it is told to fail
// with, and records the markers each request delivered.
type fakeMarkers struct {
	mu   sync.Mutex
	sent []Marker
	fail map[TopicPartition]int16
}

func (f *fakeMarkers) Write(_ context.Context, m Marker) map[TopicPartition]int16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[TopicPartition]int16{}
	var took []TopicPartition
	for _, p := range m.Partitions {
		if out[p] = f.fail[p]; out[p] == 0 {
			took = append(took, p)
		}
	}
	if len(took) > 0 {
		m.Partitions = took
		f.sent = append(f.sent, m)
	}
	return out
}

func (f *fakeMarkers) setFail(t *testing.T, s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[TopicPartition]int16{}
	if s == "" {
		return
	}
	for _, kv := range strings.Split(s, ",") {
		p, name, _ := strings.Cut(kv, ":")
		code := int16(-1)
		for c := int16(1); c < 130; c++ {
			if errName(c) == name {
				code = c
			}
		}
		if code < 0 {
			t.Fatalf("unknown error %q", name)
		}
		f.fail[parseParts(t, p)[0]] = code
	}
}

func (f *fakeMarkers) blocked(parts []TopicPartition) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range parts {
		if f.fail[p] != 0 {
			return true
		}
	}
	return false
}

func (f *fakeMarkers) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, m := range f.sent {
		what := "ABORT"
		if m.Commit {
			what = "COMMIT"
		}
		fmt.Fprintf(&b, "%s pid=%d epoch=%d coord-epoch=%d tv=%d parts=%s\n", what, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.TransactionVersion, partsString(m.Partitions))
	}
	f.sent = nil
	if b.Len() == 0 {
		return "none\n"
	}
	return b.String()
}
