package broker_test

import (
	"testing"
	"time"
)

// TestGroupSplitsPartitions: three members of a group on a 6-partition
// topic each own two partitions and together read every record exactly
// once; a fourth member triggers a rebalance that hands it partitions
// without any partition being owned twice.
func TestGroupSplitsPartitions(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "split", 6, nil)
	a := startMember(t, tb, "split-group", "split")
	b := startMember(t, tb, "split-group", "split")
	c := startMember(t, tb, "split-group", "split")
	waitBalanced(t, 6, []int{2, 2, 2}, a, b, c)

	const n = 600
	produceN(t, tb, "split", 0, n)
	waitFor(t, 20*time.Second, "every record consumed", func() bool {
		return len(a.consumed())+len(b.consumed())+len(c.consumed()) >= n
	})
	seen := map[string]int{}
	for _, m := range []*groupMember{a, b, c} {
		owned := map[int32]bool{}
		for _, p := range m.partitions() {
			owned[p] = true
		}
		for _, r := range m.consumed() {
			seen[string(r.Value)]++
			if !owned[r.Partition] {
				t.Errorf("member read partition %d it does not own (%v)", r.Partition, m.partitions())
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("read %d distinct records, want %d", len(seen), n)
	}
	for v, k := range seen {
		if k != 1 {
			t.Fatalf("record %s read %d times", v, k)
		}
	}

	d := startMember(t, tb, "split-group", "split")
	waitFor(t, 20*time.Second, "the new member to get partitions", func() bool { return len(d.partitions()) > 0 })
	waitFor(t, 20*time.Second, "a rebalanced, disjoint assignment", func() bool {
		seen := map[int32]int{}
		total := 0
		for _, m := range []*groupMember{a, b, c, d} {
			ps := m.partitions()
			if len(ps) == 0 || len(ps) > 2 {
				return false
			}
			for _, p := range ps {
				seen[p]++
				total++
			}
		}
		return len(seen) == 6 && total == 6
	})
}
