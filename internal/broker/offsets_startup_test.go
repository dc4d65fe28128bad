package broker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestMeasureOffsetsStartup measures how long a broker takes to start after
// a million offset commits, with __consumer_offsets compacted by the cleaner
// and, for comparison, with the cleaner off. Run with SAMSA_MEASURE=1 -v.
func TestMeasureOffsetsStartup(t *testing.T) {
	if os.Getenv("SAMSA_MEASURE") == "" {
		t.Skip("set SAMSA_MEASURE=1 to measure")
	}
	for _, cleaner := range []string{"true", "false"} {
		static := map[string]string{
			"log.cleaner.enable":               cleaner,
			"log.cleaner.backoff.ms":           "100",
			"offsets.topic.num.partitions":     "4",
			"offsets.topic.segment.bytes":      "1048576",
			"group.initial.rebalance.delay.ms": "0",
		}
		tb := startBroker(t, "", static)
		adm := tb.admin()
		createTopic(t, adm, "measured", 100, nil)
		const commits, workers = 1_000_000, 16
		per := commits / workers / 100
		var wg sync.WaitGroup
		start := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				group := "g" + string(rune('a'+w))
				for i := range per {
					offs := kadm.Offsets{}
					for p := range int32(100) {
						offs.Add(kadm.Offset{Topic: "measured", Partition: p, At: int64(i)})
					}
					if _, err := adm.CommitOffsets(context.Background(), group, offs); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("cleaner=%s: %d offset commits in %v", cleaner, commits, time.Since(start))
		if cleaner == "true" {
			time.Sleep(5 * time.Second) // let the cleaner catch up
		}
		size := dirSize(t, tb.dir)
		if err := tb.Close(); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		tb = startBroker(t, tb.dir, static)
		fetched, err := tb.admin().FetchOffsets(ctxT(t), "ga")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := fetched.Lookup("measured", 7)
		t.Logf("cleaner=%s: __consumer_offsets %.1f MB on disk; restart until offsets served: %v (ga measured/7 at %d)", cleaner, float64(size)/1e6, time.Since(start), o.At)
		tb.Close()
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(filepath.Base(filepath.Dir(path)), "__consumer_offsets-") {
			n += info.Size()
		}
		return nil
	})
	return n
}
