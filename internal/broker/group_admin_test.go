package broker_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestGroupAdmin drives the group admin APIs through kadm and raw kmsg
// requests: FindCoordinator (batched, transactions refused), ListGroups
// filters, DescribeGroups, OffsetCommit errors, OffsetFetch of several
// groups, OffsetDelete and DeleteGroups with their refusals.
func TestGroupAdmin(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	adm := tb.admin()
	createTopic(t, adm, "admin", 2, nil)
	produceN(t, tb, "admin", 0, 20)
	ctx := ctxT(t)
	cl := tb.client()

	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorKeys = []string{"a", "b", ""}
	fresp, err := find.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]kmsg.FindCoordinatorResponseCoordinator{}
	for _, c := range fresp.Coordinators { // kgo may reorder the keys
		byKey[c.Key] = c
	}
	if len(byKey) != 3 || byKey["a"].ErrorCode != 0 || byKey["a"].NodeID != 1 || byKey["b"].ErrorCode != 0 ||
		byKey[""].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("find coordinator: %+v", fresp.Coordinators)
	}
	// A transactional.id's coordinator: the first lookup creates __transaction_state.
	find.CoordinatorType, find.CoordinatorKeys = 1, []string{"txn"}
	if fresp, err = find.RequestWith(ctx, cl); err != nil || fresp.Coordinators[0].ErrorCode != 0 || fresp.Coordinators[0].NodeID != 1 {
		t.Fatalf("transaction coordinator: %v %+v", err, fresp)
	}

	m := startMember(t, tb, "live", "admin")
	waitFor(t, 20*time.Second, "the member to read", func() bool { return len(m.consumed()) == 20 })
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CommitOffsets(ctx, "idle", kadm.OffsetsFromRecords(kgo.Record{Topic: "admin", Partition: 0, Offset: 4})); err != nil {
		t.Fatal(err)
	}

	listed, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 || listed["live"].State != "Stable" || listed["idle"].State != "Empty" || listed["live"].ProtocolType != "consumer" {
		t.Fatalf("list: %+v", listed)
	}
	if listed, err = adm.ListGroups(ctx, "Empty"); err != nil || len(listed) != 1 || listed["idle"].Group != "idle" {
		t.Fatalf("list Empty: %v %+v", err, listed)
	}
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.TypesFilter = []string{"consumer"}
	if lresp, err := lreq.RequestWith(ctx, cl); err != nil || len(lresp.Groups) != 0 {
		t.Fatalf("list type consumer: %v %+v", err, lresp)
	}

	described, err := adm.DescribeGroups(ctx, "live", "idle", "missing")
	if err != nil {
		t.Fatal(err)
	}
	live := described["live"]
	if live.State != "Stable" || len(live.Members) != 1 || live.Protocol != "cooperative-sticky" {
		t.Fatalf("describe live: %+v", live)
	}
	if a, ok := live.Members[0].Assigned.AsConsumer(); !ok || len(a.Topics) != 1 || len(a.Topics[0].Partitions) != 2 {
		t.Fatalf("live member assignment: %+v", live.Members[0].Assigned)
	}
	if described["idle"].State != "Empty" || !errors.Is(described["missing"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("describe idle/missing: %+v %+v", described["idle"], described["missing"])
	}

	// OffsetFetch of several groups in one request (v8+).
	freq := kmsg.NewPtrOffsetFetchRequest()
	for _, g := range []string{"live", "idle", "missing"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		freq.Groups = append(freq.Groups, rg)
	}
	ofresp, err := freq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(ofresp.Groups) != 3 || len(ofresp.Groups[0].Topics) != 1 || len(ofresp.Groups[0].Topics[0].Partitions) != 2 ||
		ofresp.Groups[1].Topics[0].Partitions[0].Offset != 5 || len(ofresp.Groups[2].Topics) != 0 {
		t.Fatalf("offset fetch: %+v", ofresp.Groups)
	}

	// OffsetCommit errors: stale generation, unknown member, unknown topic,
	// by topic name, which v10 no longer carries.
	byName := kversion.Stable()
	byName.SetMaxKeyVersion(8, 9)
	cl9 := tb.client(kgo.MaxVersions(byName))
	commit := func(gen int32, member, topic string) *kmsg.OffsetCommitResponse {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation, req.MemberID = "live", gen, member
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl9)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	memberID, gen := m.cl.GroupMetadata()
	if code := commit(gen-1, memberID, "admin").Topics[0].Partitions[0].ErrorCode; code != kerr.IllegalGeneration.Code {
		t.Fatalf("stale generation commit: %v", kerr.ErrorForCode(code))
	}
	if code := commit(gen, "stranger", "admin").Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member commit: %v", kerr.ErrorForCode(code))
	}
	if code := commit(gen, memberID, "nope").Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic commit: %v", kerr.ErrorForCode(code))
	}
	if code := commit(-1, "", "admin").Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit into a live group: %v", kerr.ErrorForCode(code))
	}

	// OffsetDelete keeps the subscribed topic of a live group.
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: "admin", Partition: 0})
	dresp, err := adm.DeleteOffsets(ctx, "live", del.TopicsSet())
	if err != nil {
		t.Fatal(err)
	}
	if err := dresp.Error(); !errors.Is(err, kerr.GroupSubscribedToTopic) {
		t.Fatalf("delete subscribed offsets: %v", err)
	}
	if dresp, err = adm.DeleteOffsets(ctx, "idle", del.TopicsSet()); err != nil || dresp.Error() != nil {
		t.Fatalf("delete idle offsets: %v %v", err, dresp.Error())
	}

	// DeleteGroups refuses a group with members.
	gresp, err := adm.DeleteGroups(ctx, "live", "idle", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(gresp["live"].Err, kerr.NonEmptyGroup) || gresp["idle"].Err != nil || !errors.Is(gresp["missing"].Err, kerr.GroupIDNotFound) {
		t.Fatalf("delete groups: %+v", gresp)
	}
	m.stop()
	waitFor(t, 10*time.Second, "the group to empty", func() bool {
		d, err := adm.DescribeGroups(ctx, "live")
		return err == nil && d["live"].State == "Empty"
	})
	if gresp, err = adm.DeleteGroups(ctx, "live"); err != nil || gresp["live"].Err != nil {
		t.Fatalf("delete emptied group: %v %+v", err, gresp)
	}
	if listed, err = adm.ListGroups(ctx); err != nil || len(listed) != 0 {
		t.Fatalf("groups left: %v %+v", err, listed)
	}
}

