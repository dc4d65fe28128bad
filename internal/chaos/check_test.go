package chaos

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// history builds events one line at a time, each a millisecond after the
// one before.
type history struct {
	t      int64
	events []Event
}

func (h *history) add(e Event) *history {
	h.t += int64(time.Millisecond)
	e.Time = h.t
	if e.Topic == "" {
		e.Topic = "t"
	}
	h.events = append(h.events, e)
	return h
}

func (h *history) send(p int32, v string) *history {
	return h.add(Event{Kind: Send, Process: "producer-0", Partition: p, Value: v})
}

func (h *history) ack(p int32, v string, off int64) *history {
	return h.add(Event{Kind: Ack, Process: "producer-0", Partition: p, Value: v, Offset: off})
}

func (h *history) fail(p int32, v string) *history {
	return h.add(Event{Kind: Ack, Process: "producer-0", Partition: p, Value: v, Offset: -1, Err: "REQUEST_TIMED_OUT"})
}

func (h *history) poll(process string, final bool, recs ...Record) *history {
	return h.add(Event{Kind: Poll, Process: process, Records: recs, Final: final})
}

func (h *history) commit(group string, p int32, off int64) *history {
	return h.add(Event{Kind: Commit, Process: group + "-member", Group: group, Partition: p, Offset: off})
}

func rec(p int32, off int64, v string) Record { return Record{Partition: p, Offset: off, Value: v} }

// clean is a history without anomalies: two partitions, one value whose
// ack failed but which was not written, and one whose ack failed and
// which was (allowed, counted).
func clean() *history {
	h := &history{}
	h.send(0, "a").send(0, "b").send(1, "c").send(0, "x").send(1, "y")
	h.ack(0, "a", 0).ack(1, "c", 0).ack(0, "b", 1).fail(0, "x").fail(1, "y")
	h.poll("assign-0", false, rec(0, 0, "a"), rec(0, 1, "b"), rec(1, 0, "c"))
	h.commit("g", 0, 1).commit("g", 0, 2).commit("g", 0, 2)
	h.poll("final", true, rec(0, 0, "a"), rec(0, 1, "b"), rec(1, 0, "c"), rec(1, 1, "y"))
	return h
}

func TestCheckClean(t *testing.T) {
	res := Check(clean().events)
	if res.Failed() {
		t.Fatalf("anomalies in a clean history: %v", res.Anomalies)
	}
	want := []PartitionCounts{
		{Topic: "t", Partition: 0, Attempted: 3, Acked: 2, Failed: 1, Read: 2},
		{Topic: "t", Partition: 1, Attempted: 2, Acked: 1, Failed: 1, Read: 2, Unacked: 1},
	}
	if !reflect.DeepEqual(res.Partitions, want) {
		t.Fatalf("counts %+v, want %+v", res.Partitions, want)
	}
	if len(res.Anomalies) != 1 || res.Anomalies[0].Kind != UnacknowledgedRead || res.Anomalies[0].Value != "y" {
		t.Fatalf("anomalies %v, want only y's unacknowledged read", res.Anomalies)
	}
}

