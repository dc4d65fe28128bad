package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// DeleteRecordsBefore moves the log start offset up to offset (at most the
// LEO; the caller enforces the high watermark), persists it and deletes the
// segments that lie wholly below it. Reads below it then get
// ErrOffsetOutOfRange.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if offset > l.leo.Load() || offset < 0 {
		return ErrOffsetOutOfRange
	}
	if offset <= l.logStart.Load() {
		return nil
	}
	if err := l.syncDirsLocked(); err != nil {
		return err
	}
	data := fmt.Sprintf("version: 0\nlog_start_offset: %d\n", offset)
	if err := vfs.WriteFileAtomic(l.fs, l.dir, filepath.Join(l.dir, logStartOffsetFile), []byte(data)); err != nil {
		return err
	}
	l.logStart.Store(offset)
	if offset == l.leo.Load() && l.active.seg.size > 0 {
		// Everything goes: start a new active segment so the old one can be deleted.
		if err := l.rollLocked(); err != nil {
			return err
		}
	}
	n := 0
	for n+1 < len(l.segments) && l.segments[n+1].base <= offset {
		n++
	}
	_, err := l.deleteOldestLocked(n)
	return err
}

// SetRetentionLimit bounds retention: fn returns the offset the log start
// may reach (the partition's last stable offset), and only segments wholly
// below it are deleted, as Kafka's deletableSegments stops at the high
// watermark; at the last stable offset, retention also never deletes the
// start of an open transaction, which read_committed consumers have yet
// to read. fn is called with the log's lock held and must not take locks
// that are held while the log is written. Without it the bound is the log
// end.
func (l *Log) SetRetentionLimit(fn func() int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retentionLimit = fn
}

// EnforceRetention deletes whole old segments of a log whose cleanup.policy
// has delete, never the active one nor one reaching the retention limit
// (SetRetentionLimit): those
// whose largest timestamp is older than now minus retention.ms, and the oldest
// ones while the log exceeds retention.bytes without them. It advances the log
// start offset and returns how many segments went.
func (l *Log) EnforceRetention(now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	if !l.cfg.Delete {
		return 0, nil // cleanup.policy=compact keeps old segments
	}
	candidates := l.segments[:len(l.segments)-1]
	if l.retentionLimit != nil {
		lim := l.retentionLimit()
		for len(candidates) > 0 && l.segments[len(candidates)].base > lim {
			candidates = candidates[:len(candidates)-1]
		}
	}
	n := 0
	if ms := l.cfg.RetentionMs; ms >= 0 {
		limit := now.UnixMilli() - ms
		for n < len(candidates) {
			ts, err := l.largestTimestampLocked(n)
			if err != nil {
				return 0, err
			}
			if ts >= limit {
				break
			}
			n++
		}
	}
	if limit := l.cfg.RetentionBytes; limit >= 0 {
		excess := -limit
		for _, s := range l.segments {
			excess += s.size
		}
		for _, s := range candidates[:n] {
			excess -= s.size
		}
		for n < len(candidates) && excess-candidates[n].size >= 0 {
			excess -= candidates[n].size
			n++
		}
	}
	return l.deleteOldestLocked(n)
}

// largestTimestampLocked returns the largest timestamp of inactive segment i,
// or its file's modification time if no batch has a timestamp (as Kafka does).
func (l *Log) largestTimestampLocked(i int) (int64, error) {
	s := l.segments[i]
	x, err := l.loadIndex(s, s.size, l.segments[i+1].base, l.cfg.IndexIntervalBytes)
	if err != nil {
		return 0, err
	}
	if ts, _ := x.maxTimestamp(); ts >= 0 {
		return ts, nil
	}
	fi, err := l.fs.Stat(s.logPath)
	if err != nil {
		return 0, err
	}
	return fi.ModTime().UnixMilli(), nil
}

// deleteOldestLocked deletes the n oldest segments (never the active one) and
// moves the log start offset to the first remaining one if it was below.
func (l *Log) deleteOldestLocked(n int) (int, error) {
	n = min(n, len(l.segments)-1)
	if n <= 0 {
		return 0, nil
	}
	gone := l.segments[:n]
	l.segments = append([]*segment(nil), l.segments[n:]...)
	if base := l.segments[0].base; base > l.logStart.Load() {
		l.logStart.Store(base)
	}
	if err := l.removeSegments(gone); err != nil {
		return n, l.failLocked(err)
	}
	return n, nil
}

// rollMsLocked is how old the active segment may get: segment.ms, or less
// for a compacted log whose max.compaction.lag.ms is shorter, since the
// cleaner never cleans the active segment (KIP-354).
func (l *Log) rollMsLocked() int64 {
	if l.cfg.Compact {
		return min(l.cfg.SegmentMs, l.cfg.MaxCompactionLagMs)
	}
	return l.cfg.SegmentMs
}

// maintain is the Manager's periodic work on one log: time-based roll, flush
// by flush.ms and the recovery-point checkpoint. Retention is run separately.
func (l *Log) maintain(now time.Time) error {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return err
	}
	var err error
	if a := l.active; a.seg.size > 0 && a.rollBase >= 0 && now.UnixMilli()-a.rollBase > l.rollMsLocked() {
		err = l.rollLocked()
	}
	flushMs := l.cfg.FlushMs
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if flushMs != math.MaxInt64 {
		l.flushMu.Lock()
		due := l.flushedTo < l.leo.Load() && now.Sub(l.lastFlush).Milliseconds() >= flushMs
		l.flushMu.Unlock()
		if due {
			if err := l.Flush(); err != nil {
				return err
			}
		}
	}
	if err := l.checkpoint(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}
