package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// AnomalyKind names an anomaly, as Jepsen's Kafka workload does.
type AnomalyKind string

const (
	// Lost is a value acknowledged, or read during the run, that the
	// read-back after healing does not hold.
	Lost AnomalyKind = "lost"
	// Duplicated is one sent value at two offsets.
	Duplicated AnomalyKind = "duplicated"
	// InconsistentOffset is two values at one offset (read, or read and
	// acknowledged).
	InconsistentOffset AnomalyKind = "inconsistent-offset"
	// NonMonotonicPoll is a consumer session receiving an offset at or
	// below one it already had from that partition.
	NonMonotonicPoll AnomalyKind = "nonmonotonic-poll"
	// SkippedPoll is a consumer session jumping over offsets that hold
	// values (another reader or an acknowledgement saw them).
	SkippedPoll AnomalyKind = "skipped-poll"
	// CommitBackwards is a group's accepted commit below an earlier one.
	CommitBackwards AnomalyKind = "commit-backwards"
	// Phantom is a value read that no producer sent.
	Phantom AnomalyKind = "phantom"
	// UnacknowledgedRead is a value read whose send was never acknowledged
	// (its ack timed out or failed): allowed, and counted.
	UnacknowledgedRead AnomalyKind = "unacknowledged-read"
	// Divergence is replicas holding different bytes below the high
	// watermark after healing.
	Divergence AnomalyKind = "replica-divergence"
	// AbortedRead is a value of an aborted transaction that a consumer
	// (every consumer reads read_committed) received: Jepsen's G1a.
	AbortedRead AnomalyKind = "aborted-read"
	// PartialTransaction is a transaction whose commit's outcome is unknown
	// with some but not all of its values in the read-back: a transaction
	// is all or nothing. (A committed one missing values has them Lost.)
	PartialTransaction AnomalyKind = "partial-transaction"
)

// Allowed reports whether the kind is counted but is no failure.
func (k AnomalyKind) Allowed() bool { return k == UnacknowledgedRead }

