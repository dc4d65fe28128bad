package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func TestTxnIndexRoundTrip(t *testing.T) {
	want := []AbortedTxn{{1, 0, 5, 0}, {2, 3, 9, 6}, {1, 10, 12, 13}}
	var b []byte
	for _, a := range want {
		b = appendAbortedTxn(b, a)
	}
	if len(b) != 3*34 {
		t.Fatalf("%d bytes, want 102", len(b))
	}
	// A torn last entry is left off.
	got, valid, err := decodeTxnIndex(append(b, 0, 0, 0, 0, 1))
	if err != nil || valid != len(b) || !slices.Equal(got, want) {
		t.Fatalf("decode = %v, %d, %v", got, valid, err)
	}
	bad := slices.Clone(b)
	bad[34+1] = 1 // version 1
	if _, _, err := decodeTxnIndex(bad); err == nil {
		t.Error("version 1 accepted")
	}
	if _, _, err := decodeTxnIndex(appendAbortedTxn(nil, AbortedTxn{1, 9, 3, 0})); err == nil {
		t.Error("first offset past last accepted")
	}
}

func TestCollectAbortedTxns(t *testing.T) {
	txns := []AbortedTxn{{1, 0, 5, 0}, {2, 3, 9, 6}, {3, 10, 12, 13}}
	for _, tc := range []struct {
		from, upTo   int64
		want         []int64 // producer IDs
		wantComplete bool
	}{
		{0, 3, []int64{1}, true}, // 2 begins at 3: outside; its LSO 6 ends the search
		{0, 4, []int64{1, 2}, true},
		{6, 10, []int64{2}, true}, // 1 ended at 5; 3 begins at 10
		{6, 11, []int64{2, 3}, true},
		{4, 20, []int64{1, 2, 3}, false}, // later segments may hold more
		{13, 14, nil, false},
		{10, 13, []int64{3}, true},
	} {
		got, complete := collectAbortedTxns(nil, txns, tc.from, tc.upTo)
		var ids []int64
		for _, a := range got {
			ids = append(ids, a.ProducerID)
		}
		if !slices.Equal(ids, tc.want) || complete != tc.wantComplete {
			t.Errorf("[%d, %d): %v complete=%t, want %v %t", tc.from, tc.upTo, ids, complete, tc.want, tc.wantComplete)
		}
	}
}

// FuzzTxnIndex: any .txnindex bytes decode or fail without panicking, and
// what decodes re-encodes to the valid prefix.
func FuzzTxnIndex(f *testing.F) {
	f.Add(appendAbortedTxn(appendAbortedTxn(nil, AbortedTxn{1, 0, 5, 0}), AbortedTxn{2, 3, 9, 6}))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		txns, valid, err := decodeTxnIndex(b)
		if err != nil {
			return
		}
		var again []byte
		for _, a := range txns {
			again = appendAbortedTxn(again, a)
		}
		if string(again) != string(b[:valid]) || len(b)-valid >= abortedTxnSize {
			t.Fatalf("re-encoded %x, valid prefix %x of %d bytes", again, b[:valid], len(b))
		}
	})
}

