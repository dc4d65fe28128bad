package broker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/group"
)

// pinned hands out clients of one broker that send an API at exactly
// the version asked (kgo sends the highest both sides serve).
type pinned struct {
	t    *testing.T
	addr string
	cls  map[[2]int16]*kgo.Client
}

func (p *pinned) at(key, v int16) *kgo.Client {
	if cl := p.cls[[2]int16{key, v}]; cl != nil {
		return cl
	}
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key, v)
	cl := testClient(p.t, kgo.SeedBrokers(p.addr), kgo.MaxVersions(vs))
	if p.cls == nil {
		p.cls = map[[2]int16]*kgo.Client{}
	}
	p.cls[[2]int16{key, v}] = cl
	return cl
}

// txnCommit sends a TxnOffsetCommit (version v) of offsets ("topic/p" ->
// offset) and returns its codes by "topic/p".
func txnCommit(t *testing.T, ctx context.Context, p *pinned, v int16, id, groupID string, pid int64, epoch int16, gen int32, member string, offsets map[string]int64) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = id, groupID, pid, epoch
	req.Generation, req.MemberID = gen, member
	for tp, off := range offsets {
		i := strings.LastIndexByte(tp, '/')
		p, err := strconv.Atoi(tp[i+1:])
		if err != nil {
			t.Fatal(err)
		}
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = tp[:i]
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = int32(p), off
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, p.at(req.Key(), v))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != v {
		t.Fatalf("TxnOffsetCommit answered at v%d, not v%d", resp.Version, v)
	}
	codes := map[string]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			codes[fmt.Sprintf("%s/%d", rt.Topic, rp.Partition)] = rp.ErrorCode
		}
	}
	return codes
}

// fetchStable is an OffsetFetch (version v) of topic t's partition 0 for
// groupID, with require_stable as asked: the offset and the partition's
// code.
func fetchStable(t *testing.T, ctx context.Context, p *pinned, v int16, groupID string, stable bool) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = stable
	if v < 8 {
		req.Group = groupID
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "t", []int32{0}
		req.Topics = append(req.Topics, rt)
	} else {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = groupID
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = "t", []int32{0}
		rg.Topics = append(rg.Topics, rt)
		req.Groups = append(req.Groups, rg)
	}
	resp, err := req.RequestWith(ctx, p.at(req.Key(), v))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != v {
		t.Fatalf("OffsetFetch answered at v%d, not v%d", resp.Version, v)
	}
	if v < 8 {
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("OffsetFetch v%d: %+v", v, resp)
		}
		rp := resp.Topics[0].Partitions[0]
		return rp.Offset, rp.ErrorCode
	}
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 || len(resp.Groups[0].Topics[0].Partitions) != 1 {
		t.Fatalf("OffsetFetch v%d: %+v", v, resp)
	}
	rp := resp.Groups[0].Topics[0].Partitions[0]
	return rp.Offset, rp.ErrorCode
}

// wantFetched checks what OffsetFetch v7 and v8 answer for t/0, with
// require_stable and without.
func wantFetched(t *testing.T, ctx context.Context, cl *pinned, groupID string, stable int64, stableCode int16, plain int64) {
	t.Helper()
	for _, v := range []int16{7, 8} {
		if off, code := fetchStable(t, ctx, cl, v, groupID, true); off != stable || code != stableCode {
			t.Fatalf("OffsetFetch v%d require_stable: offset %d %v, want %d %v", v, off, kerr.ErrorForCode(code), stable, kerr.ErrorForCode(stableCode))
		}
		if off, code := fetchStable(t, ctx, cl, v, groupID, false); off != plain || code != 0 {
			t.Fatalf("OffsetFetch v%d: offset %d %v, want %d", v, off, kerr.ErrorForCode(code), plain)
		}
	}
}

