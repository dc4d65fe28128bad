package quorum

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/quorum/walfault"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// TestDiskFullRecovers is issue 9's jammed quorum: after the disk filled
// during metadata writes, raft logged "failed to commit logs: segment is
// sealed" forever and every change failed until a restart, even after space
// was freed. Now changes fail with KAFKA_STORAGE_ERROR while the disk is full,
// the image keeps serving, and the quorum writes again by itself once space
// returns — for each way raft-wal meets a full disk.
func TestDiskFullRecovers(t *testing.T) {
	dir := t.TempDir()
	d := walfault.New()
	var logs lockedBuffer
	cfg := Config{Dir: dir, NodeID: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		WALFS: d, wrapMeta: d.Meta, Liveness: fakeBrokers}
	c, err := openReady(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close() }()
	register(t, c, 1)
	if _, err := c.CreateTopic(ctx(t), "before", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	lastPID, err := c.AllocateProducerIDs(ctx(t), 1000)
	if err != nil {
		t.Fatal(err)
	}

	// A megabyte of configs per record fills a 4 MiB segment in a few.
	value := strings.Repeat("v", 1<<20)
	n := 0
	bigWrite := func() error {
		n++
		return c.AlterBrokerConfigs(ctx(t), map[string]string{fmt.Sprintf("big-%d", n%8): value}, nil)
	}
	wantStorageError := func(err error) {
		t.Helper()
		wantKerr(t, err, kerr.KafkaStorageError)
		if !strings.Contains(err.Error(), "metadata log cannot be written") {
			t.Fatalf("message %q", err)
		}
	}
	// jam writes until one fails, then checks that changes keep failing
	// while the disk stays full and that the image still answers.
	jam := func(what string) {
		t.Helper()
		failures := d.Failures()
		var err error
		for range 16 {
			if err = bigWrite(); err != nil {
				break
			}
		}
		if err == nil || d.Failures() == failures {
			t.Fatalf("%s: writes did not fail (%v)", what, err)
		}
		wantStorageError(err)
		deadline := time.Now().Add(time.Second) // past retries at 0.1, 0.3 and 0.7 s
		for time.Now().Before(deadline) {
			_, err := c.CreateTopic(ctx(t), "during", 1, 1, nil)
			wantStorageError(err)
			_, err = c.AllocateProducerIDs(ctx(t), 1000)
			wantStorageError(err)
			time.Sleep(50 * time.Millisecond)
		}
		if c.Image().Topics["before"] == nil {
			t.Fatalf("%s: image lost a topic", what)
		}
	}
	// freed waits for the quorum to take changes again, with no restart.
	freed := func(what, topic string) {
		t.Helper()
		start := time.Now()
		for {
			_, err := c.CreateTopic(ctx(t), topic, 1, 1, nil)
			if err == nil {
				break
			}
			var ke *kerr.Error
			if !errors.As(err, &ke) || ke != kerr.KafkaStorageError || time.Since(start) > 15*time.Second {
				t.Fatalf("%s: after space returned: %v (%v)", what, err, time.Since(start))
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: writable again %v after space returned", what, time.Since(start).Round(time.Millisecond))
		pid, err := c.AllocateProducerIDs(ctx(t), 1000)
		if err != nil || pid < lastPID+1000 {
			t.Fatalf("%s: producer IDs after recovery: %d, %v (last block %d)", what, pid, err, lastPID)
		}
		lastPID = pid
		if err := bigWrite(); err != nil {
			t.Fatalf("%s: big write after recovery: %v", what, err)
		}
	}

	// The segment fills and its successor cannot be preallocated: raft-wal's
	// rotation fails and the sealed segment stays the tail.
	d.NoCreate.Store(true)
	jam("no space for a new segment")
	d.NoCreate.Store(false)
	freed("no space for a new segment", "after-create")

	// The rotation's segment-list commit fails: reopened as is, raft-wal
	// would take the sealed segment for the tail again.
	d.NoCommit.Store(true)
	jam("segment list commit fails")
	d.NoCommit.Store(false)
	freed("segment list commit fails", "after-commit")

	// Every write fails.
	d.Full.Store(true)
	jam("disk full")
	d.Full.Store(false)
	freed("disk full", "after-full")

	if got := logs.count("metadata changes fail with KAFKA_STORAGE_ERROR"); got != 3 {
		t.Errorf("%d failure reports logged, want one per failure (3)", got)
	}
	t.Log(logs.buf.String())
	t.Logf("%d injected ENOSPC; raft logged %q %d times", d.Failures(), "failed to commit logs", logs.count("failed to commit logs"))

	want := c.Image()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = openReady(Config{Dir: dir, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Image()
	for _, name := range []string{"before", "after-create", "after-commit", "after-full"} {
		if got.Topics[name] == nil || got.Topics[name].ID != want.Topics[name].ID {
			t.Errorf("after restart: topic %s %+v", name, got.Topics[name])
		}
	}
	if got.Topics["during"] != nil || got.Index < want.Index {
		t.Errorf("after restart: index %d (want >= %d), during %+v", got.Index, want.Index, got.Topics["during"])
	}
	if pid, err := c.AllocateProducerIDs(ctx(t), 1000); err != nil || pid < lastPID+1000 {
		t.Fatalf("producer IDs after restart: %d, %v", pid, err)
	}
}

// TestDiskFullRestart stops a node while its log cannot be written, after a
// rotation sealed a segment without committing the segment list (as a crash
// at that point also leaves it): raft-wal v0.4.0 reopens the sealed segment
// as the tail and refuses every append, so the next start could never write.
func TestDiskFullRestart(t *testing.T) {
	dir := t.TempDir()
	d := walfault.New()
	c, err := openReady(Config{Dir: dir, NodeID: 1, WALFS: d, wrapMeta: d.Meta})
	if err != nil {
		t.Fatal(err)
	}
	register(t, c, 1)
	d.NoCommit.Store(true)
	value := strings.Repeat("v", 1<<20)
	for i := 0; ; i++ {
		err := c.AlterBrokerConfigs(ctx(t), map[string]string{fmt.Sprintf("big-%d", i%8): value}, nil)
		if err != nil {
			wantKerr(t, err, kerr.KafkaStorageError)
			break
		}
		if i == 16 {
			t.Fatal("writes did not fail")
		}
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close while failing took %v", time.Since(start))

	c = open(t, dir)
	defer c.Close()
	if _, err := c.CreateTopic(ctx(t), "after", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AllocateProducerIDs(ctx(t), 1000); err != nil {
		t.Fatal(err)
	}
}