func txnIndexBytes(t *testing.T, e *env, l *Log, base int64) []byte {
	t.Helper()
	b, err := vfs.ReadFile(e.fs, filepath.Join(l.Dir(), segmentName(base)+txnIndexSuffix))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encodeTxns(txns ...AbortedTxn) []byte {
	var b []byte
	for _, t := range txns {
		b = appendAbortedTxn(b, t)
	}
	return b
}

func mustAbortedTxns(t *testing.T, l *Log, from, upTo int64) []AbortedTxn {
	t.Helper()
	got, err := l.AbortedTxns(from, upTo)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// fillSegments appends n one-record batches (offsets 0..n-1) to a log of
// 1 KiB segments.
func fillSegments(t *testing.T, e *env, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		mustAppend(t, l, makeBatch(1, e.clock.Ms()+int64(i), fmt.Sprint("t", i)))
	}
}

// TestTxnIndexSegments: entries go to the .txnindex of the segment holding
// their marker, byte for byte Kafka's entries; a read collects them across
// segments; they survive a clean reopen, go with a truncation and with the
// segments retention deletes.
func TestTxnIndexSegments(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	l := e.open(cfg)
	fillSegments(t, e, l, 40)
	bases := segmentBases(l)
	if len(bases) < 3 {
		t.Fatalf("segments %v", bases)
	}
	s1 := bases[1]
	a := AbortedTxn{ProducerID: 7, FirstOffset: 1, LastOffset: 3, LastStableOffset: 4}
	b := AbortedTxn{ProducerID: 8, FirstOffset: 2, LastOffset: s1 + 1, LastStableOffset: s1 + 2}
	c := AbortedTxn{ProducerID: 9, FirstOffset: s1 + 3, LastOffset: 38, LastStableOffset: 39}
	for _, x := range []AbortedTxn{a, b, c, b} { // b again: already there
		if err := l.AddAbortedTxn(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.AddAbortedTxn(AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 40}); err == nil {
		t.Fatal("an entry past the log end was accepted")
	}
	last := bases[len(bases)-1]
	if got := txnIndexBytes(t, e, l, 0); string(got) != string(encodeTxns(a)) {
		t.Fatalf("segment 0 index %x", got)
	}
	if got := txnIndexBytes(t, e, l, s1); string(got) != string(encodeTxns(b)) {
		t.Fatalf("segment %d index %x", s1, got)
	}
	if got := txnIndexBytes(t, e, l, last); string(got) != string(encodeTxns(c)) || len(got) != 34 {
		t.Fatalf("active segment %d index %x", last, got)
	}
	check := func(from, upTo int64, want ...AbortedTxn) {
		t.Helper()
		if got := mustAbortedTxns(t, l, from, upTo); !slices.Equal(got, want) {
			t.Fatalf("aborted in [%d, %d): %v, want %v", from, upTo, got, want)
		}
	}
	check(0, 40, a, b, c)
	check(0, 2, a)     // b begins at 2; a's LSO 4 ends the search
	check(4, s1+1, b)  // a ended at 3
	check(s1+2, s1+3)  // b ended at s1+1, c begins at s1+3: none, found in c's segment
	check(s1+2, 39, c) // from the later segment on
	check(39, 40)      // none

	e.reopenManager()
	l = e.open(cfg)
	if v := l.TxnIndexValidFrom(); v != 40 {
		t.Fatalf("valid from %d after a clean close, want the log end 40", v)
	}
	check(0, 40, a, b, c)

	// A truncation inside b's segment, past b's marker, keeps b; at its
	// marker it drops it (and c's segment goes).
	if err := l.TruncateTo(s1 + 2); err != nil {
		t.Fatal(err)
	}
	check(0, s1+2, a, b)
	if err := l.TruncateTo(s1 + 1); err != nil {
		t.Fatal(err)
	}
	check(0, s1+1, a)
	if got := txnIndexBytes(t, e, l, s1); got != nil {
		t.Fatalf("segment %d index after the truncation: %x", s1, got)
	}
	if got := txnIndexBytes(t, e, l, last); got != nil {
		t.Fatalf("removed segment's index left: %x", got)
	}
	e.reopenManager()
	l = e.open(cfg)
	check(0, s1+1, a)

	// Retention stops at its limit, then deletes segment 0 with its index.
	fillSegments(t, e, l, 20)
	cfg.RetentionBytes = 1
	l.SetConfig(cfg)
	l.SetRetentionLimit(func() int64 { return s1 - 1 })
	if n, err := l.EnforceRetention(e.clock.Now()); err != nil || n != 0 {
		t.Fatalf("retention below the limit deleted %d: %v", n, err)
	}
	l.SetRetentionLimit(func() int64 { return s1 })
	if n, err := l.EnforceRetention(e.clock.Now()); err != nil || n != 1 {
		t.Fatalf("retention deleted %d: %v", n, err)
	}
	if got := txnIndexBytes(t, e, l, 0); got != nil {
		t.Fatalf("deleted segment's index left: %x", got)
	}
	check(0, l.LogEndOffset())
}

// TestTxnIndexCrash: an entry synced by a flush survives a crash; one not
// synced may go, and the log says from where its owner must add the
// entries again (TxnIndexValidFrom: the recovery point).
func TestTxnIndexCrash(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	cfg.SegmentBytes = 1 << 20
	l := e.open(cfg)
	fillSegments(t, e, l, 10)
	a := AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 4, LastStableOffset: 5}
	if err := l.AddAbortedTxn(a); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := l.checkpoint(); err != nil {
		t.Fatal(err)
	}
	fillSegments(t, e, l, 5)
	b := AbortedTxn{ProducerID: 2, FirstOffset: 11, LastOffset: 13, LastStableOffset: 14}
	if err := l.AddAbortedTxn(b); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil { // the records and b are synced, the recovery point is not
		t.Fatal(err)
	}
	e.mem.Crash()
	e.abandonManager()
	l = e.open(cfg)
	if l.LogEndOffset() != 15 {
		t.Fatalf("log end %d", l.LogEndOffset())
	}
	if v := l.TxnIndexValidFrom(); v != 10 {
		t.Fatalf("valid from %d, want the recovery point 10", v)
	}
	// b's marker is above the recovery point: dropped, to be added again.
	if got := mustAbortedTxns(t, l, 0, 15); !slices.Equal(got, []AbortedTxn{a}) {
		t.Fatalf("after recovery %v", got)
	}
	if got := txnIndexBytes(t, e, l, 0); string(got) != string(encodeTxns(a)) {
		t.Fatalf("index file %x", got)
	}
	if err := l.AddAbortedTxn(b); err != nil {
		t.Fatal(err)
	}
	// Unsynced entries of a crash are lost whole or torn: a torn one is cut.
	e.mem.Crash()
	e.abandonManager()
	idx := filepath.Join(l.Dir(), segmentName(0)+txnIndexSuffix)
	writeWhole(e.fs, idx, append(encodeTxns(a, b), 0, 0, 1), true)
	l = e.open(cfg)
	if got := mustAbortedTxns(t, l, 0, 15); !slices.Equal(got, []AbortedTxn{a}) {
		t.Fatalf("after a torn entry %v", got)
	}
	// A corrupt file is dropped and the whole segment's entries are to be
	// added again.
	e.abandonManager()
	bad := encodeTxns(a)
	bad[1] = 9
	writeWhole(e.fs, idx, bad, true)
	l = e.open(cfg)
	if v := l.TxnIndexValidFrom(); v != 0 {
		t.Fatalf("valid from %d after a corrupt index, want 0", v)
	}
	if got := mustAbortedTxns(t, l, 0, 15); len(got) != 0 {
		t.Fatalf("corrupt index served %v", got)
	}
}

// dumpTxnLog lists the log's batches: data records as offset:key=value,
// markers as offset:ABORT/COMMIT (with "+h" once given a delete horizon),
// emptied batches as first-last:empty.
func dumpTxnLog(t *testing.T, l *Log) string {
	t.Helper()
	var out []string
	for _, b := range readAll(t, l) {
		h, _ := batch.ParseHeader(b)
		recs, err := batch.Records(b)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(recs) == 0:
			out = append(out, fmt.Sprintf("%d-%d:empty", h.BaseOffset, h.LastOffset()))
		case h.Control():
			commit, _ := markerType(b)
			m := map[bool]string{false: "ABORT", true: "COMMIT"}[commit]
			if h.Attributes&batch.AttrDeleteHorizon != 0 {
				m += "+h"
			}
			out = append(out, fmt.Sprintf("%d:%s", h.BaseOffset, m))
		default:
			for _, r := range recs {
				out = append(out, fmt.Sprintf("%d:%s=%s", r.Offset, r.Key, r.Value))
			}
		}
	}
	return fmt.Sprint(out)
}

