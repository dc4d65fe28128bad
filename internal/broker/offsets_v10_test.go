package broker_test

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// offsetsPeer sends OffsetCommit and OffsetFetch straight to the one broker,
// at the highest version both sides speak, and returns the responses as
// they came off the wire: kgo's sharded path would fill in topic names and
// errors from its own metadata.
type offsetsPeer struct {
	t  *testing.T
	cl *kgo.Client
}

// offsetsPeers returns a peer that speaks OffsetCommit and OffsetFetch v10
// (topic IDs) and one capped at v9 (topic names).
func offsetsPeers(t *testing.T, tb *testBroker) (v10, v9 offsetsPeer) {
	capped := kversion.Stable()
	capped.SetMaxKeyVersion(8, 9)
	capped.SetMaxKeyVersion(9, 9)
	return offsetsPeer{t, tb.client()}, offsetsPeer{t, tb.client(kgo.MaxVersions(capped))}
}

// commitTopic is one topic of a commit: by ID for v10, by name for v9.
func commitTopic(name string, id [16]byte, partitions ...kmsg.OffsetCommitRequestTopicPartition) kmsg.OffsetCommitRequestTopic {
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic, t.TopicID, t.Partitions = name, id, partitions
	return t
}

func commitAt(partition int32, offset int64, epoch int32, meta *string) kmsg.OffsetCommitRequestTopicPartition {
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch, p.Metadata = partition, offset, epoch, meta
	return p
}

// commit commits as a simple consumer (generation -1, no member) and
// checks the version that was used.
func (p offsetsPeer) commit(version int16, group string, topics ...kmsg.OffsetCommitRequestTopic) *kmsg.OffsetCommitResponse {
	p.t.Helper()
	return p.commitAs(version, group, -1, "", topics...)
}

// commitAs is commit on behalf of a member of the group, with its
// generation (a classic group) or member epoch (KIP-848).
func (p offsetsPeer) commitAs(version int16, group string, generation int32, member string, topics ...kmsg.OffsetCommitRequestTopic) *kmsg.OffsetCommitResponse {
	p.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID, req.Topics = group, generation, member, topics
	return p.send(req, version).(*kmsg.OffsetCommitResponse)
}

// send sends req to the broker and checks the version it went out as.
func (p offsetsPeer) send(req kmsg.Request, version int16) kmsg.Response {
	p.t.Helper()
	resp, err := p.cl.Broker(1).Request(ctxT(p.t), req)
	if err != nil {
		p.t.Fatal(err)
	}
	if v := resp.GetVersion(); v != version {
		p.t.Fatalf("%s went out as v%d, want v%d", kmsg.NameForKey(req.Key()), v, version)
	}
	return resp
}

// fetchTopic is one topic of a fetch: by ID for v10, by name for v9.
func fetchTopic(name string, id [16]byte, partitions ...int32) kmsg.OffsetFetchRequestGroupTopic {
	t := kmsg.NewOffsetFetchRequestGroupTopic()
	t.Topic, t.TopicID, t.Partitions = name, id, partitions
	return t
}

// fetch fetches one group's offsets, all of them with no topics (null).
func (p offsetsPeer) fetch(version int16, group string, topics ...kmsg.OffsetFetchRequestGroupTopic) kmsg.OffsetFetchResponseGroup {
	p.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group, rg.Topics = group, topics
	req.Groups = append(req.Groups, rg)
	r := p.send(req, version).(*kmsg.OffsetFetchResponse)
	if len(r.Groups) != 1 || r.Groups[0].Group != group {
		p.t.Fatalf("OffsetFetch groups: %+v", r.Groups)
	}
	return r.Groups[0]
}

// fetched is one expected partition of an OffsetFetch response.
type fetched struct {
	partition int32
	offset    int64
	epoch     int32
	meta      string
	code      int16
}

