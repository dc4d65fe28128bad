package group

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// heldEnv is a coordinator of one shard whose log's high watermark a test
// moves (memoryLog.hold and release), as followers that fetch late.
func heldEnv(t *testing.T) (*Coordinator, *memoryLog) {
	t.Helper()
	log := &memoryLog{}
	c := New(Config{InitialRebalanceDelay: -1, MinSessionTimeout: time.Millisecond, RetentionCheckInterval: time.Hour})
	t.Cleanup(c.Close)
	if err := c.Sync(1, map[int32]Log{0: log}); err != nil {
		t.Fatal(err)
	}
	log.hold()
	return c, log
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func commitAsync(c *Coordinator, offset int64) chan string {
	done := make(chan string, 1)
	go func() {
		code, codes := c.CommitOffsets(CommitRequest{Group: "g", Generation: -1,
			Commits: []Commit{{TopicPartition{"t", 0}, Offset{Offset: offset, LeaderEpoch: -1}}}})
		done <- fmt.Sprint(kerr.ErrorForCode(code), " ", codes)
	}()
	return done
}

func fetched(t *testing.T, c *Coordinator) int64 {
	t.Helper()
	out, code := c.FetchOffsets("g", []TopicPartition{{"t", 0}})
	if code != 0 || len(out) != 1 {
		t.Fatalf("fetch: %v %+v", kerr.ErrorForCode(code), out)
	}
	all, code := c.FetchOffsets("g", nil)
	if code != 0 || (out[0].Offset.Offset < 0) != (len(all) == 0) || len(all) > 1 || len(all) == 1 && all[0].Offset.Offset != out[0].Offset.Offset {
		t.Fatalf("fetch of all %+v, of t-0 %+v", all, out)
	}
	return out[0].Offset.Offset
}

func pending(t *testing.T, done chan string, what string) {
	t.Helper()
	select {
	case r := <-done:
		t.Fatalf("%s answered (%s) before its record was committed", what, r)
	default:
	}
}

// TestCommitWaitsForCommit: an offset commit is appended under the
// group's lock and answered only once the high watermark passes its
// record, without the lock: a second commit of the same group is
// appended meanwhile, after the first in the log, and each is answered
// as the high watermark passes its own record. OffsetFetch answers the
// offset of the last committed record only, before and after, for one
// partition and for all.
func TestCommitWaitsForCommit(t *testing.T) {
	c, log := heldEnv(t)
	first := commitAsync(c, 5)
	eventually(t, "the first commit waiting", func() bool { return log.waiters() == 1 })
	pending(t, first, "the first commit")
	if got := fetched(t, c); got != -1 {
		t.Fatalf("fetched %d before the commit's record was committed, want none", got)
	}
	second := commitAsync(c, 7) // the group's lock is free
	eventually(t, "the second commit waiting", func() bool { return log.waiters() == 2 })
	recs := logRecords(log)
	if len(recs) != 2 {
		t.Fatalf("log holds %d records, want both commits", len(recs))
	}
	for i, want := range []int64{5, 7} {
		d, err := decodeRecord(recs[i])
		if err != nil || !d.isOffset || d.offset == nil || d.offset.Offset != want {
			t.Fatalf("record %d: %+v %v, want the commit of %d", i, d, err, want)
		}
	}

	log.release(1) // the first record is committed, not the second
	if r := <-first; r != "<nil> [0]" {
		t.Fatalf("first commit: %s", r)
	}
	pending(t, second, "the second commit")
	if got := fetched(t, c); got != 5 {
		t.Fatalf("fetched %d with the first record committed, want 5", got)
	}
	log.release(2)
	if r := <-second; r != "<nil> [0]" {
		t.Fatalf("second commit: %s", r)
	}
	if got := fetched(t, c); got != 7 {
		t.Fatalf("fetched %d with both committed, want 7", got)
	}

	// A deletion is not seen until its tombstone is committed.
	done := make(chan int16, 1)
	go func() {
		code, _ := c.DeleteOffsets("g", []TopicPartition{{"t", 0}})
		done <- code
	}()
	eventually(t, "DeleteOffsets waiting", func() bool { return log.waiters() == 1 })
	if got := fetched(t, c); got != 7 {
		t.Fatalf("fetched %d with the tombstone not committed, want 7", got)
	}
	log.release(-1)
	if code := <-done; code != 0 {
		t.Fatalf("DeleteOffsets: %v", kerr.ErrorForCode(code))
	}
	if got := fetched(t, c); got != -1 {
		t.Fatalf("fetched %d after the deletion, want none", got)
	}
}

// TestCommitNotCommitted: a commit whose record the leader could not get
// committed is answered NOT_COORDINATOR when the leadership went (the
// client looks for the new coordinator), COORDINATOR_NOT_AVAILABLE for
// anything else, as Kafka's coordinator normalises the errors; OffsetFetch
// never answers the offset.
func TestCommitNotCommitted(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{fmt.Errorf("lost: %w", kerr.NotLeaderForPartition), kerr.NotCoordinator.Code},
		{fmt.Errorf("too few: %w", kerr.NotEnoughReplicasAfterAppend), kerr.CoordinatorNotAvailable.Code},
	} {
		c, log := heldEnv(t)
		done := commitAsync(c, 5)
		eventually(t, "the commit waiting", func() bool { return log.waiters() == 1 })
		log.failWaits(tc.err)
		if r, want := <-done, fmt.Sprint("<nil> [", tc.want, "]"); r != want {
			t.Fatalf("%v: commit answered %s, want %s", tc.err, r, want)
		}
		if got := fetched(t, c); got != -1 {
			t.Fatalf("%v: fetched %d, want none", tc.err, got)
		}
	}
}