// TestCompactTransactions: Kafka's cleaner rules for transactions. An
// aborted transaction's records go and map no key (k1 keeps its committed
// value); its ABORT marker stays, with its index entry, while the pass saw
// its batches, then gets a delete horizon and goes after
// delete.retention.ms; a COMMIT marker stays while its transaction's
// batches do.
func TestCompactTransactions(t *testing.T) {
	e := newEnv(t)
	l := e.open(compactConfig())
	l.SetActiveProducers(func() map[int64]int64 { return map[int64]int64{} })
	ts := e.clock.Ms()
	txnData := func(pid int64, pairs ...string) []byte {
		var recs []batch.Record
		for i := 0; i+1 < len(pairs); i += 2 {
			recs = append(recs, batch.Record{Key: []byte(pairs[i]), Value: []byte(pairs[i+1]), Timestamp: ts})
		}
		return batch.Build(batch.BuildOptions{ProducerID: pid, BaseSequence: 0, Transactional: true}, recs)
	}
	marker := func(pid int64, commit bool) []byte {
		r := txn.MarkerRecord(txn.Marker{Commit: commit})
		r.Timestamp = ts
		return batch.Build(batch.BuildOptions{ProducerID: pid, BaseSequence: -1, Transactional: true, Control: true}, []batch.Record{r})
	}
	mustAppend(t, l, keyedBatch(batch.None, ts, "k1", "v1")) // 0
	mustAppend(t, l, txnData(1, "k1", "bad", "k2", "bad"))   // 1-2, aborted
	mustAppend(t, l, keyedBatch(batch.None, ts, "k3", "v3")) // 3
	mustAppend(t, l, marker(1, false))                       // 4
	mustAppend(t, l, txnData(2, "k2", "good"))               // 5, committed
	mustAppend(t, l, marker(2, true))                        // 6
	abort := AbortedTxn{ProducerID: 1, FirstOffset: 1, LastOffset: 4, LastStableOffset: 5}
	if err := l.AddAbortedTxn(abort); err != nil {
		t.Fatal(err)
	}
	pad := func(n int) {
		for i := 0; i < n; i++ {
			mustAppend(t, l, keyedBatch(batch.None, ts, fmt.Sprint("pad", i%3), strings.Repeat("x", 100)))
		}
	}
	pad(12) // rolls: the transactions' segment is cleanable
	pass := func() string {
		t.Helper()
		p, _, err := l.planClean(e.clock.Ms())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.cleanLog(l, e.clock.Now(), p); err != nil {
			t.Fatal(err)
		}
		s := dumpTxnLog(t, l) // the padding cut off
		if i := strings.Index(s, ":pad"); i >= 0 {
			s = s[:strings.LastIndex(s[:i], " ")] + "]"
		}
		return s
	}
	if got := pass(); got != "[0:k1=v1 3:k3=v3 4:ABORT 5:k2=good 6:COMMIT]" {
		t.Fatalf("first pass: %s", got)
	}
	if got := mustAbortedTxns(t, l, 0, l.LogEndOffset()); !slices.Equal(got, []AbortedTxn{abort}) {
		t.Fatalf("first pass kept %v", got)
	}
	// No batch of the aborted transaction is left: its marker may go,
	// after delete.retention.ms, and its entry goes at once.
	if got := pass(); got != "[0:k1=v1 3:k3=v3 4:ABORT+h 5:k2=good 6:COMMIT]" {
		t.Fatalf("second pass: %s", got)
	}
	if got := mustAbortedTxns(t, l, 0, l.LogEndOffset()); len(got) != 0 {
		t.Fatalf("second pass kept %v", got)
	}
	if got := pass(); got != "[0:k1=v1 3:k3=v3 4:ABORT+h 5:k2=good 6:COMMIT]" {
		t.Fatalf("a pass before the horizon: %s", got)
	}
	e.clock.Add(2 * time.Hour)
	if got := pass(); got != "[0:k1=v1 3:k3=v3 5:k2=good 6:COMMIT]" {
		t.Fatalf("a pass after the horizon: %s", got)
	}
	e.reopenManager()
	l = e.open(compactConfig())
	if got := dumpTxnLog(t, l); !strings.HasPrefix(got, "[0:k1=v1 3:k3=v3 5:k2=good 6:COMMIT") {
		t.Fatalf("after a reopen: %s", got)
	}
}

