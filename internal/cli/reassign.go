package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// move is one partition's reassignment: its replicas now and the ones it
// should have (the first is the preferred leader); nil Replicas cancels
// the reassignment in progress.
type move struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	From      []int32 `json:"from,omitempty"`
	Replicas  []int32 `json:"replicas"`
}

// placement is the replicas of every partition of the cluster, by topic
// and partition, and the brokers Metadata lists (the unfenced ones, in a
// Samsa cluster) with their racks (broker.rack; absent when unset).
type placement struct {
	parts   []move // From is the current replicas; Replicas unused
	brokers []int32
	racks   map[int32]string
}

// rackSpread is how many racks replicas rs are on, a broker without a
// rack counting as a rack of its own: the plans never lower it for a
// partition, so a rebalance keeps the spread over racks that rack-aware
// placement (CreateTopics) gave it, as Kafka's reassignment tools do.
func (pl placement) rackSpread(rs []int32) int {
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		rack, ok := pl.racks[r]
		if !ok {
			rack = fmt.Sprintf("\x00%d", r)
		}
		seen[rack] = true
	}
	return len(seen)
}

// keepsSpread reports whether replicas rs with its replica at i replaced
// by b are on at least as many racks as before.
func (pl placement) keepsSpread(rs []int32, i int, b int32) bool {
	after := slices.Clone(rs)
	after[i] = b
	return pl.rackSpread(after) >= pl.rackSpread(rs)
}

// currentPlacement reads the placement from Metadata.
func currentPlacement(ctx context.Context, adm *kadm.Client) (placement, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return placement{}, err
	}
	var pl placement
	pl.racks = make(map[int32]string)
	for _, b := range md.Brokers {
		pl.brokers = append(pl.brokers, b.NodeID)
		if b.Rack != nil && *b.Rack != "" {
			pl.racks[b.NodeID] = *b.Rack
		}
	}
	slices.Sort(pl.brokers)
	for _, name := range md.Topics.Names() {
		t := md.Topics[name]
		if t.Err != nil {
			return placement{}, fmt.Errorf("topic %s: %w", name, t.Err)
		}
		for _, p := range t.Partitions.Sorted() {
			pl.parts = append(pl.parts, move{Topic: name, Partition: p.Partition, From: slices.Clone(p.Replicas)})
		}
	}
	slices.SortFunc(pl.parts, func(a, b move) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return pl, nil
}

// planAway replaces every replica that is not on one of brokers with the
// broker among them that the partition does not have, preferring one on a
// rack none of its other replicas is on, then the one holding the fewest
// replicas so far (ties to the lowest ID), keeping its position in the
// list, so a moved preferred leader is replaced as preferred leader. It
// returns the partitions that change, and an error naming a partition
// that cannot keep its replication factor on brokers.
func planAway(pl placement, brokers []int32) ([]move, error) {
	load := replicaLoad(pl, brokers)
	var moves []move
	for _, p := range pl.parts {
		to := slices.Clone(p.From)
		changed := false
		for i, r := range to {
			if slices.Contains(brokers, r) {
				continue
			}
			best, bestSpread := int32(-1), 0
			for _, b := range brokers {
				if slices.Contains(to, b) {
					continue
				}
				after := slices.Clone(to)
				after[i] = b
				spread := pl.rackSpread(after)
				if best < 0 || spread > bestSpread || spread == bestSpread && load[b] < load[best] {
					best, bestSpread = b, spread
				}
			}
			if best < 0 {
				return nil, fmt.Errorf("%s-%d has %d replicas: there are not enough other brokers (%v) to move it to", p.Topic, p.Partition, len(p.From), brokers)
			}
			to[i] = best
			load[best]++
			changed = true
		}
		if changed {
			moves = append(moves, move{Topic: p.Topic, Partition: p.Partition, From: p.From, Replicas: to})
		}
	}
	return moves, nil
}