// TestSyncWaitsForCommit: a classic group's SyncGroup answer (the
// leader's assignment) waits for the group's record to be committed; the
// join before it wrote nothing (as Kafka, the group is stored on sync) and
// answers at once, the high watermark held.
func TestSyncWaitsForCommit(t *testing.T) {
	c, log := heldEnv(t)
	j := c.JoinGroup(context.Background(), JoinRequest{Group: "g", ClientID: "c", SessionTimeout: time.Minute,
		ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: []byte{1}}}})
	if j.Err != 0 || j.Generation != 1 || j.Leader != j.MemberID || len(logRecords(log)) != 0 {
		t.Fatalf("join: %+v, %d records", j, len(logRecords(log)))
	}
	synced := make(chan SyncResult, 1)
	go func() {
		synced <- c.SyncGroup(context.Background(), SyncRequest{Group: "g", Generation: 1, MemberID: j.MemberID,
			Assignments: map[string][]byte{j.MemberID: []byte("a")}})
	}()
	eventually(t, "the sync waiting for the assignment's record", func() bool { return log.waiters() == 1 })
	if n := len(logRecords(log)); n != 1 {
		t.Fatalf("log holds %d records, want the group's", n)
	}
	select {
	case r := <-synced:
		t.Fatalf("SyncGroup answered %+v before the assignment was committed", r)
	default:
	}
	// A heartbeat meanwhile takes the group's lock and waits too.
	hb := make(chan int16, 1)
	go func() { hb <- c.Heartbeat("g", 1, j.MemberID, nil) }()
	eventually(t, "the heartbeat waiting", func() bool { return log.waiters() == 2 })
	log.release(1)
	if s := <-synced; s.Err != 0 || string(s.Assignment) != "a" {
		t.Fatalf("sync: %+v", s)
	}
	if code := <-hb; code != 0 {
		t.Fatalf("heartbeat: %v", kerr.ErrorForCode(code))
	}
}