// checkFetched compares a response topic's partitions with want, exactly.
func checkFetched(t *testing.T, what string, got []kmsg.OffsetFetchResponseGroupTopicPartition, want ...fetched) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d partitions %+v, want %d", what, len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Metadata == nil {
			t.Fatalf("%s: partition %d has null metadata", what, g.Partition)
		}
		if have := (fetched{g.Partition, g.Offset, g.LeaderEpoch, *g.Metadata, g.ErrorCode}); have != w {
			t.Fatalf("%s: entry %d is %+v, want %+v", what, i, have, w)
		}
	}
}

func commitCodes(resp *kmsg.OffsetCommitResponse) [][]int16 {
	var out [][]int16
	for _, rt := range resp.Topics {
		var codes []int16
		for _, rp := range rt.Partitions {
			codes = append(codes, rp.ErrorCode)
		}
		out = append(out, codes)
	}
	return out
}

// TestOffsetsV10TopicIDs drives OffsetCommit and OffsetFetch v10, which name
// topics by ID, next to v9 by name: the same commits seen both ways, exact
// offsets, metadata and leader epochs, IDs in the responses, and Kafka's
// answers for IDs the broker does not know (UNKNOWN_TOPIC_ID per partition)
// and for deleted topics (left out of "all offsets").
func TestOffsetsV10TopicIDs(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	adm := tb.admin()
	createTopic(t, adm, "by-id", 3, nil)
	id := topicIDOf(t, tb, "by-id")
	unknown := [16]byte{0: 0xde, 1: 0xad, 6: 0x40, 8: 0x80, 15: 0x01}
	v10, v9 := offsetsPeers(t, tb)

	// v10 commit: two partitions, a partition the topic does not have,
	// and an unknown ID.
	resp := v10.commit(10, "ids",
		commitTopic("", id, commitAt(0, 10, 0, strp("first")), commitAt(1, 20, -1, nil), commitAt(7, 1, 0, nil)),
		commitTopic("", unknown, commitAt(0, 1, 0, nil), commitAt(1, 1, 0, nil)),
	)
	if len(resp.Topics) != 2 || resp.Topics[0].TopicID != id || resp.Topics[1].TopicID != unknown ||
		resp.Topics[0].Topic != "" || resp.Topics[1].Topic != "" {
		t.Fatalf("v10 commit topics: %+v", resp.Topics)
	}
	want := [][]int16{{0, 0, kerr.UnknownTopicOrPartition.Code}, {kerr.UnknownTopicID.Code, kerr.UnknownTopicID.Code}}
	if got := commitCodes(resp); len(got) != 2 || !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) {
		t.Fatalf("v10 commit codes %v, want %v", got, want)
	}

	// v9 commit by name of the third partition.
	resp = v9.commit(9, "ids", commitTopic("by-id", [16]byte{}, commitAt(2, 30, 0, strp("by name"))))
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != "by-id" || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("v9 commit: %+v", resp.Topics)
	}

	committed := []fetched{{0, 10, 0, "first", 0}, {1, 20, -1, "", 0}, {2, 30, 0, "by name", 0}}

	// v10 fetch by ID: the three commits, a partition never committed
	// (7 does not exist: -1 and no error, as Kafka), and the unknown ID.
	g := v10.fetch(10, "ids", fetchTopic("", id, 0, 1, 2, 7), fetchTopic("", unknown, 0, 3))
	if g.ErrorCode != 0 || len(g.Topics) != 2 || g.Topics[0].TopicID != id || g.Topics[1].TopicID != unknown ||
		g.Topics[0].Topic != "" || g.Topics[1].Topic != "" {
		t.Fatalf("v10 fetch: %+v", g)
	}
	checkFetched(t, "v10 fetch by ID", g.Topics[0].Partitions, append(committed, fetched{7, -1, -1, "", 0})...)
	checkFetched(t, "v10 fetch of an unknown ID", g.Topics[1].Partitions,
		fetched{0, -1, -1, "", kerr.UnknownTopicID.Code}, fetched{3, -1, -1, "", kerr.UnknownTopicID.Code})

	// v9 fetch by name sees the same commits.
	g = v9.fetch(9, "ids", fetchTopic("by-id", [16]byte{}, 0, 1, 2))
	if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].Topic != "by-id" {
		t.Fatalf("v9 fetch: %+v", g)
	}
	checkFetched(t, "v9 fetch by name", g.Topics[0].Partitions, committed...)

	// All offsets: by ID at v10, by name at v9.
	g = v10.fetch(10, "ids")
	if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].TopicID != id || g.Topics[0].Topic != "" {
		t.Fatalf("v10 fetch all: %+v", g)
	}
	checkFetched(t, "v10 fetch all", g.Topics[0].Partitions, committed...)
	g = v9.fetch(9, "ids")
	if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].Topic != "by-id" || g.Topics[0].TopicID != [16]byte{} {
		t.Fatalf("v9 fetch all: %+v", g)
	}
	checkFetched(t, "v9 fetch all", g.Topics[0].Partitions, committed...)

	// A v10 commit that names its topic only by name carries the zero ID
	// on the wire (v10 has no name field): UNKNOWN_TOPIC_ID, as Kafka.
	resp = v10.commit(10, "ids", commitTopic("by-id", [16]byte{}, commitAt(0, 99, 0, nil)))
	if got := commitCodes(resp); len(got) != 1 || !slices.Equal(got[0], []int16{kerr.UnknownTopicID.Code}) {
		t.Fatalf("v10 commit by name only: %v", got)
	}
	g = v10.fetch(10, "ids", fetchTopic("", id, 0))
	checkFetched(t, "v10 fetch after the by-name commit", g.Topics[0].Partitions, committed[0])

	// Nothing to commit never reaches the coordinator: no group appears.
	v10.commit(10, "phantom", commitTopic("", unknown, commitAt(0, 1, 0, nil)))
	listed, err := adm.ListGroups(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["phantom"]; ok || len(listed) != 1 {
		t.Fatalf("groups after a commit of only unknown IDs: %+v", listed)
	}

	// A deleted topic: its ID is unknown from then on, and v10 "all
	// offsets" leaves it out, as Kafka does (it cannot name it).
	createTopic(t, adm, "doomed", 1, nil)
	doomed := topicIDOf(t, tb, "doomed")
	resp = v10.commit(10, "ids", commitTopic("", doomed, commitAt(0, 5, 0, nil)))
	if got := commitCodes(resp); len(got) != 1 || !slices.Equal(got[0], []int16{0}) {
		t.Fatalf("commit to doomed: %v", got)
	}
	if g = v10.fetch(10, "ids"); len(g.Topics) != 2 {
		t.Fatalf("v10 fetch all before the delete: %+v", g.Topics)
	}
	dresp, err := adm.DeleteTopics(ctxT(t), "doomed")
	if err != nil || dresp.Error() != nil {
		t.Fatalf("delete doomed: %v %v", err, dresp.Error())
	}
	g = v10.fetch(10, "ids")
	if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].TopicID != id {
		t.Fatalf("v10 fetch all after the delete: %+v", g.Topics)
	}
	checkFetched(t, "v10 fetch all after the delete", g.Topics[0].Partitions, committed...)
	g = v10.fetch(10, "ids", fetchTopic("", doomed, 0))
	checkFetched(t, "v10 fetch of the deleted ID", g.Topics[0].Partitions, fetched{0, -1, -1, "", kerr.UnknownTopicID.Code})
	resp = v10.commit(10, "ids", commitTopic("", doomed, commitAt(0, 6, 0, nil)))
	if got := commitCodes(resp); len(got) != 1 || !slices.Equal(got[0], []int16{kerr.UnknownTopicID.Code}) {
		t.Fatalf("v10 commit to the deleted ID: %v", got)
	}
}

