package quorum

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// TestRestart checks that everything survives Close and Open on the same Dir
// and that producer-ID blocks never overlap across restarts.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	register(t, c, 1)
	top, err := c.CreateTopic(ctx(t), "kept", 2, 1, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := c.CreateTopic(ctx(t), "gone", 1, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTopic(ctx(t), gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.AlterBrokerConfigs(ctx(t), map[string]string{"x": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	var blocks []int64
	alloc := func(c *Controller) {
		first, err := c.AllocateProducerIDs(ctx(t), 100)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, first)
	}
	alloc(c)
	alloc(c)
	before := c.Image()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	for round := range 2 {
		c = open(t, dir)
		img := c.Image()
		if img.ClusterID != before.ClusterID || img.Index < before.Index {
			t.Fatalf("round %d: cluster ID %q index %d, want %q %d", round, img.ClusterID, img.Index, before.ClusterID, before.Index)
		}
		kept := img.Topics["kept"]
		if kept == nil || kept.ID != top.ID || len(kept.Partitions) != 2 || kept.Configs["k"] != "v" {
			t.Fatalf("round %d: topic %+v", round, kept)
		}
		if img.Topics["gone"] != nil || img.TopicsByID[gone.ID] != nil || img.Brokers[1].Port != 9093 || img.BrokerConfigs["x"] != "1" {
			t.Fatalf("round %d: image %+v", round, img)
		}
		alloc(c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(blocks); i++ {
		if blocks[i] < blocks[i-1]+100 {
			t.Fatalf("producer-ID blocks overlap: %v", blocks)
		}
	}
}

// TestSnapshotBoundsLog takes snapshots early and checks that a restart from
// snapshot plus log tail restores the same image.
func TestSnapshotBoundsLog(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, NodeID: 1, snapshotThreshold: 16, snapshotInterval: 20 * time.Millisecond}
	c, err := openReady(cfg)
	if err != nil {
		t.Fatal(err)
	}
	register(t, c, 1)
	for i := range 100 {
		if _, err := c.CreateTopic(ctx(t), fmt.Sprintf("t%d", i), 1, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		first, _ := c.log.FirstIndex()
		if first > 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log not compacted: first index %d", first)
		}
		time.Sleep(10 * time.Millisecond)
	}
	want, _ := metadata.EncodeImage(c.Image())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot on disk")
	}
	c, err = openReady(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, _ := metadata.EncodeImage(c.Image())
	if string(got) != string(want) {
		t.Fatalf("after restart:\n%s\nwant:\n%s", got, want)
	}
}

// TestStartupTime reports how long Open takes on a new and on an existing Dir.
func TestStartupTime(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	c, err := openReady(Config{Dir: dir, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	fresh := time.Since(start)
	register(t, c, 1)
	c.Close()
	start = time.Now()
	c, err = openReady(Config{Dir: dir, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	existing := time.Since(start)
	c.Close()
	t.Logf("Open: new dir %v, existing dir %v", fresh, existing)
	if fresh > 2*time.Second || existing > 2*time.Second {
		t.Errorf("slow start-up: new %v, existing %v", fresh, existing)
	}
}

// TestSubscribe checks that subscribers see an initial image and then every
// change, in log order.
func TestSubscribe(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	register(t, c, 1)
	type change struct{ prev, next *metadata.Image }
	var mu sync.Mutex
	var got []change
	cancel := c.Subscribe(func(prev, next *metadata.Image) {
		mu.Lock()
		got = append(got, change{prev, next})
		mu.Unlock()
	})
	for i := range 20 {
		if _, err := c.CreateTopic(ctx(t), fmt.Sprintf("t%d", i), 1, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	final := c.Image()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		last := got[max(n-1, 0)].next
		mu.Unlock()
		if n > 0 && last == final {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriber saw %d changes, not the final image", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(got[0].prev.Topics) != 0 || got[0].next.Brokers[1].ID != 1 {
		t.Fatalf("initial call %+v", got[0])
	}
	for i := 1; i < len(got); i++ {
		if got[i].prev != got[i-1].next || got[i].next.Index <= got[i].prev.Index {
			t.Fatalf("change %d out of order", i)
		}
	}
	if len(got) != 21 || len(final.Topics) != 20 {
		t.Fatalf("%d calls, want 21", len(got))
	}
	if _, err := c.CreateTopic(ctx(t), "after-cancel", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if len(got) != 21 {
		t.Fatal("called after cancel")
	}
}

// TestConcurrentCreate races proposals for the same name: log order picks one.
func TestConcurrentCreate(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	register(t, c, 1)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.CreateTopic(ctx(t), "same", 1, 1, nil) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d creations succeeded: %v", ok, errs)
	}
}

// TestCloseLeaksNoGoroutines opens, uses and closes a controller and checks
// the goroutine count returns to where it was.
func TestCloseLeaksNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	for range 2 {
		c := open(t, dir)
		register(t, c, 1)
		c.Subscribe(func(prev, next *metadata.Image) {})
		if _, err := c.CreateTopic(ctx(t), fmt.Sprintf("t%d", c.Image().Index), 1, 1, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOpenFailsCleanly checks that Open on an unusable Dir returns an error.
func TestOpenFailsCleanly(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openReady(Config{Dir: file, NodeID: 1}); err == nil {
		t.Fatal("Open on a file succeeded")
	}
}

// TestOpenOtherNodeID fails fast when Dir belongs to another node.
func TestOpenOtherNodeID(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	c.Close()
	start := time.Now()
	if _, err := openReady(Config{Dir: dir, NodeID: 2}); err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Open with another node ID: %v after %v", err, time.Since(start))
	} else {
		t.Log(err)
	}
}