// initTxn is InitProducerId for transactional ID id, retried while the
// transaction coordinator is being made (__transaction_state created and
// loaded at the first lookup).
func initTxn(t *testing.T, ctx context.Context, cl *kgo.Client, id string) (int64, int16) {
	t.Helper()
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode == 0 {
			return resp.ProducerID, resp.ProducerEpoch
		}
		if ctx.Err() != nil {
			t.Fatalf("InitProducerId %s: %v %+v", id, err, resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// addOffsets is AddOffsetsToTxn of groupID, which must succeed.
func addOffsets(t *testing.T, ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, groupID string) {
	t.Helper()
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, pid, epoch, groupID
	if resp, err := req.RequestWith(ctx, cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v %+v", err, resp)
	}
}

// endTxn is EndTxn (version v), which must succeed; it returns the
// producer's epoch after it (v5 bumps it).
func endTxn(t *testing.T, ctx context.Context, p *pinned, v int16, id string, pid int64, epoch int16, commit bool) int16 {
	t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	resp, err := req.RequestWith(ctx, p.at(req.Key(), v))
	if err != nil || resp.ErrorCode != 0 || resp.Version != v {
		t.Fatalf("EndTxn v%d: %v %+v", v, err, resp)
	}
	if v >= 5 {
		return resp.ProducerEpoch
	}
	return epoch
}

// awaitStable waits (the markers follow EndTxn's answer) until OffsetFetch
// v8 with require_stable answers offset want for t/0 of groupID, then
// checks both versions with wantFetched.
func awaitStable(t *testing.T, ctx context.Context, p *pinned, groupID string, want int64) {
	t.Helper()
	for {
		off, code := fetchStable(t, ctx, p, 8, groupID, true)
		if code == 0 && off == want {
			break
		}
		if code != 0 && code != kerr.UnstableOffsetCommit.Code {
			t.Fatalf("OffsetFetch require_stable: %v", kerr.ErrorForCode(code))
		}
		if ctx.Err() != nil {
			t.Fatalf("OffsetFetch require_stable: still %d %v, want %d", off, kerr.ErrorForCode(code), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantFetched(t, ctx, p, groupID, want, 0, want)
}

// TestTxnOffsetCommit: a transaction's offset commits over TCP, through
// the transaction coordinator, stay pending (UNSTABLE_OFFSET_COMMIT with
// require_stable, the last committed offset without) until its markers
// commit or abort them; the transaction must hold the group's partition
// (v0-v4: AddOffsetsToTxn; v5 adds it), and a fenced epoch is refused.
func TestTxnOffsetCommit(t *testing.T) {
	b, ctx, cl := startLeader(t)
	pin := &pinned{t: t, addr: b.Addr()}
	pid, epoch := initTxn(t, ctx, cl, "tx")

	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "g", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 5
	rt.Partitions = append(rt.Partitions, rp)
	oc.Topics = append(oc.Topics, rt)
	if resp, err := oc.RequestWith(ctx, pin.at(oc.Key(), 8)); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("OffsetCommit: %v %+v", err, resp)
	}

	// v3 (transactions v1): the transaction must hold the group first.
	if c := txnCommit(t, ctx, pin, 3, "tx", "g", pid, epoch, -1, "", map[string]int64{"t/0": 10}); c["t/0"] != kerr.InvalidTxnState.Code {
		t.Fatalf("TxnOffsetCommit before AddOffsetsToTxn: %v", c)
	}
	addOffsets(t, ctx, cl, "tx", pid, epoch, "g")
	codes := txnCommit(t, ctx, pin, 3, "tx", "g", pid, epoch, -1, "", map[string]int64{"t/0": 10, "t/9": 1, "nope/0": 1})
	want := map[string]int16{"t/0": 0, "t/9": kerr.UnknownTopicOrPartition.Code, "nope/0": kerr.UnknownTopicOrPartition.Code}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("TxnOffsetCommit codes %v, want %v", codes, want)
	}
	wantFetched(t, ctx, pin, "g", -1, kerr.UnstableOffsetCommit.Code, 5)

	// The batch on __consumer_offsets is the producer's, transactional,
	// so the partition's last stable offset waits for the marker.
	op := b.partitions.Get(api.OffsetsTopic, group.PartitionFor("g", 50))
	if lso, hw := op.LastStableOffset(), op.HighWatermark(); lso != 1 || hw != 2 {
		t.Fatalf("__consumer_offsets: last stable offset %d, high watermark %d; want 1, 2", lso, hw)
	}
	endTxn(t, ctx, pin, 4, "tx", pid, epoch, true)
	awaitStable(t, ctx, pin, "g", 10)
	if lso := op.LastStableOffset(); lso != 3 {
		t.Fatalf("last stable offset %d after the marker, want 3", lso)
	}

	// An aborted transaction's commits go (v0).
	addOffsets(t, ctx, cl, "tx", pid, epoch, "g")
	if c := txnCommit(t, ctx, pin, 0, "tx", "g", pid, epoch, -1, "", map[string]int64{"t/0": 20}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit v0: %v", c)
	}
	wantFetched(t, ctx, pin, "g", -1, kerr.UnstableOffsetCommit.Code, 10)
	endTxn(t, ctx, pin, 4, "tx", pid, epoch, false)
	awaitStable(t, ctx, pin, "g", 10)

	// v5 (transactions v2) adds the group's partition itself; EndTxn v5
	// bumps the epoch.
	if c := txnCommit(t, ctx, pin, 5, "tx", "g", pid, epoch, -1, "", map[string]int64{"t/0": 30}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit v5 without AddOffsetsToTxn: %v", c)
	}
	wantFetched(t, ctx, pin, "g", -1, kerr.UnstableOffsetCommit.Code, 10)
	bumped := endTxn(t, ctx, pin, 5, "tx", pid, epoch, true)
	if bumped != epoch+1 {
		t.Fatalf("EndTxn v5: epoch %d, want %d", bumped, epoch+1)
	}
	awaitStable(t, ctx, pin, "g", 30)

	// The old epoch is fenced.
	if c := txnCommit(t, ctx, pin, 5, "tx", "g", pid, epoch, -1, "", map[string]int64{"t/0": 40}); c["t/0"] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("TxnOffsetCommit at the old epoch: %v", c)
	}
	wantFetched(t, ctx, pin, "g", 30, 0, 30)

	// A member's commit is checked against the group: there is none.
	if c := txnCommit(t, ctx, pin, 5, "tx", "g", pid, bumped, 4, "m", map[string]int64{"t/0": 40}); c["t/0"] != kerr.UnknownMemberID.Code {
		t.Fatalf("TxnOffsetCommit of an unknown member: %v", c)
	}
	if c := txnCommit(t, ctx, pin, 5, "tx", "nosuch", pid, bumped, 4, "m", map[string]int64{"t/0": 40}); c["t/0"] != kerr.IllegalGeneration.Code {
		t.Fatalf("TxnOffsetCommit of a member to a group that does not exist: %v", c)
	}
}

// TestTxnOffsetCommitRestart: a broker restarted replays __consumer_offsets
// with the transactions' markers: a committed transaction's offset is the
// group's, and one still open stays pending until it commits.
func TestTxnOffsetCommitRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := testClient(t, kgo.SeedBrokers(b.Addr()))
	pin := &pinned{t: t, addr: b.Addr()}
	ct := kmsg.NewPtrCreateTopicsRequest()
	tt := kmsg.NewCreateTopicsRequestTopic()
	tt.Topic, tt.NumPartitions, tt.ReplicationFactor = "t", 1, 1
	ct.Topics = append(ct.Topics, tt)
	if resp, err := ct.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics: %v %+v", err, resp)
	}
	p1, e1 := initTxn(t, ctx, cl, "tx1")
	p2, e2 := initTxn(t, ctx, cl, "tx2")
	addOffsets(t, ctx, cl, "tx1", p1, e1, "g")
	if c := txnCommit(t, ctx, pin, 3, "tx1", "g", p1, e1, -1, "", map[string]int64{"t/0": 7}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", c)
	}
	endTxn(t, ctx, pin, 4, "tx1", p1, e1, true)
	addOffsets(t, ctx, cl, "tx2", p2, e2, "h")
	if c := txnCommit(t, ctx, pin, 3, "tx2", "h", p2, e2, -1, "", map[string]int64{"t/0": 9}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", c)
	}
	awaitStable(t, ctx, pin, "g", 7)
	wantFetched(t, ctx, pin, "h", -1, kerr.UnstableOffsetCommit.Code, -1)
	cl.Close()
	for _, c := range pin.cls {
		c.Close()
	}
	b.Close()

	b, err = Start(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl = testClient(t, kgo.SeedBrokers(b.Addr()))
	pin = &pinned{t: t, addr: b.Addr()}
	wantFetched(t, ctx, pin, "g", 7, 0, 7)
	wantFetched(t, ctx, pin, "h", -1, kerr.UnstableOffsetCommit.Code, -1)
	endTxn(t, ctx, pin, 4, "tx2", p2, e2, true)
	awaitStable(t, ctx, pin, "h", 9)
}
