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
	for _, e := range events {
		switch e.Kind {
		case Send:
			p := state(e.Topic, e.Partition)
			if !p.sent[e.Value] {
				p.sent[e.Value] = true
				p.counts.Attempted++
			}
		case Ack:
			p := state(e.Topic, e.Partition)
			if e.Err != "" {
				p.failed[e.Value] = true
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
	for _, p := range parts {
		p.known = slices.Sorted(maps.Keys(p.values))
	}
	for _, g := range gaps {
		// A gap is a skip only if an offset inside it holds a value: the
		// log may have gaps of its own (control batches, compaction).
		i, _ := slices.BinarySearch(g.p.known, g.prev+1)
		if i < len(g.p.known) && g.p.known[i] < g.offset {
			anomalies = append(anomalies, Anomaly{Kind: SkippedPoll, Topic: g.p.counts.Topic, Partition: g.p.counts.Partition,
				Offsets: []int64{g.prev, g.offset}, Process: g.process,
				Offset: g.p.known[i], Values: slices.Sorted(maps.Keys(g.p.values[g.p.known[i]])),
				Detail: fmt.Sprintf("jumped from offset %d to %d over offset %d", g.prev, g.offset, g.p.known[i])})
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

// judge returns the partition's anomalies of values and offsets and
// completes its counts.
func (p *partitionState) judge() []Anomaly {
	var out []Anomaly
	t, part := p.counts.Topic, p.counts.Partition
	for _, v := range slices.Sorted(maps.Keys(p.acked)) {
		if !p.final[v] {
			out = append(out, Anomaly{Kind: Lost, Topic: t, Partition: part, Value: v, Offsets: []int64{p.acked[v]},
				Detail: "acknowledged, not in the read-back"})
		}
	}
	for _, v := range slices.Sorted(maps.Keys(p.runRead)) {
		if _, ok := p.acked[v]; !ok && !p.final[v] {
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
