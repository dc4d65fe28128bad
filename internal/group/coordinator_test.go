package group

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestPartitionForMatchesJava(t *testing.T) {
	for _, tc := range []struct {
		group string
		n     int32
		want  int32
	}{
		{"", 50, 0},
		{"a", 50, 47},                 // "a".hashCode() = 97
		{"hello", 50, 22},             // 99162322
		{"polygenelubricants", 50, 0}, // hashCode() = Integer.MIN_VALUE, abs -> 0
		{"Aa", 7, 2112 % 7},           // "Aa" and "BB" collide in Java
		{"BB", 7, 2112 % 7},
		{"hello", 0, 0},
	} {
		if got := PartitionFor(tc.group, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.group, tc.n, got, tc.want)
		}
	}
	// Negative hash codes: "groupé" mixes non-ASCII and overflows.
	for _, g := range []string{"consumer-group-with-a-long-name", "groupé", "😀"} {
		if p := PartitionFor(g, 50); p < 0 || p >= 50 {
			t.Errorf("PartitionFor(%q) = %d out of range", g, p)
		}
	}
}

// TestNotCoordinator: groups of partitions this broker does not lead get
// NOT_COORDINATOR; unloading a partition answers its waiting joins with
// NOT_COORDINATOR and loading it again restores its groups.
func TestNotCoordinator(t *testing.T) {
	clock := newFakeClock()
	c := New(Config{MinSessionTimeout: time.Millisecond, Clock: clock})
	defer c.Close()
	logs := map[int32]Log{0: &memoryLog{}, 1: &memoryLog{}}
	if err := c.Sync(2, map[int32]Log{0: logs[0]}); err != nil {
		t.Fatal(err)
	}
	var led, other string
	for _, g := range []string{"a", "b", "c", "d"} {
		if PartitionFor(g, 2) == 0 {
			led = g
		} else {
			other = g
		}
	}
	if code := c.Heartbeat(other, 1, "m", nil); code != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat of a group elsewhere: %v", kerr.ErrorForCode(code))
	}
	if _, codes := c.CommitOffsets(CommitRequest{Group: led, Generation: -1, Commits: []Commit{{TopicPartition{"t", 0}, Offset{Offset: 5}}}}); codes[0] != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(codes[0]))
	}

	ctx := context.Background()
	join := JoinRequest{Group: led, ProtocolType: "consumer", Protocols: []Protocol{{Name: "range"}}, SessionTimeout: time.Second, RebalanceTimeout: time.Second, InstanceID: new(string)}
	r := c.JoinGroup(ctx, join) // a static member joins an empty group at once
	if r.Err != 0 || r.Generation != 1 {
		t.Fatalf("join: %+v", r)
	}
	done := make(chan SyncResult, 1)
	go func() {
		done <- c.SyncGroup(ctx, SyncRequest{Group: led, Generation: 2, MemberID: r.MemberID})
	}()
	if err := c.Sync(2, map[int32]Log{1: logs[1]}); err != nil { // leadership moves away
		t.Fatal(err)
	}
	if code := c.Heartbeat(led, r.Generation, r.MemberID, nil); code != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat after unload: %v", kerr.ErrorForCode(code))
	}
	if res := <-done; res.Err != kerr.IllegalGeneration.Code && res.Err != kerr.NotCoordinator.Code {
		t.Fatalf("sync across the unload: %v", kerr.ErrorForCode(res.Err))
	}
	if err := c.Sync(2, logs); err != nil {
		t.Fatal(err)
	}
	offs, code := c.FetchOffsets(led, nil)
	if code != 0 || len(offs) != 1 || offs[0].Offset.Offset != 5 {
		t.Fatalf("offsets after reload: %v %+v", kerr.ErrorForCode(code), offs)
	}
}
