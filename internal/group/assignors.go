package group

import (
	"bytes"
	"slices"
	"sort"
)

// TopicInfo is a topic as the KIP-848 assignors see it.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// assignment maps topic IDs to sorted partitions.
type assignment map[[16]byte][]int32

type topicPartition struct {
	id        [16]byte
	partition int32
}

func (a assignment) set() map[topicPartition]bool {
	s := make(map[topicPartition]bool)
	for id, ps := range a {
		for _, p := range ps {
			s[topicPartition{id, p}] = true
		}
	}
	return s
}

func fromSet(s map[topicPartition]bool) assignment {
	a := assignment{}
	for tp := range s {
		a[tp.id] = append(a[tp.id], tp.partition)
	}
	for id := range a {
		sort.Slice(a[id], func(i, j int) bool { return a[id][i] < a[id][j] })
	}
	return a
}

// sortedIDs lists the assignment's topic IDs in byte order.
func (a assignment) sortedIDs() [][16]byte {
	ids := make([][16]byte, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(x, y [16]byte) int { return bytes.Compare(x[:], y[:]) })
	return ids
}

// normalize sorts each topic's partitions and drops duplicates and
// topics without partitions.
func (a assignment) normalize() {
	for id, ps := range a {
		slices.Sort(ps)
		ps = slices.Compact(ps)
		if len(ps) == 0 {
			delete(a, id)
			continue
		}
		a[id] = ps
	}
}

func (a assignment) count() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

// Assignors are the server-side assignors KIP-848 members may choose;
// the first is the default.
var Assignors = []string{"uniform", "range"}

// assignorMember is one member as an assignor sees it.
type assignorMember struct {
	id     string
	topics []TopicInfo // subscribed topics that exist, sorted by name
}

// assignUniform spreads every subscribed partition evenly over the members
// subscribed to it, keeping partitions where they were (in previous) as
// long as that keeps the spread even.
func assignUniform(members []assignorMember, previous map[string]assignment) map[string]assignment {
	eligible := map[topicPartition][]int{} // partition -> indexes of members subscribed
	var all []topicPartition
	for i, m := range members {
		for _, t := range m.topics {
			for p := int32(0); p < t.Partitions; p++ {
				tp := topicPartition{t.ID, p}
				if _, ok := eligible[tp]; !ok {
					all = append(all, tp)
				}
				eligible[tp] = append(eligible[tp], i)
			}
		}
	}
	out := make([]map[topicPartition]bool, len(members))
	for i := range out {
		out[i] = map[topicPartition]bool{}
	}
	if len(members) == 0 {
		return nil
	}
	// Quotas: floor(P/N) each, one more for the members that held the
	// most, so that stickiness decides who gets the remainder.
	base, extra := len(all)/len(members), len(all)%len(members)
	order := make([]int, len(members))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return previous[members[order[a]].id].count() > previous[members[order[b]].id].count()
	})
	quota := make([]int, len(members))
	for rank, i := range order {
		quota[i] = base
		if rank < extra {
			quota[i]++
		}
	}
	taken := map[topicPartition]bool{}
	for i, m := range members {
		for tp := range previous[m.id].set() {
			if len(out[i]) >= quota[i] || taken[tp] || !contains(eligible[tp], i) {
				continue
			}
			out[i][tp] = true
			taken[tp] = true
		}
	}
	// The most constrained partitions (fewest subscribed members) first,
	// so that members with narrow subscriptions still fill their quota.
	sort.Slice(all, func(a, b int) bool {
		if la, lb := len(eligible[all[a]]), len(eligible[all[b]]); la != lb {
			return la < lb
		}
		if all[a].id != all[b].id {
			return string(all[a].id[:]) < string(all[b].id[:])
		}
		return all[a].partition < all[b].partition
	})
	for _, tp := range all {
		if taken[tp] {
			continue
		}
		// Members under quota first, then the one holding fewest.
		better := func(i, j int) bool {
			ui, uj := len(out[i]) < quota[i], len(out[j]) < quota[j]
			if ui != uj {
				return ui
			}
			return len(out[i]) < len(out[j])
		}
		best := -1
		for _, i := range eligible[tp] {
			if best == -1 || better(i, best) {
				best = i
			}
		}
		out[best][tp] = true
		taken[tp] = true
	}
	res := make(map[string]assignment, len(members))
	for i, m := range members {
		res[m.id] = fromSet(out[i])
	}
	return res
}

// assignRange gives each member, per topic, a contiguous range of
// partitions: the members subscribed to the topic in member ID order, the
// first (partitions % members) getting one more.
func assignRange(members []assignorMember) map[string]assignment {
	res := make(map[string]assignment, len(members))
	byTopic := map[[16]byte][]int{}
	topics := map[[16]byte]TopicInfo{}
	for i, m := range members {
		res[m.id] = assignment{}
		for _, t := range m.topics {
			byTopic[t.ID] = append(byTopic[t.ID], i)
			topics[t.ID] = t
		}
	}
	for id, idx := range byTopic {
		n := int(topics[id].Partitions)
		base, extra := n/len(idx), n%len(idx)
		next := int32(0)
		for k, i := range idx {
			size := base
			if k < extra {
				size++
			}
			for j := 0; j < size; j++ {
				res[members[i].id][id] = append(res[members[i].id][id], next)
				next++
			}
		}
	}
	return res
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
