package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/clustertest"
)

func quorumMemberIDs(ms []quorumMember) []int32 {
	out := []int32{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// describeJSON runs cluster quorum describe --format json until ok holds.
func describeJSON(t *testing.T, brokers, what string, ok func(quorumInfo) bool) quorumInfo {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var q quorumInfo
		out := samsa(t, brokers, "", "cluster", "quorum", "describe", "--format", "json")
		if out.err == nil && json.Unmarshal([]byte(out.stdout), &q) == nil && ok(q) {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("quorum never %s: %+v %v", what, out.stdout, out.err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterQuorumCommands: against three combined nodes and a fourth
// started with controller.quorum.bootstrap.servers, quorum describe shows
// the leader, three voters caught up and the observer, add makes node 4 a
// voter (and refuses it again with DUPLICATE_VOTER), remove takes a voter
// out (VOTER_NOT_FOUND for a node that is none), and cluster info's quorum
// section follows.
func TestClusterQuorumCommands(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: 3})
	_, controller4 := c.StartObserverController(4)
	brokers := strings.Join(c.Seeds(), ",")

	q := describeJSON(t, brokers, "caught up with an observer", func(q quorumInfo) bool {
		for _, m := range append(slices.Clone(q.Voters), q.Observers...) {
			if m.Lag != 0 || m.LastCaughtUpTimestamp < 0 {
				return false
			}
		}
		return len(q.Observers) == 1
	})
	if !slices.Equal(quorumMemberIDs(q.Voters), []int32{1, 2, 3}) || !slices.Equal(quorumMemberIDs(q.Observers), []int32{4}) ||
		q.LeaderID < 1 || q.LeaderID > 3 || q.LeaderEpoch < 1 || q.HighWatermark < 1 {
		t.Fatalf("quorum %+v", q)
	}
	table := ok(t, brokers, "", "cluster", "quorum", "describe")
	for _, want := range []string{"QUORUM-LEADER", "HIGH-WATERMARK", "leader", "voter", "4     observer"} {
		if !strings.Contains(table, want) {
			t.Errorf("describe lacks %q:\n%s", want, table)
		}
	}

	if out := ok(t, brokers, "", "cluster", "quorum", "add", "--node-id", "4", "--controller", controller4); out != "voter 4 ("+controller4+") added to the controller quorum\n" {
		t.Errorf("add: %q", out)
	}
	q = describeJSON(t, brokers, "with four voters", func(q quorumInfo) bool { return len(q.Voters) == 4 })
	if !slices.Equal(quorumMemberIDs(q.Voters), []int32{1, 2, 3, 4}) || len(q.Observers) != 0 {
		t.Fatalf("after add: %+v", q)
	}
	if r := samsa(t, brokers, "", "cluster", "quorum", "add", "--node-id", "4", "--controller", controller4); r.err == nil ||
		!strings.Contains(r.err.Error(), "DUPLICATE_VOTER") {
		t.Errorf("add again: %v", r.err)
	}
	if r := samsa(t, brokers, "", "cluster", "quorum", "add", "--node-id", "4", "--controller", "nohost"); r.err == nil ||
		!strings.Contains(r.err.Error(), `--controller "nohost" is not host:port`) {
		t.Errorf("add with a bad address: %v", r.err)
	}
	if r := samsa(t, brokers, "", "cluster", "quorum", "remove", "--node-id", "9"); r.err == nil ||
		!strings.Contains(r.err.Error(), "VOTER_NOT_FOUND") {
		t.Errorf("remove a stranger: %v", r.err)
	}
	remove := int32(1)
	if q.LeaderID == 1 {
		remove = 2
	}
	if out := ok(t, brokers, "", "cluster", "quorum", "remove", "--node-id", itoa32(remove)); !strings.Contains(out, "removed from the controller quorum") {
		t.Errorf("remove: %q", out)
	}
	q = describeJSON(t, brokers, "with three voters", func(q quorumInfo) bool { return len(q.Voters) == 3 })
	if slices.Contains(quorumMemberIDs(q.Voters), remove) || !slices.Equal(quorumMemberIDs(q.Observers), []int32{remove}) {
		t.Fatalf("after remove: %+v", q)
	}

	var info clusterInfo
	if err := json.Unmarshal([]byte(ok(t, brokers, "", "cluster", "info", "--format", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Quorum == nil || len(info.Quorum.Voters) != 3 || len(info.Quorum.Observers) != 1 || info.QuorumError != "" || len(info.Brokers) != 4 {
		t.Fatalf("cluster info: %+v", info)
	}
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