// TestLoadAboveHighWatermark: a coordinator that takes over a partition
// whose last records are above its high watermark (a new leader's, not
// all replicated yet) loads them, as Kafka's loader reads to the log end:
// OffsetFetch answers the last committed offset until the high watermark
// passes the later one, and the group's next answer waits for it.
func TestLoadAboveHighWatermark(t *testing.T) {
	c, log := heldEnv(t)
	first, second := commitAsync(c, 5), (chan string)(nil)
	eventually(t, "the first commit waiting", func() bool { return log.waiters() == 1 })
	second = commitAsync(c, 7)
	eventually(t, "the second commit waiting", func() bool { return log.waiters() == 2 })
	log.release(1)
	<-first
	c.Close()
	<-second // the coordinator closed under it; its record stays in the log

	c2 := New(Config{InitialRebalanceDelay: -1, MinSessionTimeout: time.Millisecond, RetentionCheckInterval: time.Hour})
	t.Cleanup(c2.Close)
	if err := c2.Sync(1, map[int32]Log{0: log}); err != nil {
		t.Fatal(err)
	}
	if got := fetched(t, c2); got != 5 {
		t.Fatalf("fetched %d after the load with the record of 7 above the high watermark, want 5", got)
	}
	hb := make(chan int16, 1)
	go func() {
		code, _ := c2.CommitOffsets(CommitRequest{Group: "g", Generation: -1}) // nothing to write
		hb <- code
	}()
	eventually(t, "an answer of the group waiting for its loaded record", func() bool { return log.waiters() == 1 })
	log.release(2)
	if code := <-hb; code != 0 {
		t.Fatalf("empty commit: %v", kerr.ErrorForCode(code))
	}
	if got := fetched(t, c2); got != 7 {
		t.Fatalf("fetched %d with the record of 7 committed, want 7", got)
	}
}

// TestDescribeWaitsForCommit: DescribeGroup and ListGroups of a group
// whose SyncGroup record (its Stable state, the assignment) is not
// committed yet answer only once it is, and then with the state the
// record holds; when it cannot be committed they answer the write's code
// (NOT_COORDINATOR after the leadership went) and never the state.
func TestDescribeWaitsForCommit(t *testing.T) {
	for _, fail := range []bool{false, true} {
		c, log := heldEnv(t)
		j := c.JoinGroup(context.Background(), JoinRequest{Group: "g", ClientID: "c", SessionTimeout: time.Minute,
			ProtocolType: "consumer", Protocols: []Protocol{{Name: "range", Metadata: []byte{1}}}})
		go c.SyncGroup(context.Background(), SyncRequest{Group: "g", Generation: 1, MemberID: j.MemberID,
			Assignments: map[string][]byte{j.MemberID: []byte("a")}})
		eventually(t, "the sync waiting", func() bool { return log.waiters() == 1 })
		described := make(chan Description, 1)
		go func() { described <- c.DescribeGroup("g") }()
		type listing struct {
			l    []Listing
			code int16
		}
		listed := make(chan listing, 1)
		go func() {
			l, code := c.ListGroups(nil, nil)
			listed <- listing{l, code}
		}()
		eventually(t, "describe and list waiting", func() bool { return log.waiters() == 3 })
		select {
		case d := <-described:
			t.Fatalf("DescribeGroup answered %+v before the group's record was committed", d)
		default:
		}
		if fail {
			log.failWaits(fmt.Errorf("lost: %w", kerr.NotLeaderForPartition))
			if d := <-described; d.Err != kerr.NotCoordinator.Code || d.State != "" || len(d.Members) != 0 {
				t.Fatalf("describe after a failed commit: %+v", d)
			}
			if l := <-listed; l.code != kerr.NotCoordinator.Code || len(l.l) != 0 {
				t.Fatalf("list after a failed commit: %+v", l)
			}
			continue
		}
		log.release(-1)
		if d := <-described; d.Err != 0 || d.State != "Stable" || len(d.Members) != 1 || string(d.Members[0].Assignment) != "a" {
			t.Fatalf("describe: %+v", d)
		}
		if l := <-listed; l.code != 0 || len(l.l) != 1 || l.l[0].State != "Stable" {
			t.Fatalf("list: %+v", l)
		}
	}
}
