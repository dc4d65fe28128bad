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

// initProducer asks for an (idempotent) producer ID and epoch.
func initProducer(t *testing.T, ctx context.Context, cl *kgo.Client) (int64, int16) {
	t.Helper()
	resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v, %+v", err, resp)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// txnCommit sends a TxnOffsetCommit (version v) of offsets ("topic/p" ->
// offset) and returns its codes by "topic/p".
func txnCommit(t *testing.T, ctx context.Context, p *pinned, v int16, groupID string, pid int64, epoch int16, gen int32, member string, offsets map[string]int64) map[string]int16 {
	t.Helper()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = "tx", groupID, pid, epoch
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

// offsetsPartition is groupID's __consumer_offsets partition, as a
// writeMarker topics argument.
func offsetsPartition(groupID string) map[string][]int32 {
	return map[string][]int32{api.OffsetsTopic: {group.PartitionFor(groupID, 50)}}
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

// TestTxnOffsetCommit: a transaction's offset commits over TCP stay
// pending (UNSTABLE_OFFSET_COMMIT with require_stable, the last committed
// offset without) until its marker on the group's __consumer_offsets
// partition commits or aborts them; an older producer epoch is fenced.
func TestTxnOffsetCommit(t *testing.T) {
	b, ctx, cl := startLeader(t)
	pin := &pinned{t: t, addr: b.Addr()}
	pid, epoch := initProducer(t, ctx, cl)

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

	codes := txnCommit(t, ctx, pin, 3, "g", pid, epoch, -1, "", map[string]int64{"t/0": 10, "t/9": 1, "nope/0": 1})
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
	if c := writeMarker(t, ctx, cl, pid, epoch, 0, true, offsetsPartition("g")); len(c) != 1 || c[fmt.Sprintf("%s/%d", api.OffsetsTopic, group.PartitionFor("g", 50))] != 0 {
		t.Fatalf("COMMIT marker: %v", c)
	}
	wantFetched(t, ctx, pin, "g", 10, 0, 10)
	if lso := op.LastStableOffset(); lso != 3 {
		t.Fatalf("last stable offset %d after the marker, want 3", lso)
	}

	// An aborted transaction's commits go.
	if c := txnCommit(t, ctx, pin, 0, "g", pid, epoch, -1, "", map[string]int64{"t/0": 20}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit v0: %v", c)
	}
	wantFetched(t, ctx, pin, "g", -1, kerr.UnstableOffsetCommit.Code, 10)
	// A transactions v2 marker bumps the epoch.
	if c := writeMarkerVersion(t, ctx, cl, pid, epoch+1, 0, false, 2, offsetsPartition("g")); c[fmt.Sprintf("%s/%d", api.OffsetsTopic, group.PartitionFor("g", 50))] != 0 {
		t.Fatalf("ABORT marker: %v", c)
	}
	wantFetched(t, ctx, pin, "g", 10, 0, 10)

	// The producer's old epoch is fenced by the partition's producer state.
	if c := txnCommit(t, ctx, pin, 3, "g", pid, epoch, -1, "", map[string]int64{"t/0": 30}); c["t/0"] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("TxnOffsetCommit at the old epoch: %v", c)
	}
	wantFetched(t, ctx, pin, "g", 10, 0, 10)

	// A member's commit is checked against the group: there is none.
	if c := txnCommit(t, ctx, pin, 3, "g", pid, epoch+1, 4, "m", map[string]int64{"t/0": 30}); c["t/0"] != kerr.UnknownMemberID.Code {
		t.Fatalf("TxnOffsetCommit of an unknown member: %v", c)
	}
	if c := txnCommit(t, ctx, pin, 3, "nosuch", pid, epoch+1, 4, "m", map[string]int64{"t/0": 30}); c["t/0"] != kerr.IllegalGeneration.Code {
		t.Fatalf("TxnOffsetCommit of a member to a group that does not exist: %v", c)
	}
}

// TestTxnOffsetCommitRestart: a broker restarted replays __consumer_offsets
// with the transactions' markers: a committed transaction's offset is the
// group's, and one without a marker stays pending until its marker comes.
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
	p1, e1 := initProducer(t, ctx, cl)
	p2, e2 := initProducer(t, ctx, cl)
	if c := txnCommit(t, ctx, pin, 3, "g", p1, e1, -1, "", map[string]int64{"t/0": 7}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", c)
	}
	writeMarker(t, ctx, cl, p1, e1, 0, true, offsetsPartition("g"))
	if c := txnCommit(t, ctx, pin, 3, "h", p2, e2, -1, "", map[string]int64{"t/0": 9}); c["t/0"] != 0 {
		t.Fatalf("TxnOffsetCommit: %v", c)
	}
	wantFetched(t, ctx, pin, "g", 7, 0, 7)
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
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	wantFetched(t, ctx, pin, "g", 7, 0, 7)
	wantFetched(t, ctx, pin, "h", -1, kerr.UnstableOffsetCommit.Code, -1)
	if c := writeMarker(t, ctx, cl, p2, e2, 0, true, offsetsPartition("h")); c[fmt.Sprintf("%s/%d", api.OffsetsTopic, group.PartitionFor("h", 50))] != 0 {
		t.Fatalf("COMMIT marker after the restart: %v", c)
	}
	wantFetched(t, ctx, pin, "h", 9, 0, 9)
}
