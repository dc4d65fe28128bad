package quorum

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// Backoff between attempts to write the metadata log again after a failure.
const (
	minLogRetry = 100 * time.Millisecond
	maxLogRetry = 2 * time.Second
)

// logStore is raft's LogStore and StableStore: a raft-wal WAL that recovers
// from failed writes by itself.
//
// raft-wal does not: in v0.4.0 a write that fails (ENOSPC, EIO) left the
// segment writer's in-memory index ahead of the file (v0.4.1 rolls that
// back), and in v0.4.1 still a segment sealed whose successor could not be
// created (the disk full at rotation) stays the tail, so every later append fails with "segment is sealed" until the
// process restarts — and if the rotation's metadata commit failed, even a
// restart recovers the sealed segment as the tail. raft steps down on every
// failed write and tries again after its next election, forever.
//
// So after a failed write, the next write (raft's no-op after it re-elects
// itself, one per backoff: 100 ms doubling to 2 s) first reopens the WAL from
// its files: completing a rotation that sealed a segment but did not get to
// create the next one (repairSealedTail), dropping entries written past the
// last commit, and creating the missing tail segment. Until that succeeds,
// writes fail with a *logWriteError and the controller answers
// KAFKA_STORAGE_ERROR; the image, and so every partition, keeps serving.
// Reads go on against the old WAL while a new one is being opened.
//
// The stable store (raft's term and vote, raft-wal's bolt file) is passed
// through: raft panics when it cannot save its term, and we cannot retry
// under it without stalling its main loop. It rewrites a few small keys in
// place, which in practice keeps working on a full disk (the issue saw
// thousands of elections succeed while the log was jammed).
type logStore struct {
	dir    string
	vfs    types.VFS
	meta   types.MetaStore
	hl     hclog.Logger
	logger *slog.Logger

	mu      sync.RWMutex // writers hold it exclusively, readers shared
	w       *wal.WAL
	failure error         // the failed write not yet recovered from
	since   time.Time     // when failure began
	retryAt time.Time     // when the next write may reopen the WAL
	backoff time.Duration // the current wait between attempts
	failing atomic.Bool   // failure != nil, for propose's lock-free check

	closed    chan struct{}
	closeOnce sync.Once
	shut      bool // Close closed w; under mu
}

var (
	_ raft.LogStore          = (*logStore)(nil)
	_ raft.StableStore       = (*logStore)(nil)
	_ raft.MonotonicLogStore = (*logStore)(nil)
)

// logWriteError is a write to the metadata log that failed, or was refused
// because an earlier failure is not recovered from yet.
type logWriteError struct{ err error }

func (e *logWriteError) Error() string { return "metadata log write failed: " + e.err.Error() }
func (e *logWriteError) Unwrap() error { return e.err }

// openLogStore opens the WAL in dir (segment files through vfs).
func openLogStore(dir string, vfs types.VFS, meta types.MetaStore, hl hclog.Logger, logger *slog.Logger) (*logStore, error) {
	s := &logStore{dir: dir, vfs: vfs, meta: meta, hl: hl, logger: logger, closed: make(chan struct{})}
	w, err := s.open()
	if err != nil {
		return nil, err
	}
	s.w = w
	return s, nil
}

func (s *logStore) open() (*wal.WAL, error) {
	if err := repairSealedTail(s.dir, s.vfs, s.meta); err != nil {
		return nil, err
	}
	return wal.Open(s.dir, wal.WithLogger(s.hl), wal.WithMetaStore(sharedMeta{s.meta}),
		wal.WithSegmentFiler(segment.NewFiler(s.dir, s.vfs)), wal.WithSegmentSize(walSegmentSize))
}

// sharedMeta is the meta store as a WAL gets it: raft-wal v0.4.1's Close
// closes its meta store, but recoverLocked opens the new WAL on the same one
// before it closes the old WAL, and the controller closes it last.
type sharedMeta struct{ types.MetaStore }

func (sharedMeta) Close() error { return nil }

// repairSealedTail completes a segment rotation that sealed the tail segment
// but failed (or crashed) before its metadata commit: raft-wal would recover
// that segment as the tail and refuse every append to it. It does what the
// rotation would have: mark it sealed and list a new, empty tail, which
// wal.Open then creates.
func repairSealedTail(dir string, vfs types.VFS, meta types.MetaStore) error {
	st, err := meta.Load(dir)
	if err != nil || len(st.Segments) == 0 {
		return err
	}
	tail := st.Segments[len(st.Segments)-1]
	if !tail.SealTime.IsZero() {
		return nil
	}
	sw, err := segment.NewFiler(dir, vfs).RecoverTail(tail)
	if errors.Is(err, os.ErrNotExist) {
		return nil // wal.Open creates it
	}
	if err != nil {
		return err
	}
	sealed, indexStart, err := sw.Sealed()
	last := sw.LastIndex()
	if cerr := sw.Close(); err == nil {
		err = cerr
	}
	if err != nil || !sealed {
		return err
	}
	now := time.Now()
	tail.SealTime, tail.MaxIndex, tail.IndexStart = now, last, indexStart
	st.Segments[len(st.Segments)-1] = tail
	st.Segments = append(st.Segments, types.SegmentInfo{
		ID: st.NextSegmentID, BaseIndex: last + 1, MinIndex: last + 1,
		SizeLimit: walSegmentSize, Codec: wal.CodecBinaryV1, CreateTime: now,
	})
	st.NextSegmentID++
	return meta.CommitState(st)
}

