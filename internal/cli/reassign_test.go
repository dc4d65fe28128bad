package cli

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/clustertest"
)

// TestPlanBalance: a cluster of brokers 1-3 grown by broker 4 (empty),
// with 12 partitions of 2 replicas, one on a gone broker 9: the plan moves
// 9's replica to the emptiest broker, spreads replicas 6 per broker and
// preferred leaders 3 per broker; planAway from 2 leaves 2 with none and
// fails when a partition cannot keep its replication factor.
func TestPlanBalance(t *testing.T) {
	var pl placement
	pl.brokers = []int32{1, 2, 3, 4}
	for i := range int32(12) {
		from := []int32{1 + i%3, 1 + (i+1)%3}
		if i == 5 {
			from[1] = 9
		}
		pl.parts = append(pl.parts, move{Topic: "t", Partition: i, From: from})
	}
	moves, err := planBalance(pl, pl.brokers)
	if err != nil {
		t.Fatal(err)
	}
	after := map[int32][]int32{}
	for _, p := range pl.parts {
		after[p.Partition] = p.From
	}
	for _, m := range moves {
		after[m.Partition] = m.Replicas
	}
	replicas, leaders := map[int32]int{}, map[int32]int{}
	for _, rs := range after {
		if len(rs) != 2 || rs[0] == rs[1] {
			t.Fatalf("bad replicas %v", rs)
		}
		leaders[rs[0]]++
		for _, r := range rs {
			replicas[r]++
		}
	}
	if fmt.Sprint(replicas) != "map[1:6 2:6 3:6 4:6]" || fmt.Sprint(leaders) != "map[1:3 2:3 3:3 4:3]" {
		t.Fatalf("replicas %v, preferred leaders %v after %v", replicas, leaders, moves)
	}
	if !slices.ContainsFunc(moves, func(m move) bool { return m.Partition == 5 && !slices.Contains(m.Replicas, 9) }) {
		t.Fatalf("partition 5 keeps the gone broker 9: %v", moves)
	}
	again, _ := planBalance(pl, pl.brokers)
	if fmt.Sprint(again) != fmt.Sprint(moves) {
		t.Fatalf("the plan is not the same twice:\n%v\n%v", moves, again)
	}

	away, err := planAway(pl, []int32{1, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range away {
		if slices.Contains(m.Replicas, 2) || !slices.Contains(m.From, 2) && !slices.Contains(m.From, 9) {
			t.Fatalf("planAway from 2: %v", m)
		}
	}
	if _, err := planAway(pl, []int32{1}); err == nil {
		t.Fatal("planAway onto one broker of partitions of 2 replicas succeeded")
	}
}

// TestPlanBalanceRacks: brokers 1, 2 and a new 4 on rack a, 3 alone on
// rack b, and 12 partitions each with one replica on 3 and one on 1 or 2.
// Evening the counts by moving replicas of 3 (12) to 4 (0) would put
// partitions on rack a alone: the plan moves only a-rack replicas to 4,
// leaving 3 its 12 and 1, 2 and 4 four each, every partition on both
// racks; without racks the same cluster is evened to within one; and
// decommissioning 3 with a broker 5 on rack b moves its replicas to 5, not
// to the emptiest broker.
func TestPlanBalanceRacks(t *testing.T) {
	var pl placement
	pl.brokers = []int32{1, 2, 3, 4}
	pl.racks = map[int32]string{1: "a", 2: "a", 3: "b", 4: "a"}
	for i := range int32(12) {
		from := []int32{3, 1 + i%2}
		if i%3 == 0 {
			from[0], from[1] = from[1], from[0]
		}
		pl.parts = append(pl.parts, move{Topic: "t", Partition: i, From: from})
	}
	spread := func(pl placement, moves []move) (map[int32]int, []int32) {
		after := map[int32][]int32{}
		for _, p := range pl.parts {
			after[p.Partition] = p.From
		}
		for _, m := range moves {
			after[m.Partition] = m.Replicas
		}
		count := map[int32]int{}
		var single []int32
		for part, rs := range after {
			for _, r := range rs {
				count[r]++
			}
			if pl.rackSpread(rs) < 2 {
				single = append(single, part)
			}
		}
		return count, single
	}
	moves, err := planBalance(pl, pl.brokers)
	if err != nil {
		t.Fatal(err)
	}
	if count, single := spread(pl, moves); fmt.Sprint(count) != "map[1:4 2:4 3:12 4:4]" || len(single) > 0 {
		t.Fatalf("with racks: replicas %v, partitions on one rack %v, after %v", count, single, moves)
	}

	pl.racks = nil
	moves, err = planBalance(pl, pl.brokers)
	if err != nil {
		t.Fatal(err)
	}
	if count, _ := spread(pl, moves); fmt.Sprint(count) != "map[1:6 2:6 3:6 4:6]" {
		t.Fatalf("without racks: replicas %v after %v", count, moves)
	}

	pl.racks = map[int32]string{1: "a", 2: "a", 3: "b", 4: "a", 5: "b"}
	pl.brokers = []int32{1, 2, 3, 4, 5}
	away, err := planAway(pl, []int32{1, 2, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range away {
		if i := slices.Index(m.From, 3); i < 0 || m.Replicas[i] != 5 {
			t.Fatalf("decommissioning 3: %v, want its replicas on 5, the other rack-b broker", m)
		}
	}
}

// replicasOf returns each partition's replicas of topic, and its leaders.
func replicasOf(t *testing.T, adm *kadm.Client, topic string) (replicas [][]int32, leaders []int32) {
	t.Helper()
	md, err := adm.Metadata(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics[topic].Partitions.Sorted() {
		replicas = append(replicas, p.Replicas)
		leaders = append(leaders, p.Leader)
	}
	return replicas, leaders
}

// TestClusterReassignCommands drives topic move (flags, --cancel with
// nothing to cancel and of a move that cannot finish, and a JSON plan),
// topic elect-leaders, cluster decommission and cluster rebalance (dry
// run and --execute: 14 replicas and 10 leaders spread within one) against
// a three-node cluster, checking the outcome through Metadata.
func TestClusterReassignCommands(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, Static: map[string]string{
		"offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "6",
		"auto.leader.rebalance.enable": "false",
	}})
	b := strings.Join(c.Seeds(), ",")
	// kgo answers a Metadata request from its cache for MetadataMinAge.
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	ok(t, b, "", "topic", "create", "m", "-p", "3", "-r", "2")

	out := ok(t, b, "", "topic", "move", "m", "--partition", "0", "--replicas", "3,1")
	if !strings.Contains(out, "reassigning") || !strings.Contains(out, "done: 1 partition(s) reassigned") {
		t.Fatalf("topic move:\n%s", out)
	}
	if rs, _ := replicasOf(t, adm, "m"); !slices.Equal(rs[0], []int32{3, 1}) {
		t.Fatalf("m-0 after the move: %v", rs[0])
	}
	// Preferred 3 leads once elected; a second election is not needed.
	out = ok(t, b, "", "topic", "elect-leaders", "m", "--partition", "0")
	if !strings.Contains(out, "elected") && !strings.Contains(out, "not needed") {
		t.Fatalf("elect-leaders:\n%s", out)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ls := replicasOf(t, adm, "m"); ls[0] == 3 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("m-0 led by %d after the election, want 3:\n%s", ls[0], out)
		}
	}
	if out = ok(t, b, "", "topic", "elect-leaders", "m", "--partition", "0"); !strings.Contains(out, "not needed") {
		t.Fatalf("second elect-leaders:\n%s", out)
	}
	if r := samsa(t, b, "", "topic", "move", "m", "--partition", "9", "--replicas", "1"); r.err == nil || !strings.Contains(r.stdout, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("move of a missing partition: %v\n%s", r.err, r.stdout)
	}
	if r := samsa(t, b, "", "topic", "move", "m", "--partition", "0", "--cancel"); r.err == nil || !strings.Contains(r.stdout, "NO_REASSIGNMENT_IN_PROGRESS") {
		t.Fatalf("cancel with no move in progress: %v\n%s", r.err, r.stdout)
	}
	// A move that cannot finish (the new replica cannot reach the leader)
	// is cancelled: back to the replicas before, without the added one.
	ok(t, b, "", "topic", "create", "s", "-p", "1", "-r", "2")
	rs, _ := replicasOf(t, adm, "s")
	from := rs[0]
	third := int32(6) - from[0] - from[1]
	c.Link(int(third-1), int(from[0]-1)).SetBoth(clustertest.Fault{Mode: clustertest.Drop})
	target := fmt.Sprintf("%d,%d", from[1], third)
	if out = ok(t, b, "", "topic", "move", "s", "--partition", "0", "--replicas", target, "--no-wait"); !strings.Contains(out, "reassigning") {
		t.Fatalf("move that cannot finish:\n%s", out)
	}
	if out = ok(t, b, "", "topic", "move", "s", "--partition", "0", "--cancel"); !strings.Contains(out, "cancelled") || !strings.Contains(out, "done: 1") {
		t.Fatalf("cancel:\n%s", out)
	}
	if rs, _ := replicasOf(t, adm, "s"); !slices.Equal(rs[0], []int32{from[1], from[0]}) {
		t.Fatalf("s-0 after the cancel: %v, was %v", rs[0], from)
	}
	c.Link(int(third-1), int(from[0]-1)).Heal()
	plan := t.TempDir() + "/plan.json"
	if err := os.WriteFile(plan, []byte(`{"version":1,"partitions":[{"topic":"m","partition":1,"replicas":[1,2]},{"topic":"m","partition":2,"replicas":[2,3]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out = ok(t, b, "", "topic", "move", "--plan", plan); !strings.Contains(out, "done: 2 partition(s) reassigned") {
		t.Fatalf("topic move --plan:\n%s", out)
	}
	if rs, _ := replicasOf(t, adm, "m"); !slices.Equal(rs[1], []int32{1, 2}) || !slices.Equal(rs[2], []int32{2, 3}) {
		t.Fatalf("m after the plan: %v", rs)
	}

	// Decommission broker 1: nothing of any topic is left on it.
	out = ok(t, b, "", "cluster", "decommission", "1")
	if !strings.Contains(out, "done:") {
		t.Fatalf("decommission:\n%s", out)
	}
	held := func() map[int32]int {
		md, err := adm.Metadata(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		n := map[int32]int{}
		for _, td := range md.Topics {
			for _, p := range td.Partitions {
				for _, r := range p.Replicas {
					n[r]++
				}
			}
		}
		return n
	}
	if n := held(); n[1] != 0 {
		t.Fatalf("broker 1 holds %d replicas after decommission: %v", n[1], n)
	}
	if out = ok(t, b, "", "cluster", "decommission", "1"); !strings.Contains(out, "nothing to move") {
		t.Fatalf("second decommission:\n%s", out)
	}

	// Rebalance: the dry run changes nothing, --execute spreads the 14
	// replicas and the 10 preferred leaders within one of each other.
	before := held()
	out = ok(t, b, "", "cluster", "rebalance")
	if !strings.Contains(out, "dry run") {
		t.Fatalf("rebalance dry run:\n%s", out)
	}
	if n := held(); !maps.Equal(n, before) {
		t.Fatalf("the dry run moved replicas: %v, was %v", n, before)
	}
	out = ok(t, b, "", "cluster", "rebalance", "--execute")
	if !strings.Contains(out, "done:") {
		t.Fatalf("rebalance --execute:\n%s", out)
	}
	even := func(n map[int32]int, total int) bool {
		lo, hi := total, 0
		sum := 0
		for b := int32(1); b <= 3; b++ {
			lo, hi, sum = min(lo, n[b]), max(hi, n[b]), sum+n[b]
		}
		return sum == total && hi-lo <= 1
	}
	if n := held(); !even(n, 14) {
		t.Fatalf("replicas per broker after the rebalance: %v\n%s", n, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		leaders := map[int32]int{}
		md, err := adm.Metadata(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, td := range md.Topics {
			for _, p := range td.Partitions {
				leaders[p.Leader]++
			}
		}
		if even(leaders, 10) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders per broker after the rebalance: %v\n%s", leaders, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out = ok(t, b, "", "cluster", "rebalance"); !strings.Contains(out, "balanced") {
		t.Fatalf("rebalance of a balanced cluster:\n%s", out)
	}
}