// planBalance is planAway onto brokers, then moves replicas from the
// broker holding the most to the one holding the fewest until no two
// differ by more than one (followers before preferred leaders), then
// swaps replicas within partitions (or exchanges a preferred leader and a
// follower between two partitions) until the preferred leaders (first
// replicas) are spread the same way. No step puts a partition on fewer
// racks than it was on (rackSpread), so with racks the counts may stay
// further apart than one where evening them would need that. Every
// step takes the first partition (by topic, then partition) that allows
// it, so the plan is the same for the same cluster.
func planBalance(pl placement, brokers []int32) ([]move, error) {
	away, err := planAway(pl, brokers)
	if err != nil {
		return nil, err
	}
	target := make([][]int32, len(pl.parts))
	for i, p := range pl.parts {
		target[i] = p.From
		for _, m := range away {
			if m.Topic == p.Topic && m.Partition == p.Partition {
				target[i] = m.Replicas
			}
		}
		target[i] = slices.Clone(target[i])
	}
	count := func(first bool) map[int32]int {
		c := make(map[int32]int, len(brokers))
		for _, b := range brokers {
			c[b] = 0
		}
		for _, rs := range target {
			for i, r := range rs {
				if !first || i == 0 {
					c[r]++
				}
			}
		}
		return c
	}
	// step tries pairs (hi, lo) that differ by more than one, the most
	// apart first, until do makes a change for one; it reports whether
	// one did. The most apart pair may have nothing to exchange that
	// keeps the racks' spread while another has.
	step := func(c map[int32]int, do func(hi, lo int32) bool) bool {
		byCount := slices.Clone(brokers)
		slices.SortStableFunc(byCount, func(a, b int32) int { return cmp.Compare(c[b], c[a]) })
		type pair struct{ hi, lo int32 }
		var pairs []pair
		for _, hi := range byCount {
			for _, lo := range slices.Backward(byCount) {
				if c[hi]-c[lo] > 1 {
					pairs = append(pairs, pair{hi, lo})
				}
			}
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(c[b.hi]-c[b.lo], c[a.hi]-c[a.lo]) })
		for _, p := range pairs {
			if do(p.hi, p.lo) {
				return true
			}
		}
		return false
	}
	// Replicas: each step moves one from hi to lo.
	for range len(pl.parts) * 4 {
		moved := step(count(false), func(hi, lo int32) bool {
			movable := func(rs []int32) bool {
				j := slices.Index(rs, hi)
				return j >= 0 && !slices.Contains(rs, lo) && pl.keepsSpread(rs, j, lo)
			}
			// A follower first: moving one leaves the preferred
			// leaders as they are.
			i := slices.IndexFunc(target, func(rs []int32) bool { return slices.Index(rs, hi) > 0 && movable(rs) })
			if i < 0 {
				i = slices.IndexFunc(target, movable)
			}
			if i < 0 {
				return false
			}
			target[i][slices.Index(target[i], hi)] = lo
			return true
		})
		if !moved {
			break
		}
	}
	// Preferred leaders: each step swaps hi (first) with lo in a partition
	// holding both, which moves no data.
	for range len(pl.parts) * 4 {
		moved := step(count(true), func(hi, lo int32) bool {
			if i := slices.IndexFunc(target, func(rs []int32) bool { return rs[0] == hi && slices.Contains(rs, lo) }); i >= 0 {
				j := slices.Index(target[i], lo)
				target[i][0], target[i][j] = lo, hi
				return true
			}
			// Else an exchange: lo takes hi's place as the first
			// replica of one partition, hi lo's place as a follower of
			// another, which keeps every broker's replica count.
			i := slices.IndexFunc(target, func(rs []int32) bool {
				return rs[0] == hi && !slices.Contains(rs, lo) && pl.keepsSpread(rs, 0, lo)
			})
			k := slices.IndexFunc(target, func(rs []int32) bool {
				j := slices.Index(rs, lo)
				return j > 0 && !slices.Contains(rs, hi) && pl.keepsSpread(rs, j, hi)
			})
			if i < 0 || k < 0 || i == k {
				return false
			}
			target[i][0] = lo
			target[k][slices.Index(target[k], lo)] = hi
			return true
		})
		if !moved {
			break
		}
	}
	var moves []move
	for i, p := range pl.parts {
		if !slices.Equal(p.From, target[i]) {
			moves = append(moves, move{Topic: p.Topic, Partition: p.Partition, From: p.From, Replicas: target[i]})
		}
	}
	return moves, nil
}

// replicaLoad counts the replicas each of brokers holds.
func replicaLoad(pl placement, brokers []int32) map[int32]int {
	load := make(map[int32]int, len(brokers))
	for _, b := range brokers {
		load[b] = 0
	}
	for _, p := range pl.parts {
		for _, r := range p.From {
			if _, ok := load[r]; ok {
				load[r]++
			}
		}
	}
	return load
}