// syncBuffer is a bytes.Buffer a client's logger may write from several
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestOffsetsV10GroupConsumer: a franz-go group consumer, classic or
// KIP-848, speaks OffsetCommit and OffsetFetch v10 once the broker offers
// them: it commits by topic ID, a member's commit with a wrong generation or
// member ID is refused for the whole group as at v9, and a new member of the
// group resumes exactly after the commits.
func TestOffsetsV10GroupConsumer(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		opts     []kgo.Opt
		stale    int16 // the answer to a commit one generation (or epoch) ahead
	}{
		{"classic", nil, kerr.IllegalGeneration.Code},
		{"kip848", []kgo.Opt{kgo.ServerSideBalancer()}, kerr.StaleMemberEpoch.Code},
	} {
		t.Run(tc.protocol, func(t *testing.T) { testOffsetsV10GroupConsumer(t, tc.opts, tc.stale) })
	}
}

func testOffsetsV10GroupConsumer(t *testing.T, opts []kgo.Opt, stale int16) {
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "v10-resume", 2, nil)
	id := topicIDOf(t, tb, "v10-resume")
	produceN(t, tb, "v10-resume", 0, 100)
	v10, _ := offsetsPeers(t, tb)

	var log syncBuffer
	cl := tb.client(append([]kgo.Opt{
		kgo.ConsumerGroup("v10-group"), kgo.ConsumeTopics("v10-resume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.WithLogger(kgo.BasicLogger(&log, kgo.LogLevelDebug, nil)),
	}, opts...)...)
	ctx := ctxT(t)
	var got []*kgo.Record
	for len(got) < 60 {
		got = append(got, cl.PollRecords(ctx, 60-len(got)).Records()...)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 60 records", len(got))
		}
	}
	if err := cl.CommitRecords(ctx, got...); err != nil {
		t.Fatal(err)
	}
	last := map[int32]*kgo.Record{}
	for _, r := range got {
		if prev := last[r.Partition]; prev == nil || r.Offset > prev.Offset {
			last[r.Partition] = r
		}
	}
	memberID, generation := cl.GroupMetadata() // kgo commits with its member ID as the metadata

	// The member's identity is checked before any offset is written.
	for _, bad := range []struct {
		generation int32
		member     string
		code       int16
	}{
		{generation + 1, memberID, stale},
		{generation, "stranger", kerr.UnknownMemberID.Code},
	} {
		resp := v10.commitAs(10, "v10-group", bad.generation, bad.member, commitTopic("", id, commitAt(0, 99, 0, nil), commitAt(1, 99, 0, nil)))
		if got := commitCodes(resp); len(got) != 1 || !slices.Equal(got[0], []int16{bad.code, bad.code}) {
			t.Fatalf("commit as %s at generation %d: %v, want %d", bad.member, bad.generation, got, bad.code)
		}
	}
	cl.Close()
	for _, want := range []string{"wrote OffsetCommit v10", "wrote OffsetFetch v10"} {
		if !strings.Contains(log.String(), want) {
			t.Fatalf("the consumer's log has no %q", want)
		}
	}

	g := v10.fetch(10, "v10-group")
	if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].TopicID != id {
		t.Fatalf("committed offsets: %+v", g)
	}
	var want []fetched
	for p := int32(0); p < 2; p++ {
		if r := last[p]; r != nil {
			want = append(want, fetched{p, r.Offset + 1, r.LeaderEpoch, memberID, 0})
		}
	}
	checkFetched(t, "the consumer's commits", g.Topics[0].Partitions, want...)

	// A new member resumes each partition just after its commit and reads
	// the rest once: 40 records, every offset in order.
	next := map[int32]int64{}
	for p, r := range last {
		next[p] = r.Offset + 1
	}
	m := startMember(t, tb, "v10-group", "v10-resume", opts...)
	waitFor(t, 20*time.Second, "the records after the commits", func() bool { return len(m.consumed()) >= 40 })
	time.Sleep(300 * time.Millisecond) // time for a record read twice to arrive
	for _, r := range m.consumed() {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d read offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
	if end := next[0] + next[1]; end != 100 {
		t.Fatalf("the partitions end at %v, %d records in all, want 100", next, end)
	}
}