// TestCheckAnomalies: each anomaly of the list, put into an
// otherwise clean history, is found, with the records involved, and
// nothing else is.
func TestCheckAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(h *history)
		want  Anomaly
		allow bool
	}{{
		name: "lost acknowledged",
		edit: func(h *history) {
			h.send(1, "d").ack(1, "d", 2)
		},
		want: Anomaly{Kind: Lost, Topic: "t", Partition: 1, Value: "d", Offsets: []int64{2}, Detail: "acknowledged, not in the read-back"},
	}, {
		name: "lost after being read",
		edit: func(h *history) {
			h.send(1, "d").poll("assign-1", false, rec(1, 5, "d"))
		},
		want: Anomaly{Kind: Lost, Topic: "t", Partition: 1, Value: "d", Offsets: []int64{5}, Detail: "read during the run, not in the read-back"},
	}, {
		name: "duplicated",
		edit: func(h *history) {
			h.poll("final-2", true, rec(0, 0, "a"), rec(0, 1, "b"), rec(0, 2, "a"))
		},
		want: Anomaly{Kind: Duplicated, Topic: "t", Partition: 0, Value: "a", Offsets: []int64{0, 2}},
	}, {
		name: "read at another offset than acknowledged",
		edit: func(h *history) {
			h.send(1, "d").ack(1, "d", 2).poll("final-2", true, rec(1, 3, "d"))
		},
		want: Anomaly{Kind: Duplicated, Topic: "t", Partition: 1, Value: "d", Offsets: []int64{2, 3}, Offset: 2},
	}, {
		name: "nonmonotonic poll",
		edit: func(h *history) {
			h.poll("assign-0", false, rec(0, 0, "a"))
		},
		want: Anomaly{Kind: NonMonotonicPoll, Topic: "t", Partition: 0, Value: "a", Offsets: []int64{1, 0}, Process: "assign-0", Detail: "offset 0 after 1"},
	}, {
		name: "skipped poll",
		edit: func(h *history) {
			h.send(0, "d").ack(0, "d", 2).send(0, "e").ack(0, "e", 3)
			h.poll("assign-9", false, rec(0, 1, "b"), rec(0, 3, "e"))
			h.poll("final-2", true, rec(0, 2, "d"), rec(0, 3, "e"))
		},
		want: Anomaly{Kind: SkippedPoll, Topic: "t", Partition: 0, Offsets: []int64{1, 3}, Offset: 2, Values: []string{"d"},
			Process: "assign-9", Detail: "jumped from offset 1 to 3 over offset 2"},
	}, {
		name: "commit backwards",
		edit: func(h *history) {
			h.commit("g", 0, 1)
		},
		want: Anomaly{Kind: CommitBackwards, Topic: "t", Partition: 0, Offsets: []int64{2, 1}, Group: "g", Process: "g-member", Detail: "committed 1 after 2"},
	}, {
		name: "phantom",
		edit: func(h *history) {
			h.poll("final-2", true, rec(1, 2, "nobody sent me"))
		},
		want: Anomaly{Kind: Phantom, Topic: "t", Partition: 1, Value: "nobody sent me", Offsets: []int64{2}, Offset: 2},
	}, {
		name: "unacknowledged read",
		edit: func(h *history) {
			h.send(0, "z").poll("final-2", true, rec(0, 2, "z"))
		},
		want:  Anomaly{Kind: UnacknowledgedRead, Topic: "t", Partition: 0, Value: "z", Offsets: []int64{2}, Offset: 2},
		allow: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := clean()
			tc.edit(h)
			res := Check(h.events)
			var got []Anomaly
			for _, a := range res.Anomalies {
				if a.Kind == UnacknowledgedRead && (a.Value == "y" || !tc.allow) {
					continue // the clean history's own, or one the edit implies
				}
				got = append(got, a)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Fatalf("anomalies:\n%v\nwant only:\n%v", got, tc.want)
			}
			if res.Failed() == tc.allow {
				t.Fatalf("Failed() = %v for an anomaly allowed=%v", res.Failed(), tc.allow)
			}
		})
	}
}