// FuzzRecoverTxnIndex opens a log whose segment has arbitrary .txnindex
// bytes, after a clean or an unclean shutdown: no panic; what it serves is
// a prefix of the file's valid entries whose markers are in the log, and
// TxnIndexValidFrom is at most the log end.
func FuzzRecoverTxnIndex(f *testing.F) {
	f.Add(encodeTxns(AbortedTxn{1, 0, 1, 2}, AbortedTxn{2, 1, 3, 4}), false)
	f.Add(encodeTxns(AbortedTxn{1, 0, 1, 2}, AbortedTxn{2, 1, 3, 4}), true)
	f.Add(encodeTxns(AbortedTxn{1, 0, 9, 2}), true)
	f.Add([]byte{0, 0, 1}, true)
	f.Fuzz(func(t *testing.T, data []byte, clean bool) {
		l := openCrafted(t, map[string][]byte{
			segmentName(0) + logSuffix:      validSegmentBytes(),
			segmentName(0) + txnIndexSuffix: data,
		}, clean, 10)
		got, err := l.AbortedTxns(0, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		valid, _, _ := decodeTxnIndex(data)
		if len(got) > len(valid) || !slices.Equal(got, valid[:len(got)]) {
			t.Fatalf("served %v, file's valid entries %v", got, valid)
		}
		for _, a := range got {
			if a.LastOffset >= l.LogEndOffset() {
				t.Fatalf("served %v past the log end %d", a, l.LogEndOffset())
			}
		}
		if v := l.TxnIndexValidFrom(); v > l.LogEndOffset() || v < 0 {
			t.Fatalf("valid from %d, log end %d", v, l.LogEndOffset())
		}
		if err := l.AddAbortedTxn(AbortedTxn{5, 0, l.LogEndOffset() - 1, l.LogEndOffset()}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTxnIndexCrashKeepsRolled: after a power loss with the recovery point
// at 0, a rolled segment's entries survive (synced at the roll) and, with
// no .txnindex in the last segment, nothing is missing: TxnIndexValidFrom
// is the log end, so the owner replays nothing for the index; an entry in
// the last segment makes the index valid only below that segment.
func TestTxnIndexCrashKeepsRolled(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	l := e.open(cfg)
	fillSegments(t, e, l, 10)
	a := AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 4, LastStableOffset: 5}
	if err := l.AddAbortedTxn(a); err != nil {
		t.Fatal(err)
	}
	fillSegments(t, e, l, 30) // rolls past segment 0
	bases := segmentBases(l)
	if len(bases) < 3 || bases[1] <= 4 {
		t.Fatalf("segments %v", bases)
	}
	e.mem.Crash()
	e.abandonManager()
	l = e.open(cfg)
	end := l.LogEndOffset()
	if v := l.TxnIndexValidFrom(); v != end {
		t.Fatalf("valid from %d, want the log end %d", v, end)
	}
	if got := mustAbortedTxns(t, l, 0, end); !slices.Equal(got, []AbortedTxn{a}) {
		t.Fatalf("after the crash %v", got)
	}
	last := segmentBases(l)[len(segmentBases(l))-1]
	fillSegments(t, e, l, 3)
	if err := l.Flush(); err != nil { // the records survive, the entry below does not
		t.Fatal(err)
	}
	end = l.LogEndOffset()
	b := AbortedTxn{ProducerID: 2, FirstOffset: last, LastOffset: end - 1, LastStableOffset: end}
	if err := l.AddAbortedTxn(b); err != nil {
		t.Fatal(err)
	}
	e.mem.Crash()
	e.abandonManager()
	l = e.open(cfg)
	if v := l.TxnIndexValidFrom(); v != last {
		t.Fatalf("valid from %d, want the last segment's base %d", v, last)
	}
	if got := mustAbortedTxns(t, l, 0, l.LogEndOffset()); !slices.Equal(got, []AbortedTxn{a}) {
		t.Fatalf("after the second crash %v", got)
	}
}