// Anomaly is one finding with the records involved.
type Anomaly struct {
	Kind      AnomalyKind `json:"kind"`
	Topic     string      `json:"topic"`
	Partition int32       `json:"partition"`
	// Value and Offsets: the value concerned and the offsets it is at (or
	// was acknowledged at).
	Value   string  `json:"value,omitempty"`
	Offsets []int64 `json:"offsets,omitempty"`
	// Offset and Values: the offset concerned and the values at it.
	Offset  int64    `json:"offset"`
	Values  []string `json:"values,omitempty"`
	Process string   `json:"process,omitempty"`
	Group   string   `json:"group,omitempty"`
	// Node is the replica a Divergence is about.
	Node   int    `json:"node,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (a Anomaly) String() string {
	s := fmt.Sprintf("%s %s/%d", a.Kind, a.Topic, a.Partition)
	if a.Value != "" {
		s += fmt.Sprintf(" value %q", a.Value)
	}
	if len(a.Offsets) > 0 {
		s += fmt.Sprintf(" at offsets %v", a.Offsets)
	}
	if len(a.Values) > 0 {
		s += fmt.Sprintf(" offset %d holds %q", a.Offset, a.Values)
	}
	if a.Process != "" {
		s += " in " + a.Process
	}
	if a.Group != "" {
		s += " group " + a.Group
	}
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	return s
}

// PartitionCounts is what one partition saw.
type PartitionCounts struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Attempted int    `json:"attempted"`    // values sent
	Acked     int    `json:"acknowledged"` // acknowledged with an offset
	Failed    int    `json:"failed"`       // answered with an error (outcome unknown)
	Read      int    `json:"read"`         // distinct values read back after healing
	Unacked   int    `json:"unacknowledged_read"`
	// Committed and Aborted count the values of transactions that
	// committed (counted acknowledged too) and aborted.
	Committed int `json:"committed,omitempty"`
	Aborted   int `json:"aborted,omitempty"`
}

// Result is the checker's verdict on a history.
type Result struct {
	Partitions []PartitionCounts `json:"partitions"`
	// Anomalies are sorted by kind, partition, offset and value; the
	// allowed kind (UnacknowledgedRead) is among them.
	Anomalies []Anomaly `json:"anomalies"`
}

// Failed reports whether any anomaly is not an allowed one.
func (r Result) Failed() bool {
	for _, a := range r.Anomalies {
		if !a.Kind.Allowed() {
			return true
		}
	}
	return false
}

// Count returns the anomalies of kind k.
func (r Result) Count(k AnomalyKind) int {
	n := 0
	for _, a := range r.Anomalies {
		if a.Kind == k {
			n++
		}
	}
	return n
}

type partitionKey struct {
	topic     string
	partition int32
}

func keyCompare(a, b partitionKey) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// partitionState is what the checker learns of one partition.
type partitionState struct {
	counts   PartitionCounts
	sent     map[string]bool             // value -> sent
	acked    map[string]int64            // value -> acknowledged offset
	failed   map[string]bool             // value -> answered with an error
	offsets  map[string]map[int64]bool   // value -> offsets read or acknowledged at
	values   map[int64]map[string]bool   // offset -> values read or acknowledged there
	final    map[string]bool             // values in the read-back
	runRead  map[string]bool             // values read during the run
	sessions map[string]*sessionPosition // consumer session -> last offset
	commits  map[string]int64            // group -> highest accepted commit
	known    []int64                     // sorted offsets holding a value, built after the walk
	txn      map[string]string           // value -> its transaction
	txnAcked map[string]int64            // transactional value -> offset its produce was answered with
	aborted  map[string]bool             // values of aborted transactions, after the walk
	visible  []int64                     // sorted offsets holding a value a reader must see, after the walk
}

// txnState is what the checker learns of one transaction.
type txnState struct {
	ended, commit bool
	err           string
	values        []txnValue
}

type txnValue struct {
	p     *partitionState
	value string
}

type sessionPosition struct{ last int64 }

func newPartitionState(k partitionKey) *partitionState {
	return &partitionState{
		counts:   PartitionCounts{Topic: k.topic, Partition: k.partition},
		sent:     map[string]bool{},
		acked:    map[string]int64{},
		failed:   map[string]bool{},
		offsets:  map[string]map[int64]bool{},
		values:   map[int64]map[string]bool{},
		final:    map[string]bool{},
		runRead:  map[string]bool{},
		sessions: map[string]*sessionPosition{},
		commits:  map[string]int64{},
		txn:      map[string]string{},
		txnAcked: map[string]int64{},
		aborted:  map[string]bool{},
	}
}

func (p *partitionState) at(value string, offset int64) {
	if p.offsets[value] == nil {
		p.offsets[value] = map[int64]bool{}
	}
	p.offsets[value][offset] = true
	if p.values[offset] == nil {
		p.values[offset] = map[string]bool{}
	}
	p.values[offset][value] = true
}

// Check reads a whole history, in its order, and returns every anomaly of
// the list except Divergence (CompareReplicas). A poll's session
// checks (NonMonotonicPoll, SkippedPoll) follow each Process per partition;
// a consumer that restarts from a committed offset must start a new
// Process name.
//
// Values sent in a transaction are acknowledged by its commit, not by
// their produce's answer: a committed transaction's values must all be in
// the read-back (else Lost), an aborted one's never read (AbortedRead:
// consumers read read_committed), and one whose commit's outcome is
// unknown must be in the read-back whole or not at all
// (PartialTransaction). A poll that jumps over the offsets of values no
// reader may see (aborted ones, and those of unknown transactions not in
// the read-back) skips nothing.
func Check(events []Event) Result {
	parts := map[partitionKey]*partitionState{}
	state := func(topic string, partition int32) *partitionState {
		k := partitionKey{topic, partition}
		p := parts[k]
		if p == nil {
			p = newPartitionState(k)
			parts[k] = p
		}
		return p
	}
	var anomalies []Anomaly
	type sessionRead struct {
		p       *partitionState
		process string
		prev    int64
		offset  int64
	}
	var gaps []sessionRead // skips to judge once every offset is known
	txns := map[string]*txnState{}
	txnOf := func(id string) *txnState {
		t := txns[id]
		if t == nil {
			t = &txnState{}
			txns[id] = t
		}
		return t
	}
	for _, e := range events {
		switch e.Kind {
		case Send:
			p := state(e.Topic, e.Partition)
			if !p.sent[e.Value] {
				p.sent[e.Value] = true
				p.counts.Attempted++
				if e.Txn != "" {
					p.txn[e.Value] = e.Txn
					t := txnOf(e.Txn)
					t.values = append(t.values, txnValue{p, e.Value})
				}
			}
		case TxnEnd:
			t := txnOf(e.Txn)
			t.ended, t.commit, t.err = true, e.Commit, e.Err
		case Ack:
			p := state(e.Topic, e.Partition)
			if e.Err != "" {
				p.failed[e.Value] = true
				continue
			}
			if p.txn[e.Value] != "" {
				// Written, not acknowledged: its transaction decides.
				p.txnAcked[e.Value] = e.Offset
				p.at(e.Value, e.Offset)
				continue
			}
			if _, ok := p.acked[e.Value]; !ok {
				p.counts.Acked++
			}
			p.acked[e.Value] = e.Offset
			p.at(e.Value, e.Offset)
		case Poll:
			for _, r := range e.Records {
				p := state(e.Topic, r.Partition)
				p.at(r.Value, r.Offset)
				if e.Final {
					p.final[r.Value] = true
				} else {
					p.runRead[r.Value] = true
				}
				s := p.sessions[e.Process]
				if s == nil {
					p.sessions[e.Process] = &sessionPosition{last: r.Offset}
					continue
				}
				switch {
				case r.Offset <= s.last:
					anomalies = append(anomalies, Anomaly{Kind: NonMonotonicPoll, Topic: e.Topic, Partition: r.Partition,
						Value: r.Value, Offsets: []int64{s.last, r.Offset}, Process: e.Process,
						Detail: fmt.Sprintf("offset %d after %d", r.Offset, s.last)})
				case r.Offset > s.last+1:
					gaps = append(gaps, sessionRead{p: p, process: e.Process, prev: s.last, offset: r.Offset})
				}
				s.last = max(s.last, r.Offset)
			}
		case Commit:
			if e.Err != "" {
				continue
			}
			p := state(e.Topic, e.Partition)
			if prev, ok := p.commits[e.Group]; ok && e.Offset < prev {
				anomalies = append(anomalies, Anomaly{Kind: CommitBackwards, Topic: e.Topic, Partition: e.Partition,
					Offsets: []int64{prev, e.Offset}, Group: e.Group, Process: e.Process,
					Detail: fmt.Sprintf("committed %d after %d", e.Offset, prev)})
				continue
			}
			p.commits[e.Group] = e.Offset
		}
	}
	for _, id := range slices.Sorted(maps.Keys(txns)) {
		anomalies = append(anomalies, txns[id].resolve(id)...)
	}
	for _, p := range parts {
		p.known = slices.Sorted(maps.Keys(p.values))
		for _, o := range p.known {
			for v := range p.values[o] {
				if p.mustSee(v) {
					p.visible = append(p.visible, o)
					break
				}
			}
		}
	}
	for _, g := range gaps {
		// A gap is a skip only if an offset inside it holds a value a
		// reader must see: the log has gaps of its own (control batches,
		// aborted transactions, compaction).
		i, _ := slices.BinarySearch(g.p.visible, g.prev+1)
		if i < len(g.p.visible) && g.p.visible[i] < g.offset {
			o := g.p.visible[i]
			anomalies = append(anomalies, Anomaly{Kind: SkippedPoll, Topic: g.p.counts.Topic, Partition: g.p.counts.Partition,
				Offsets: []int64{g.prev, g.offset}, Process: g.process,
				Offset: o, Values: slices.Sorted(maps.Keys(g.p.values[o])),
				Detail: fmt.Sprintf("jumped from offset %d to %d over offset %d", g.prev, g.offset, o)})
		}
	}
	keys := slices.SortedFunc(maps.Keys(parts), keyCompare)
	var res Result
	for _, k := range keys {
		p := parts[k]
		anomalies = append(anomalies, p.judge()...)
		res.Partitions = append(res.Partitions, p.counts)
	}
	slices.SortStableFunc(anomalies, func(a, b Anomaly) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Value, b.Value))
	})
	res.Anomalies = anomalies
	return res
}

// resolve applies transaction id's outcome to its values: a commit that
// took effect acknowledges those whose produce was answered with an offset
// (at that offset; one whose produce failed stays of unknown outcome), an
// abort marks them aborted; a commit of unknown outcome leaves
// them unacknowledged, and is a PartialTransaction if the read-back holds
// some of them but not all. A transaction never ended is of unknown
// outcome too.
func (t *txnState) resolve(id string) []Anomaly {
	switch {
	case t.ended && t.commit && t.err == "":
		for _, tv := range t.values {
			p := tv.p
			off, ok := p.txnAcked[tv.value]
			if !ok {
				// Its produce failed (or never answered): the commit
				// says nothing of it (a client commits a transaction
				// whose partitions were never added as a no-op).
				continue
			}
			p.acked[tv.value] = off
			p.counts.Acked++
			p.counts.Committed++
		}
	case t.ended && !t.commit:
		for _, tv := range t.values {
			tv.p.aborted[tv.value] = true
			tv.p.counts.Aborted++
		}
	default:
		var missing []txnValue
		for _, tv := range t.values {
			if !tv.p.final[tv.value] {
				missing = append(missing, tv)
			}
		}
		if len(missing) > 0 && len(missing) < len(t.values) {
			m := missing[0]
			return []Anomaly{{Kind: PartialTransaction, Topic: m.p.counts.Topic, Partition: m.p.counts.Partition, Value: m.value,
				Detail: fmt.Sprintf("transaction %s (commit: %s): %d of its %d values read back", id, cmp.Or(t.err, "never ended"),
					len(t.values)-len(missing), len(t.values))}}
		}
	}
	return nil
}

// mustSee reports whether a reader must see value v where it is: not an
// aborted transaction's, and, if a transaction's, not one of unknown
// outcome missing from the read-back.
func (p *partitionState) mustSee(v string) bool {
	if p.aborted[v] {
		return false
	}
	if p.txn[v] == "" || p.final[v] {
		return true
	}
	_, committed := p.acked[v]
	return committed
}

// judge returns the partition's anomalies of values and offsets and
// completes its counts.
func (p *partitionState) judge() []Anomaly {
	var out []Anomaly
	t, part := p.counts.Topic, p.counts.Partition
	for _, v := range slices.Sorted(maps.Keys(p.acked)) {
		if !p.final[v] {
			detail := "acknowledged, not in the read-back"
			if tx := p.txn[v]; tx != "" {
				detail = "committed in transaction " + tx + ", not in the read-back"
			}
			out = append(out, Anomaly{Kind: Lost, Topic: t, Partition: part, Value: v, Offsets: []int64{p.acked[v]}, Detail: detail})
		}
	}
	for _, v := range slices.Sorted(maps.Keys(p.aborted)) {
		if p.final[v] || p.runRead[v] {
			out = append(out, Anomaly{Kind: AbortedRead, Topic: t, Partition: part, Value: v, Offsets: slices.Sorted(maps.Keys(p.offsets[v])),
				Detail: "written in aborted transaction " + p.txn[v]})
		}
	}
	for _, v := range slices.Sorted(maps.Keys(p.runRead)) {
		if _, ok := p.acked[v]; !ok && !p.final[v] && !p.aborted[v] {
			out = append(out, Anomaly{Kind: Lost, Topic: t, Partition: part, Value: v, Offsets: slices.Sorted(maps.Keys(p.offsets[v])),
				Detail: "read during the run, not in the read-back"})
		}
	}
	for _, v := range slices.Sorted(maps.Keys(p.offsets)) {
		offs := slices.Sorted(maps.Keys(p.offsets[v]))
		if len(offs) > 1 {
			out = append(out, Anomaly{Kind: Duplicated, Topic: t, Partition: part, Value: v, Offsets: offs, Offset: offs[0]})
		}
		read := p.final[v] || p.runRead[v]
		switch {
		case !read:
		case !p.sent[v]:
			out = append(out, Anomaly{Kind: Phantom, Topic: t, Partition: part, Value: v, Offsets: offs, Offset: offs[0]})
		case p.aborted[v]: // AbortedRead
		default:
			if _, ok := p.acked[v]; !ok {
				p.counts.Unacked++
				out = append(out, Anomaly{Kind: UnacknowledgedRead, Topic: t, Partition: part, Value: v, Offsets: offs, Offset: offs[0]})
			}
		}
	}
	for _, o := range p.known {
		if vs := p.values[o]; len(vs) > 1 {
			out = append(out, Anomaly{Kind: InconsistentOffset, Topic: t, Partition: part, Offset: o, Values: slices.Sorted(maps.Keys(vs))})
		}
	}
	for v := range p.failed {
		if _, ok := p.acked[v]; !ok {
			p.counts.Failed++
		}
	}
	p.counts.Read = len(p.final)
	return out
}