// TestDeleteTopicDeletesOffsets: deleting a topic deletes every group's
// committed offsets of it, as Kafka does: a group that had only those is
// gone, another keeps its other topics' offsets, a topic created again
// under the same name starts with no commits, and a restart brings none
// back.
func TestDeleteTopicDeletesOffsets(t *testing.T) {
	tb := startBroker(t, "", groupStatic())
	adm := tb.admin()
	createTopic(t, adm, "doomed", 2, nil)
	createTopic(t, adm, "kept", 1, nil)
	ctx := ctxT(t)
	commit := func(group string, offsets map[string]map[int32]int64) {
		t.Helper()
		os := kadm.Offsets{}
		for topic, ps := range offsets {
			for p, o := range ps {
				os.AddOffset(topic, p, o, -1)
			}
		}
		resp, err := adm.CommitOffsets(ctx, group, os)
		if err != nil || resp.Error() != nil {
			t.Fatalf("commit %s: %v %v", group, err, resp.Error())
		}
	}
	commit("only-doomed", map[string]map[int32]int64{"doomed": {0: 3, 1: 4}})
	commit("both", map[string]map[int32]int64{"doomed": {1: 5}, "kept": {0: 6}})

	check := func(when string) {
		t.Helper()
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := listed["only-doomed"]; ok || len(listed) != 1 {
			t.Fatalf("%s: groups %v, want only \"both\"", when, listed.Groups())
		}
		fetched, err := adm.FetchOffsets(ctx, "both")
		if err != nil || fetched.Error() != nil {
			t.Fatalf("%s: fetch: %v %v", when, err, fetched.Error())
		}
		var got []string
		fetched.Each(func(o kadm.OffsetResponse) { got = append(got, fmt.Sprintf("%s/%d=%d", o.Topic, o.Partition, o.At)) })
		if len(got) != 1 || got[0] != "kept/0=6" {
			t.Fatalf("%s: offsets of \"both\" %v, want kept/0=6", when, got)
		}
	}
	dresp, err := adm.DeleteTopics(ctx, "doomed")
	if err != nil || dresp.Error() != nil {
		t.Fatalf("delete: %v %v", err, dresp.Error())
	}
	check("after the delete")
	createTopic(t, adm, "doomed", 2, nil)
	fetched, err := adm.FetchOffsets(ctx, "both")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup("doomed", 1); ok && o.At != -1 {
		t.Fatalf("the re-created topic has offset %d", o.At)
	}
	tb = tb.restart()
	adm = tb.admin()
	check("after a restart")
}