// TestCheckInconsistentOffset: two values read at one offset by two
// readers is an inconsistent offset (and each value is where it was
// acknowledged, so nothing else).
func TestCheckInconsistentOffset(t *testing.T) {
	h := &history{}
	h.send(0, "a").send(0, "b").ack(0, "a", 0)
	h.poll("assign-0", false, rec(0, 0, "a"))
	h.poll("final", true, rec(0, 0, "b"))
	res := Check(h.events)
	kinds := map[AnomalyKind]int{}
	for _, a := range res.Anomalies {
		kinds[a.Kind]++
	}
	want := map[AnomalyKind]int{InconsistentOffset: 1, Lost: 1, UnacknowledgedRead: 1}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("anomalies %v, want kinds %v", res.Anomalies, want)
	}
	if a := res.Anomalies[0]; a.Kind != InconsistentOffset || a.Offset != 0 || !reflect.DeepEqual(a.Values, []string{"a", "b"}) {
		t.Fatalf("first anomaly %v, want offset 0 holding a and b", a)
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	h := clean()
	h.add(Event{Kind: FaultStart, Process: "nemesis", Fault: "kill-leader", ID: 1, Nodes: []int{2}, Partitions: []int32{0, 1}})
	h.add(Event{Kind: FaultEnd, Process: "nemesis", Fault: "kill-leader", ID: 1, Nodes: []int{2}})
	var buf bytes.Buffer
	if err := WriteHistory(&buf, h.events); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h.events) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, h.events)
	}
	for _, bad := range []string{`{"kind":"sned"}`, `{"kind":"send"`, `[1,2]`, `{"kind":"ack","offset":"x"}`} {
		if _, err := ReadHistory(strings.NewReader(bad + "\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ReadHistory(%s) = %v, want an error naming line 1", bad, err)
		}
	}
}

