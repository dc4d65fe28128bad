package broker_test

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// segments lists the .log files of topic-partition in dir, sorted.
func segments(t *testing.T, dir, topic string, partition int) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, topic+"-"+strconv.Itoa(partition), "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func TestRetentionRemovesOldSegments(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"log.retention.check.interval.ms": "50"})
	createTopic(t, tb.admin(), "ret", 1, map[string]*string{
		"segment.bytes":   strp("2000"),
		"retention.bytes": strp("6000"),
	})
	cl := tb.client(kgo.DefaultProduceTopic("ret"), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 500)
	for i := range 60 {
		value[0] = byte(i)
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		segs := segments(t, tb.dir, "ret", 0)
		start, err := tb.admin().ListStartOffsets(ctxT(t), "ret")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := start.Lookup("ret", 0)
		if len(segs) <= 5 && s.Offset > 0 {
			// The log keeps at most retention.bytes plus the active segment,
			// and consuming from the start begins at the new log start.
			got := consumeAll(t, tb, "ret", int(60-s.Offset))
			if got[0].Offset != s.Offset || got[0].Value[0] != byte(s.Offset) {
				t.Fatalf("first record offset %d value %d, log start %d", got[0].Offset, got[0].Value[0], s.Offset)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not run: %d segments, log start %d", len(segs), s.Offset)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRecoversFromGarbageTail appends garbage and a torn batch to the active
// segment of a stopped broker, as a crash mid-write would leave it, and checks
// that a restart truncates to the last whole batch and carries on.
func TestRecoversFromGarbageTail(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "torn", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("torn"))
	for i := range 20 {
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segments(t, tb.dir, "torn", 0)
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A batch header claiming 500 bytes that never arrived, then garbage.
	torn := []byte{0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 1, 244, 0, 0, 0, 0, 2, 9, 9, 9}
	if _, err := f.Write(append(torn, []byte("garbage garbage garbage")...)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A crash leaves no clean-shutdown mark in the data directory: remove it
	// so that start-up must scan.
	if err := os.Remove(filepath.Join(tb.dir, ".clean-shutdown")); err != nil {
		t.Fatal(err)
	}

	tb = startBroker(t, tb.dir, nil)
	cl = tb.client(kgo.DefaultProduceTopic("torn"))
	if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("20")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, tb, "torn", 21)
	for i, r := range got {
		if r.Offset != int64(i) || string(r.Value) != strconv.Itoa(i) {
			t.Fatalf("record %d: offset %d value %q", i, r.Offset, r.Value)
		}
	}
}
