package group

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestCloseLeavesNothingRunning: Close answers a JoinGroup parked in the
// initial rebalance delay, stops the timers and the expiry goroutine, and
// leaves no goroutine of this package behind.
func TestCloseLeavesNothingRunning(t *testing.T) {
	c := New(Config{InitialRebalanceDelay: 10 * time.Second, MinSessionTimeout: time.Millisecond, RetentionCheckInterval: time.Millisecond})
	if err := c.Sync(1, map[int32]Log{0: &memoryLog{}}); err != nil {
		t.Fatal(err)
	}
	joined := make(chan JoinResult)
	go func() {
		joined <- c.JoinGroup(context.Background(), JoinRequest{
			Group: "g", ProtocolType: "consumer", Protocols: []Protocol{{Name: "range"}},
			SessionTimeout: time.Second, RebalanceTimeout: 20 * time.Second,
		})
	}()
	inst := "static"
	hb := c.ConsumerGroupHeartbeat(ConsumerHeartbeat{Group: "h", MemberID: "m", InstanceID: &inst, RebalanceTimeout: time.Second,
		SubscribedTopics: []string{"t"}, Owned: map[[16]byte][]int32{}, Topics: map[string]TopicInfo{"t": topicT}})
	if hb.Err != 0 {
		t.Fatalf("consumer heartbeat: %v", kerr.ErrorForCode(hb.Err))
	}
	time.Sleep(20 * time.Millisecond) // let the join park
	c.Close()
	if r := <-joined; r.Err != kerr.NotCoordinator.Code {
		t.Fatalf("parked join answered %v", kerr.ErrorForCode(r.Err))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "internal/group.(*") && !strings.Contains(g, "TestCloseLeavesNothingRunning") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Close:\n%s", strings.Join(leaked, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
