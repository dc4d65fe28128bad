package quorum

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// fsm is raft's state machine: it applies committed records to the image.
// Raft calls Apply, Restore and Snapshot from one goroutine; image is read by
// anyone, so it is an atomic pointer to an immutable image.
type fsm struct {
	image atomic.Pointer[metadata.Image]
	// applied is the Raft index of the last command applied (or of the
	// image a snapshot restored): raft's own AppliedIndex moves when it
	// hands entries to the FSM's goroutine, before they are applied.
	applied  atomic.Uint64
	notifier *notifier
	logger   *slog.Logger
}

var _ raft.FSM = (*fsm)(nil)

func newFSM(n *notifier, logger *slog.Logger) *fsm {
	f := &fsm{notifier: n, logger: logger}
	f.image.Store(metadata.EmptyImage())
	return f
}

// Apply applies one committed log entry and returns a metadata.Result, which
// raft hands to the proposer through ApplyFuture.Response.
func (f *fsm) Apply(l *raft.Log) any {
	defer f.applied.Store(l.Index) // after the image, which readers see first
	if l.Type != raft.LogCommand {
		return metadata.Result{}
	}
	rec, err := metadata.DecodeRecord(l.Data)
	if err != nil {
		// Every replica sees the same bytes and skips them the same way.
		f.logger.Error("quorum: skipping undecodable metadata record", "index", l.Index, "err", err)
		return metadata.Result{Err: kerr.CorruptMessage}
	}
	prev := f.image.Load()
	next, res := prev.Apply(l.Index, rec)
	if next != prev {
		f.image.Store(next)
		f.notifier.publish(prev, next)
	}
	return res
}

// Snapshot captures the current image; encoding happens in Persist, off the
// FSM goroutine, which is safe because images are immutable.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return imageSnapshot{f.image.Load()}, nil
}

// Restore replaces the image with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("quorum: read snapshot: %w", err)
	}
	img, err := metadata.DecodeImage(b)
	if err != nil {
		return fmt.Errorf("quorum: restore snapshot: %w", err)
	}
	prev := f.image.Swap(img)
	f.applied.Store(max(f.applied.Load(), img.Index))
	f.notifier.publish(prev, img)
	return nil
}

type imageSnapshot struct{ image *metadata.Image }

func (s imageSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := metadata.EncodeImage(s.image)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("quorum: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (imageSnapshot) Release() {}