// printPlan shows moves as a table.
func printPlan(w io.Writer, moves []move) error {
	t := newTable(w, "TOPIC", "PARTITION", "FROM", "TO")
	for _, m := range moves {
		t.row(m.Topic, m.Partition, m.From, m.Replicas)
	}
	return t.flush()
}

// executeMoves asks for moves (AlterPartitionReassignments), prints each
// partition's answer, and unless wait is false waits until none of the
// accepted ones is still being reassigned (awaitReassignments), polling
// every interval. It fails if any was refused.
func executeMoves(ctx context.Context, w io.Writer, cl *kgo.Client, moves []move, wait bool, interval time.Duration) error {
	adm := kadm.NewClient(cl)
	var req kadm.AlterPartitionAssignmentsReq
	for _, m := range moves {
		req.Assign(m.Topic, m.Partition, m.Replicas)
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		return err
	}
	t := newTable(w, "TOPIC", "PARTITION", "REPLICAS", "STATUS")
	failed, accepted := 0, 0
	var pending []move
	for _, m := range moves {
		r, ok := resp[m.Topic][m.Partition]
		switch {
		case !ok:
			failed++
			t.row(m.Topic, m.Partition, m.Replicas, "no response")
		case r.Err != nil:
			failed++
			t.row(m.Topic, m.Partition, m.Replicas, errorText(r.Err, r.ErrMessage))
		case m.Replicas == nil:
			pending = append(pending, m)
			accepted++
			t.row(m.Topic, m.Partition, m.Replicas, "cancelled")
		default:
			pending = append(pending, m)
			accepted++
			t.row(m.Topic, m.Partition, m.Replicas, "reassigning")
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	if wait && len(pending) > 0 {
		if err := awaitReassignments(ctx, cl, pending, interval); err != nil {
			return err
		}
		fmt.Fprintf(w, "done: %d partition(s) reassigned\n", accepted)
	}
	return itemError(failed, len(moves), "reassignments")
}

// awaitReassignments waits until every broker's Metadata gives each
// move's partition its target replicas (any, for a cancellation) and its
// ListPartitionReassignments lists none of them: a broker answers from its own copy of the metadata,
// which may lag behind the controller's.
func awaitReassignments(ctx context.Context, cl *kgo.Client, moves []move, interval time.Duration) error {
	brokers, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	md := kmsg.NewPtrMetadataRequest()
	list := kmsg.NewPtrListPartitionReassignmentsRequest()
	byTopic := map[string][]move{}
	for _, m := range moves {
		byTopic[m.Topic] = append(byTopic[m.Topic], m)
	}
	for _, name := range slices.Sorted(maps.Keys(byTopic)) {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		md.Topics = append(md.Topics, rt)
		lt := kmsg.NewListPartitionReassignmentsRequestTopic()
		lt.Topic = name
		for _, m := range byTopic[name] {
			lt.Partitions = append(lt.Partitions, m.Partition)
		}
		list.Topics = append(list.Topics, lt)
	}
	done := func(b *kgo.Broker) bool {
		resp, err := b.Request(ctx, md)
		if err != nil {
			return false
		}
		replicas := map[string]map[int32][]int32{}
		for _, t := range resp.(*kmsg.MetadataResponse).Topics {
			if t.Topic == nil {
				continue
			}
			replicas[*t.Topic] = map[int32][]int32{}
			for _, p := range t.Partitions {
				replicas[*t.Topic][p.Partition] = p.Replicas
			}
		}
		for _, m := range moves {
			if m.Replicas != nil && !slices.Equal(replicas[m.Topic][m.Partition], m.Replicas) {
				return false
			}
		}
		lresp, err := b.Request(ctx, list)
		if err != nil {
			return false
		}
		l := lresp.(*kmsg.ListPartitionReassignmentsResponse)
		return l.ErrorCode == 0 && len(l.Topics) == 0
	}
	for _, b := range brokers.Brokers {
		for !done(cl.Broker(int(b.NodeID))) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the reassignments on broker %d: %w", b.NodeID, ctx.Err())
			case <-time.After(interval):
			}
		}
	}
	return nil
}