func FuzzReadHistory(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteHistory(&buf, clean().events)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"kind":"poll","records":[{"partition":-1,"offset":-9,"value":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := ReadHistory(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Whatever decodes, the checker judges without panicking, and the
		// history writes back to the same events.
		Check(events)
		Unavailability(events)
		var out bytes.Buffer
		if err := WriteHistory(&out, events); err != nil {
			t.Fatal(err)
		}
		again, err := ReadHistory(&out)
		if err != nil {
			t.Fatalf("rewritten history unreadable: %v", err)
		}
		if !reflect.DeepEqual(again, events) {
			t.Fatalf("rewritten history differs")
		}
	})
}

func TestUnavailability(t *testing.T) {
	ms := int64(time.Millisecond)
	events := []Event{
		{Time: 10 * ms, Kind: Ack, Partition: 0},
		{Time: 100 * ms, Kind: FaultStart, Fault: "kill-leader", Partitions: []int32{0}},
		{Time: 150 * ms, Kind: Ack, Partition: 1}, // not affected
		{Time: 200 * ms, Kind: Ack, Partition: 0, Err: "NOT_LEADER_OR_FOLLOWER"},
		{Time: 900 * ms, Kind: Ack, Partition: 0},
		{Time: 1000 * ms, Kind: FaultStart, Fault: "kill-leader", Partitions: []int32{0}},
		{Time: 1300 * ms, Kind: Ack, Partition: 0},
		{Time: 2000 * ms, Kind: FaultStart, Fault: "pause"}, // every partition
		{Time: 2100 * ms, Kind: Ack, Partition: 1},
		{Time: 2500 * ms, Kind: Ack, Partition: 0},
		{Time: 3000 * ms, Kind: FaultStart, Fault: "slow", Partitions: []int32{1}}, // no ack after
	}
	got := Unavailability(events)
	want := []Outage{
		{Fault: "kill-leader", Injected: 2, Measured: 2, P50: 300 * time.Millisecond, Max: 800 * time.Millisecond},
		{Fault: "pause", Injected: 1, Measured: 2, P50: 100 * time.Millisecond, Max: 500 * time.Millisecond},
		{Fault: "slow", Injected: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unavailability = %+v, want %+v", got, want)
	}
}

func replicaLog(epochs ...int32) []byte {
	var log []byte
	for i, e := range epochs {
		b := batch.Build(batch.BuildOptions{BaseOffset: int64(2 * i), ProducerID: -1, BaseSequence: -1},
			[]batch.Record{{Value: []byte("v")}, {Value: []byte("w")}})
		batch.SetPartitionLeaderEpoch(b, e)
		log = append(log, b...)
	}
	return log
}

func TestCompareReplicas(t *testing.T) {
	same := replicaLog(1, 1, 2)
	if got := CompareReplicas("t", 0, 6, map[int][]byte{1: same, 2: same, 3: same}); len(got) != 0 {
		t.Fatalf("same logs: %v", got)
	}
	// Above the high watermark replicas may differ.
	if got := CompareReplicas("t", 0, 4, map[int][]byte{1: same, 2: replicaLog(1, 1, 3), 3: replicaLog(1, 1)}); len(got) != 0 {
		t.Fatalf("logs equal below the high watermark: %v", got)
	}
	got := CompareReplicas("t", 0, 6, map[int][]byte{1: same, 2: replicaLog(1, 3, 3), 3: replicaLog(1, 1)})
	if len(got) != 2 {
		t.Fatalf("want two divergences, got %v", got)
	}
	if got[0].Node != 2 || got[0].Offset != 2 || !strings.Contains(got[0].Detail, "differs") {
		t.Errorf("node 2: %v", got[0])
	}
	if got[1].Node != 3 || got[1].Offset != 4 || !strings.Contains(got[1].Detail, "ends at offset 4") {
		t.Errorf("node 3: %v", got[1])
	}
	if got := CompareReplicas("t", 0, 6, map[int][]byte{1: same, 2: []byte(strings.Repeat("x", 80))}); len(got) != 1 || !strings.Contains(got[0].Detail, "unreadable") {
		t.Errorf("corrupt log: %v", got)
	}
}

func FuzzCompareReplicas(f *testing.F) {
	f.Add(replicaLog(1, 2), replicaLog(1, 3), int64(4))
	f.Fuzz(func(t *testing.T, a, b []byte, hw int64) {
		CompareReplicas("t", 0, hw, map[int][]byte{1: a, 2: b})
		if got := CompareReplicas("t", 0, hw, map[int][]byte{1: a, 2: a}); len(got) != 0 && !strings.Contains(got[0].Detail, "unreadable") {
			t.Fatalf("a log diverges from itself: %v", got)
		}
	})
}

func (h *history) sendTxn(p int32, v, txn string) *history {
	return h.add(Event{Kind: Send, Process: "txn-producer-0", Partition: p, Value: v, Txn: txn})
}

func (h *history) endTxn(txn string, commit bool, err string) *history {
	return h.add(Event{Kind: TxnEnd, Process: "txn-producer-0", Txn: txn, Commit: commit, Err: err})
}

// transactional is a clean history of transactions on partitions 0 and 1:
// T1 committed, T2 aborted (its records at offsets 1 and 1, skipped by
// the readers), T3 of unknown outcome and read back whole, T4 of unknown
// outcome and not read back at all.
func transactional() *history {
	h := &history{}
	h.sendTxn(0, "t1a", "T1").sendTxn(1, "t1b", "T1").ack(0, "t1a", 0).ack(1, "t1b", 0).endTxn("T1", true, "")
	h.sendTxn(0, "t2a", "T2").sendTxn(1, "t2b", "T2").ack(0, "t2a", 2).ack(1, "t2b", 2).endTxn("T2", false, "")
	h.sendTxn(0, "t3a", "T3").sendTxn(1, "t3b", "T3").ack(0, "t3a", 4).ack(1, "t3b", 4).endTxn("T3", true, "REQUEST_TIMED_OUT")
	h.sendTxn(0, "t4a", "T4").ack(0, "t4a", 6).endTxn("T4", true, "COORDINATOR_NOT_AVAILABLE")
	h.send(0, "plain").ack(0, "plain", 8)
	// Offsets 1, 3, 5 and 7 are markers; 2 aborted; 6 is T4's, aborted
	// after all: a read_committed reader jumps over them.
	h.poll("assign-0", false, rec(0, 0, "t1a"), rec(0, 4, "t3a"), rec(0, 8, "plain"), rec(1, 0, "t1b"))
	h.poll("final", true, rec(0, 0, "t1a"), rec(0, 4, "t3a"), rec(0, 8, "plain"), rec(1, 0, "t1b"), rec(1, 4, "t3b"))
	return h
}

func TestCheckTransactionsClean(t *testing.T) {
	res := Check(transactional().events)
	if res.Failed() {
		t.Fatalf("anomalies in a clean history: %v", res.Anomalies)
	}
	want := []PartitionCounts{
		{Topic: "t", Partition: 0, Attempted: 5, Acked: 2, Read: 3, Unacked: 1, Committed: 1, Aborted: 1},
		{Topic: "t", Partition: 1, Attempted: 3, Acked: 1, Read: 2, Unacked: 1, Committed: 1, Aborted: 1},
	}
	if !reflect.DeepEqual(res.Partitions, want) {
		t.Fatalf("counts %+v, want %+v", res.Partitions, want)
	}
	if res.Count(UnacknowledgedRead) != 2 {
		t.Fatalf("anomalies %v, want T3's two values counted unacknowledged", res.Anomalies)
	}
}

// TestCheckTransactionAnomalies: each transactional anomaly, put into the
// clean transactional history, is found, and nothing else is.
func TestCheckTransactionAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(h *history)
		want Anomaly
	}{{
		name: "aborted read",
		edit: func(h *history) { h.poll("assign-1", false, rec(1, 2, "t2b")) },
		want: Anomaly{Kind: AbortedRead, Topic: "t", Partition: 1, Value: "t2b", Offsets: []int64{2}, Detail: "written in aborted transaction T2"},
	}, {
		name: "committed and lost",
		edit: func(h *history) {
			h.sendTxn(1, "t5", "T5").ack(1, "t5", 9).endTxn("T5", true, "")
		},
		want: Anomaly{Kind: Lost, Topic: "t", Partition: 1, Value: "t5", Offsets: []int64{9}, Detail: "committed in transaction T5, not in the read-back"},
	}, {
		name: "partial transaction",
		edit: func(h *history) {
			h.sendTxn(0, "t6a", "T6").sendTxn(1, "t6b", "T6").endTxn("T6", true, "NOT_COORDINATOR")
			h.poll("final", true, rec(1, 10, "t6b"))
		},
		want: Anomaly{Kind: PartialTransaction, Topic: "t", Partition: 0, Value: "t6a", Detail: "transaction T6 (commit: NOT_COORDINATOR): 1 of its 2 values read back"},
	}, {
		// T3's outcome is unknown, but the read-back holds it: it
		// committed, and a reader jumping over it skipped it.
		name: "skip over a committed value",
		edit: func(h *history) { h.poll("assign-2", false, rec(0, 0, "t1a"), rec(0, 8, "plain")) },
		want: Anomaly{Kind: SkippedPoll, Topic: "t", Partition: 0, Offsets: []int64{0, 8}, Process: "assign-2", Offset: 4, Values: []string{"t3a"},
			Detail: "jumped from offset 0 to 8 over offset 4"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := transactional()
			tc.edit(h)
			res := Check(h.events)
			var got []Anomaly
			for _, a := range res.Anomalies {
				if !a.Kind.Allowed() {
					got = append(got, a)
				}
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Fatalf("anomalies %v, want exactly %v", got, tc.want)
			}
		})
	}
}

// TestCheckCommitWithFailedProduce: a transaction whose record's produce
// failed, then "committed" (a client commits a transaction it never added
// a partition to as a no-op), does not make the record lost: its outcome
// is unknown.
func TestCheckCommitWithFailedProduce(t *testing.T) {
	h := transactional()
	h.sendTxn(1, "t7", "T7").fail(1, "t7").endTxn("T7", true, "")
	res := Check(h.events)
	if res.Failed() {
		t.Fatalf("anomalies: %v", res.Anomalies)
	}
	if pc := res.Partitions[1]; pc.Attempted != 4 || pc.Failed != 1 || pc.Committed != 1 {
		t.Fatalf("partition 1 counts %+v", pc)
	}
}
