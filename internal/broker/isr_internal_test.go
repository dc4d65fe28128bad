package broker

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestISRShrinkAndExpand: three combined nodes, a topic of one partition
// with three replicas and min.insync.replicas=2, replica.lag.time.max.ms
// 2000 and a broker session of a minute. A follower's replica fetcher
// stops (its node keeps heartbeating, so the controller does not fence it: the
// shrink can only be the leader's AlterPartition): an acks=all produce
// succeeds once the ISR the controller serves has shrunk to the two
// others, the stopped node still unfenced. It restarts: it catches up, the leader's
// fetch-driven AlterPartition puts it back in the ISR, and all three logs
// hold the same bytes, exactly the records produced.
func TestISRShrinkAndExpand(t *testing.T) {
	c := startRF3(t, "isr")
	brokers, cfgs, ctx, adm, produce := c.brokers, c.cfgs, c.ctx, c.adm, c.produce
	produce(0, 10)
	leader, follower := c.leaderAndFollower()
	stopped := int32(follower + 1)
	waitISR := func(want []int32) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			md, err := adm.Metadata(ctx, "isr")
			var isr []int32
			if err == nil {
				isr = slices.Clone(md.Topics["isr"].Partitions[0].ISR)
				slices.Sort(isr)
				if slices.Equal(isr, want) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("ISR %v (%v), want %v", isr, err, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	others := []int32{1, 2, 3}
	others = slices.DeleteFunc(others, func(id int32) bool { return id == stopped })

	// Closed, not Unfollow: a metadata delta could make it follow again.
	brokers[follower].fetchers.Close()
	// At the leader's log end the stopped follower is still caught up
	// (Kafka's isCaughtUp): the next records leave it behind, and the
	// acks=all produce waits for the high watermark until it is out.
	produce(10, 20)
	waitISR(others)
	if br := brokers[leader].controller.Image().Brokers[stopped]; br.Fenced {
		t.Fatalf("node %d was fenced: the ISR shrink is not shown to be the leader's", stopped)
	}

	if err := brokers[follower].Close(); err != nil {
		t.Fatalf("close node %d: %v", stopped, err)
	}
	restarted, err := Start(cfgs[follower])
	if err != nil {
		t.Fatalf("restart node %d: %v", stopped, err)
	}
	brokers[follower] = restarted // the cleanup closes it
	waitISR([]int32{1, 2, 3})
	produce(20, 30)

	deadline := time.Now().Add(20 * time.Second)
	for {
		var ends []int64
		for _, b := range brokers {
			ends = append(ends, b.partitions.Get("isr", 0).LogEndOffset())
		}
		if ends[0] == 30 && ends[1] == 30 && ends[2] == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log ends %v, want 30 on all", ends)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := logBytes(t, filepath.Join(cfgs[leader].DataDir, "isr-0"))
	for i := range brokers {
		if got := logBytes(t, filepath.Join(cfgs[i].DataDir, "isr-0")); !bytes.Equal(got, want) {
			t.Fatalf("node %d's log (%d bytes) differs from the leader's (%d bytes)", i+1, len(got), len(want))
		}
	}
	var values, expect []string
	if err := batch.Iterate(want, func(_ batch.Header, raw []byte) bool {
		recs, err := batch.Records(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			values = append(values, string(r.Value))
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		expect = append(expect, fmt.Sprint("v", i))
	}
	if !slices.Equal(values, expect) {
		t.Fatalf("the log holds %v, want %v", values, expect)
	}
}
