package storage

import (
	"errors"
	"fmt"
	"testing"
)

// leaderBatches returns batches as a leader's log holds them: n batches of
// 1-3 records at the given base offsets (gaps where a compacted leader has
// them).
func leaderBatches(bases []int64, tag string) [][]byte {
	var out [][]byte
	for i, base := range bases {
		out = append(out, withOffset(makeBatch(1+i%3, 1000+int64(i), fmt.Sprint(tag, i)), base))
	}
	return out
}

func concat(bs [][]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// appendFollower appends bs in calls of per batches and checks each result.
func appendFollower(t *testing.T, l *Log, bs [][]byte, per int) {
	t.Helper()
	for i := 0; i < len(bs); i += per {
		chunk := bs[i:min(i+per, len(bs))]
		h, _ := parseHeader(chunk[len(chunk)-1])
		res, err := l.AppendAsFollower(concat(chunk))
		if err != nil {
			t.Fatalf("append at %d: %v", baseOf(chunk[0]), err)
		}
		if res.FirstOffset != baseOf(chunk[0]) || res.LastOffset != h.LastOffset() {
			t.Fatalf("appended [%d, %d], want [%d, %d]", res.FirstOffset, res.LastOffset, baseOf(chunk[0]), h.LastOffset())
		}
		if l.LogEndOffset() != h.LastOffset()+1 {
			t.Fatalf("LEO %d after a batch ending at %d", l.LogEndOffset(), h.LastOffset())
		}
	}
}

// TestAppendAsFollower: the leader's batches are stored with their offsets,
// gaps included, across segment rolls, and read back byte for byte.
func TestAppendAsFollower(t *testing.T) {
	e := newEnv(t)
	l := e.open(tinySegments())
	// Batches of 1, 2, 3, 1, ... records; gaps at 3..9, 13..19, 26..999, 1001..1002, 1008..1009.
	bases := []int64{0, 1, 10, 20, 21, 23, 1000, 1003, 1005, 1010, 1011, 1013}
	want := leaderBatches(bases, "f")
	appendFollower(t, l, want[:5], 2)
	appendFollower(t, l, want[5:], 3)
	if got := len(segmentBases(l)); got < 2 {
		t.Fatalf("%d segments: the test means to roll", got)
	}
	sameBatches(t, "read back", readAll(t, l), want)
	// A read inside a gap gets the next batch, as from a compacted log.
	for off, base := range map[int64]int64{5: 10, 100: 1000, 1008: 1010} {
		b, err := l.Read(off, 1, l.LogEndOffset())
		if err != nil || len(b) == 0 || baseOf(b) != base {
			t.Fatalf("read at %d: %v, first batch %d, want %d", off, err, baseOf(b), base)
		}
	}
	// A leader's append goes on at the log end offset.
	res := mustAppend(t, l, makeBatch(2, 5000, "leader"))
	if res.FirstOffset != 1016 || res.LastOffset != 1017 {
		t.Fatalf("leader append at [%d, %d], want [1016, 1017]", res.FirstOffset, res.LastOffset)
	}
}

// TestAppendAsFollowerRefused: a batch below the log end offset, or one that
// overlaps the batch before it in the same append, is refused and nothing of
// that append is written.
func TestAppendAsFollowerRefused(t *testing.T) {
	e := newEnv(t)
	l := e.open(tinySegments())
	stored := leaderBatches([]int64{0, 1, 3}, "s") // offsets 0, 1-2, 3-5
	appendFollower(t, l, stored, 3)
	for name, bs := range map[string][][]byte{
		"below the log end":       leaderBatches([]int64{5}, "x"),
		"at the log start":        leaderBatches([]int64{0}, "x"),
		"overlapping":             leaderBatches([]int64{6, 6}, "x"),              // second starts inside the first
		"overlapping a later one": leaderBatches([]int64{6, 7, 8}, "x"),           // 7-8 then 8
		"going back":              leaderBatches([]int64{10, 20, 15}, "x"),        // 15 after 20
		"valid then below":        {leaderBatches([]int64{6}, "x")[0], stored[0]}, // 6, then 0
	} {
		_, err := l.AppendAsFollower(concat(bs))
		if !errors.Is(err, ErrOffsetOrder) {
			t.Fatalf("%s: %v, want ErrOffsetOrder", name, err)
		}
		if l.LogEndOffset() != 6 {
			t.Fatalf("%s: LEO %d after a refused append, want 6", name, l.LogEndOffset())
		}
	}
	if _, err := l.AppendAsFollower(nil); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("empty append: %v", err)
	}
	sameBatches(t, "after refusals", readAll(t, l), stored)
	// The log still takes the next batch in order.
	appendFollower(t, l, leaderBatches([]int64{6}, "n"), 1)
}

// TestAppendAsFollowerCrash: a follower's log with gaps recovers after a
// power loss to what was flushed, with its offsets, and after a clean restart
// to everything; it goes on appending after both.
func TestAppendAsFollowerCrash(t *testing.T) {
	e := newEnv(t)
	l := e.open(tinySegments())
	bs := leaderBatches([]int64{0, 5, 7, 40, 41, 43, 90, 200, 210, 213, 300, 302}, "c")
	appendFollower(t, l, bs[:8], 4)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	appendFollower(t, l, bs[8:], 4) // not flushed: lost in the power loss
	powerLoss(e)
	l = e.open(tinySegments())
	if l.LogEndOffset() != 202 {
		t.Fatalf("LEO %d after power loss, want 202", l.LogEndOffset())
	}
	sameBatches(t, "after power loss", readAll(t, l), bs[:8])
	appendFollower(t, l, bs[8:], 2)
	e.reopenManager()
	l = e.open(tinySegments())
	sameBatches(t, "after restart", readAll(t, l), bs)
	if l.LogEndOffset() != 305 {
		t.Fatalf("LEO %d after restart, want 305", l.LogEndOffset())
	}
	appendFollower(t, l, leaderBatches([]int64{400}, "r"), 1)
}

// tinySegments rolls every few batches.
func tinySegments() Config {
	c := smallConfig()
	c.SegmentBytes = 300
	return c
}