// writable returns the write failure not yet recovered from, or nil.
func (s *logStore) writable() error {
	if !s.failing.Load() {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failure == nil {
		return nil
	}
	return &logWriteError{s.failure}
}

// recoverLocked reopens the WAL after a failed write, once the backoff has
// passed, so that the write about to be tried starts from the files rather
// than from a writer a failed write left inconsistent. It is called with mu
// held and may release it while waiting.
func (s *logStore) recoverLocked() error {
	if s.failure == nil {
		return nil
	}
	if wait := time.Until(s.retryAt); wait > 0 {
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.closed:
			t.Stop()
		}
		s.mu.Lock()
		if s.failure == nil {
			return nil
		}
	}
	select {
	case <-s.closed:
		return &logWriteError{wal.ErrClosed}
	default:
	}
	w, err := s.open()
	if err != nil {
		s.failLocked(err)
		return &logWriteError{err}
	}
	old := s.w
	s.w = w
	if err := old.Close(); err != nil {
		s.logger.Warn("quorum: closing the metadata log after a failed write", "err", err)
	}
	// Recovered only once a write succeeds (see succeededLocked): the files
	// may reopen fine on a disk that is still full.
	return nil
}

// succeededLocked ends a run of failures after a write went through.
func (s *logStore) succeededLocked() {
	if s.failure == nil {
		return
	}
	s.logger.Warn("quorum: metadata log writable again", "dir", s.dir, "after", time.Since(s.since).Round(time.Millisecond), "failure", s.failure)
	s.failure = nil
	s.failing.Store(false)
}

// failLocked records a failed write and when to try again. The first
// failure of a run is logged; the ones until recovery are not.
func (s *logStore) failLocked(err error) {
	if s.failure == nil {
		s.since, s.backoff = time.Now(), minLogRetry
		s.logger.Error("quorum: metadata log write failed; metadata changes fail with KAFKA_STORAGE_ERROR until it is written again (retrying, up to every "+maxLogRetry.String()+")",
			"dir", s.dir, "err", err)
	} else {
		s.backoff = min(2*s.backoff, maxLogRetry)
	}
	s.failure = err
	s.retryAt = time.Now().Add(s.backoff)
	s.failing.Store(true)
}

func (s *logStore) FirstIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.FirstIndex()
}

func (s *logStore) LastIndex() (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.LastIndex()
}

func (s *logStore) GetLog(index uint64, l *raft.Log) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.GetLog(index, l)
}

func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.recoverLocked(); err != nil {
		return err
	}
	// A failed write may still have reached the file whole (the sync, not
	// the write, failed), and the reopened WAL then holds entries raft was
	// told were never written and now writes again: drop them first.
	if last, err := s.w.LastIndex(); err == nil && last >= logs[0].Index {
		if err := s.w.DeleteRange(logs[0].Index, last); err != nil {
			s.failLocked(err)
			return &logWriteError{err}
		}
	}
	if err := s.w.StoreLogs(logs); err != nil {
		s.failLocked(err)
		return &logWriteError{err}
	}
	s.succeededLocked()
	return nil
}

func (s *logStore) DeleteRange(min, max uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.recoverLocked(); err != nil {
		return err
	}
	if err := s.w.DeleteRange(min, max); err != nil {
		s.failLocked(err)
		return &logWriteError{err}
	}
	s.succeededLocked()
	return nil
}

// IsMonotonic tells raft, as raft-wal does, that the log has no gaps.
func (s *logStore) IsMonotonic() bool { return true }

func (s *logStore) Set(key, val []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		return nil // see SetUint64
	}
	return s.w.Set(key, val)
}

func (s *logStore) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.Get(key)
}

func (s *logStore) SetUint64(key []byte, val uint64) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		// A transport handler raft.Shutdown did not wait for (a heartbeat
		// decoded before it) saving a newer term: raft panics when that
		// fails ("failed to save current term: closed", a killed node in
		// TestMajorityControllersDown). Dropping it is safe: Shutdown closed
		// the transport, whose stream layer closed every accepted
		// connection, so the handler's answer reaches no one.
		return nil
	}
	return s.w.SetUint64(key, val)
}

func (s *logStore) GetUint64(key []byte) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.w.GetUint64(key)
}

// abort makes a write waiting to retry fail at once, so that raft can shut
// down without waiting out the backoff.
func (s *logStore) abort() { s.closeOnce.Do(func() { close(s.closed) }) }

// Close aborts a waiting write and closes the WAL (not the meta store, which
// the controller owns). Call it after raft.Shutdown: stable-store writes
// after it are dropped (SetUint64).
func (s *logStore) Close() error {
	s.abort()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shut = true
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("quorum: close metadata log: %w", err)
	}
	return nil
}
