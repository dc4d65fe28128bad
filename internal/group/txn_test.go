package group

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestTxnCommitConsumerGroup: a transactional commit to a KIP-848 group is
// checked as Kafka's ConsumerGroup.validateOffsetCommit(isTransactional):
// a member at its epoch commits, an unknown member is UNKNOWN_MEMBER_ID, a
// wrong epoch STALE_MEMBER_EPOCH, and a producer from before KIP-447
// (generation -1, no member) is accepted though the group has members.
func TestTxnCommitConsumerGroup(t *testing.T) {
	c, _ := consumerEnv(t)
	m := &member848{id: "m1"}
	m.heartbeat(t, c, topicT)
	commit := func(member string, epoch int32) int16 {
		req := TxnCommitRequest{CommitRequest: CommitRequest{Group: "g", Generation: epoch, MemberID: member,
			Commits: []Commit{{TopicPartition{"t", 0}, Offset{Offset: 7, LeaderEpoch: -1}}}}, ProducerID: 1}
		code, codes := c.CommitTxnOffsets(req)
		if code == 0 {
			code = codes[0]
		}
		return code
	}
	for _, tc := range []struct {
		member string
		epoch  int32
		want   int16
	}{
		{"m1", m.epoch, 0},
		{"nobody", m.epoch, kerr.UnknownMemberID.Code},
		{"m1", m.epoch + 5, kerr.StaleMemberEpoch.Code},
		{"", -1, 0},
	} {
		if got := commit(tc.member, tc.epoch); got != tc.want {
			t.Errorf("commit of member %q at epoch %d: %v, want %v", tc.member, tc.epoch, kerr.ErrorForCode(got), kerr.ErrorForCode(tc.want))
		}
	}
	offs, _ := c.FetchOffsetsAs("g", nil, -1, []TopicPartition{{"t", 0}}, true)
	if len(offs) != 1 || offs[0].Err != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable fetch with the commits pending: %+v", offs)
	}
	if err := c.CompleteTxn(1, []int32{0}, true); err != nil {
		t.Fatal(err)
	}
	offs, _ = c.FetchOffsetsAs("g", nil, -1, []TopicPartition{{"t", 0}}, true)
	if len(offs) != 1 || offs[0].Err != 0 || offs[0].Offset.Offset != 7 {
		t.Fatalf("after the commit: %+v", offs)
	}
	// A deleted topic's pending commit goes with its committed offsets.
	req := TxnCommitRequest{CommitRequest: CommitRequest{Group: "g", Generation: -1,
		Commits: []Commit{{TopicPartition{"t", 0}, Offset{Offset: 9, LeaderEpoch: -1}}, {TopicPartition{"t", 1}, Offset{Offset: 9, LeaderEpoch: -1}}}}, ProducerID: 2}
	if code, codes := c.CommitTxnOffsets(req); code != 0 || codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("commit: %v %v", code, codes)
	}
	c.TopicsDeleted([]string{"t"})
	if err := c.CompleteTxn(2, []int32{0}, true); err != nil {
		t.Fatal(err)
	}
	offs, _ = c.FetchOffsetsAs("g", nil, -1, []TopicPartition{{"t", 0}, {"t", 1}}, true)
	if len(offs) != 2 || offs[0].Offset.Offset != -1 || offs[1].Offset.Offset != -1 || offs[0].Err != 0 || offs[1].Err != 0 {
		t.Fatalf("after the topic's deletion and the commit: %+v", offs)
	}
	if err := c.CompleteTxn(1, []int32{3}, true); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("CompleteTxn of a partition not coordinated here: %v, want NOT_COORDINATOR", err)
	}
}
