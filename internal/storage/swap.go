package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// A cleaned group of segments replaces the originals in steps that a crash
// can interrupt anywhere:
//
//  1. write <base>.log.cleaned, <base>.index.cleaned,
//     <base>.timeindex.cleaned and <base>.txnindex.cleaned (the aborted
//     transactions the cleaned segment still holds markers of, possibly
//     none), sync them and the directory;
//  2. rename <base>.log.cleaned to <base>.log.swap and sync the directory:
//     the commit point;
//  3. rename the .cleaned indexes over <base>.index, <base>.timeindex and
//     <base>.txnindex, remove the group's other segments, rename
//     <base>.log.swap over <base>.log and sync the directory.
//
// Opening a log (completeSwaps) removes .cleaned files without a .log.swap
// (the old segments stand) and finishes step 3 for each .log.swap: the
// segments it replaces are those with a base offset inside its offset range,
// as Kafka's log loader decides. Cleaning may have emptied the end of the
// group (cleanGroup keeps no empty batch there): the group's segments past
// the cleaned file's last offset then stay as they were, records the
// cleaned copy dropped, which is a valid log (offsets still increase) that
// the next pass cleans again.

const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

// cleanedPaths returns the .cleaned names of s's log, index, time index and
// transaction index.
func cleanedPaths(s *segment) [4]string {
	return [4]string{s.logPath + cleanedSuffix, s.indexPath + cleanedSuffix, s.timePath + cleanedSuffix, s.txnPath + cleanedSuffix}
}

// hook lets tests stop a swap at a named point as if the process died there.
func (l *Log) hook(point string) error {
	if l.swapHook == nil {
		return nil
	}
	return l.swapHook(point)
}

// swapIn replaces group (consecutive inactive segments) by ns, whose files
// were written as .cleaned. If the group is no longer in the log (retention
// or DeleteRecordsBefore removed part of it), the log was truncated since
// the pass was planned (truncations differs: the pass mapped keys of
// records that may be gone) or the group's aborted transactions are no
// longer those the pass read (had, as groupTxns: one was added since)
// nothing changes. A failure after the commit point fails the log: the
// next open finishes the swap.
func (l *Log) swapIn(group []*segment, ns *segment, truncations uint64, had int) error {
	paths := cleanedPaths(ns)
	l.mu.Lock()
	defer l.mu.Unlock()
	at := -1
	for i, s := range l.segments {
		if s == group[0] {
			at = i
		}
	}
	if err := l.usableLocked(); err != nil || at < 0 || at+len(group) >= len(l.segments) || l.truncations != truncations {
		if err == nil {
			err = errCleanAborted
		}
		return err
	}
	for k, s := range group {
		if l.segments[at+k] != s {
			return errCleanAborted
		}
	}
	if len(groupTxns(group)) != had {
		return errCleanAborted
	}
	swap := ns.logPath + swapSuffix
	if err := l.hook("commit"); err != nil {
		return err
	}
	if err := l.fs.Rename(paths[0], swap); err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.failLocked(err)
	}
	for _, s := range group {
		s.replaced.Store(true)
	}
	if err := l.finishSwap(swap, ns, group[1:]); err != nil {
		return l.failLocked(err)
	}
	for _, s := range group {
		l.handles.invalidate(s.logPath)
	}
	segs := make([]*segment, 0, len(l.segments)-len(group)+1)
	segs = append(segs, l.segments[:at]...)
	segs = append(segs, ns)
	l.segments = append(segs, l.segments[at+len(group):]...)
	return nil
}

// finishSwap does step 3 for the swap file of ns, replacing ns's segment and
// the others.
func (l *Log) finishSwap(swap string, ns *segment, others []*segment) error {
	paths := cleanedPaths(ns)
	for k, final := range []string{ns.indexPath, ns.timePath, ns.txnPath} {
		err := l.fs.Rename(paths[k+1], final)
		if errors.Is(err, os.ErrNotExist) && final == ns.txnPath {
			// Renamed already: unlike the other indexes it cannot be
			// rebuilt from the segment, and it was written before the
			// commit point.
			err = nil
		}
		if errors.Is(err, os.ErrNotExist) {
			// Lost or already renamed: rebuild the indexes when first needed.
			if err := l.fs.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := l.hook("index"); err != nil {
			return err
		}
	}
	for _, s := range others {
		for _, p := range []string{s.logPath, s.indexPath, s.timePath, s.txnPath} {
			if err := l.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := l.hook("remove"); err != nil {
			return err
		}
	}
	if err := l.fs.Rename(swap, ns.logPath); err != nil {
		return err
	}
	if err := l.hook("rename"); err != nil {
		return err
	}
	return l.fs.SyncDir(l.dir)
}

// completeSwaps finishes the swaps a crash interrupted and removes the files
// of cleanings that did not reach their commit point. load calls it first.
func (l *Log) completeSwaps() error {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	for _, name := range names {
		if base, ok := parseSegmentName(name, logSuffix+swapSuffix); ok {
			bases = append(bases, base)
		}
	}
	for _, base := range bases {
		ns := newSegment(l.dir, base)
		swap := ns.logPath + swapSuffix
		next, err := l.swapEnd(swap, base)
		if err != nil {
			return fmt.Errorf("storage: interrupted swap %s: %w", swap, err)
		}
		var others []*segment
		for _, name := range names {
			if b, ok := parseSegmentName(name, logSuffix); ok && b > base && b < next {
				others = append(others, newSegment(l.dir, b))
			}
		}
		l.logger.Info("completing interrupted segment swap", "segment", swap, "replaces", len(others)+1)
		if err := l.finishSwap(swap, ns, others); err != nil {
			return err
		}
	}
	for _, name := range names {
		if strings.HasSuffix(name, cleanedSuffix) {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return l.loadCleanerCheckpoint()
}

// swapEnd returns the offset after the last batch of the swap file (synced
// whole before it was renamed to .swap).
func (l *Log) swapEnd(path string, base int64) (int64, error) {
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return 0, err
	}
	b := newIndexBuilder(base, math.MaxInt32)
	if end, err := scanBatches(f, 0, size, base, b); err != nil || end != size {
		return 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return b.next, nil
}

func (l *Log) loadCleanerCheckpoint() error {
	l.tombstoneHorizon = math.MaxInt64
	type ck struct{ firstDirty, horizon int64 }
	c, ok, err := readCheckpoint(l, cleanerCheckpointFile, func(b []byte) (ck, error) {
		kv, err := parseKV(b)
		if err != nil {
			return ck{}, err
		}
		var c ck
		if c.firstDirty, err = kvInt(kv, "first_dirty_offset"); err != nil {
			return ck{}, err
		}
		c.horizon, err = kvInt(kv, "delete_horizon_ms")
		return c, err
	})
	if ok {
		l.firstDirty, l.tombstoneHorizon = c.firstDirty, c.horizon
	}
	return err
}
