package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// abortedTxnSize is one .txnindex entry: version int16 0, producerId int64,
// firstOffset int64, lastOffset int64, lastStableOffset int64 (Kafka's
// AbortedTxn), big-endian.
const abortedTxnSize = 2 + 8 + 8 + 8 + 8

// AbortedTxn is one entry of the aborted-transaction index: a producer's
// transaction from its first offset to its ABORT marker's offset, and the
// partition's last stable offset when the marker was appended. A
// read_committed fetch returns the aborted transactions overlapping its
// range so the client drops their records. This is the entry format and its
// search (Log.AbortedTxns); each segment keeps the entries whose ABORT marker
// it holds in its <baseOffset>.txnindex file (Log.AddAbortedTxn).
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// appendAbortedTxn encodes t as a .txnindex entry onto b.
func appendAbortedTxn(b []byte, t AbortedTxn) []byte {
	be := binary.BigEndian
	b = be.AppendUint16(b, 0)
	b = be.AppendUint64(b, uint64(t.ProducerID))
	b = be.AppendUint64(b, uint64(t.FirstOffset))
	b = be.AppendUint64(b, uint64(t.LastOffset))
	return be.AppendUint64(b, uint64(t.LastStableOffset))
}

// decodeTxnIndex decodes a .txnindex file's bytes. A trailing partial entry
// (a write torn by a crash) is left off and reported by valid, the length of
// the whole entries, so recovery can truncate the file there; an entry of an
// unknown version, with its first offset past its last or with its marker
// not after the previous entry's (markers are appended in offset order) is
// an error, as Kafka's TransactionIndex refuses it; txns and valid then
// describe the entries before it.
func decodeTxnIndex(b []byte) (txns []AbortedTxn, valid int, err error) {
	be := binary.BigEndian
	for len(b)-valid >= abortedTxnSize {
		e := b[valid : valid+abortedTxnSize]
		if v := int16(be.Uint16(e)); v != 0 {
			return txns, valid, fmt.Errorf("%w: transaction index entry at byte %d: version %d", ErrCorrupt, valid, v)
		}
		t := AbortedTxn{
			ProducerID:       int64(be.Uint64(e[2:])),
			FirstOffset:      int64(be.Uint64(e[10:])),
			LastOffset:       int64(be.Uint64(e[18:])),
			LastStableOffset: int64(be.Uint64(e[26:])),
		}
		if t.FirstOffset > t.LastOffset || t.FirstOffset < 0 {
			return txns, valid, fmt.Errorf("%w: transaction index entry at byte %d: offsets %d to %d", ErrCorrupt, valid, t.FirstOffset, t.LastOffset)
		}
		if n := len(txns); n > 0 && t.LastOffset <= txns[n-1].LastOffset {
			return txns, valid, fmt.Errorf("%w: transaction index entry at byte %d: marker %d not after %d", ErrCorrupt, valid, t.LastOffset, txns[n-1].LastOffset)
		}
		txns = append(txns, t)
		valid += abortedTxnSize
	}
	return txns, valid, nil
}

// collectAbortedTxns appends to out the entries of txns (one segment's, in
// marker order) overlapping the fetch range [from, upTo): ended at or after
// from and begun before upTo, as Kafka's TransactionIndex.collectAbortedTxns.
// complete is true once an entry's last stable offset reaches upTo: every
// transaction aborted later began at or after it, so later segments need
// not be searched.
func collectAbortedTxns(out, txns []AbortedTxn, from, upTo int64) (_ []AbortedTxn, complete bool) {
	for _, t := range txns {
		if t.LastOffset >= from && t.FirstOffset < upTo {
			out = append(out, t)
		}
		if t.LastStableOffset >= upTo {
			return out, true
		}
	}
	return out, false
}

// txnIndexSuffix names a segment's aborted-transaction index, Kafka's
// <baseOffset>.txnindex. The file exists only once the segment holds an
// ABORT marker of a transaction.
const txnIndexSuffix = ".txnindex"

// noTxns is the entries of a segment without a .txnindex file.
var noTxns = []AbortedTxn{}

// loadedTxns returns the entries of s, which load (or the segment's
// creation) always set: a segment is never published without them.
func (s *segment) loadedTxns() []AbortedTxn {
	if p := s.txns.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *segment) setTxns(txns []AbortedTxn) {
	if len(txns) == 0 {
		txns = noTxns
	}
	s.txns.Store(&txns)
}

// AddAbortedTxn records an aborted transaction in the .txnindex of the
// segment holding its marker (t.LastOffset), as Kafka's
// LogSegment.updateTxnIndex: the owner of the producer state calls it for
// each ABORT marker appended, with the partition's last stable offset
// (ProducerState's for the completed transaction), and after OpenLog for
// the markers at or above TxnIndexValidFrom. An entry whose marker is not
// after the segment's last entry is there already and changes nothing.
// The entry is written at once; it is synced with the active segment
// (Flush, roll, Close), or at once if its segment is no longer active.
func (l *Log) AddAbortedTxn(t AbortedTxn) error {
	if t.FirstOffset > t.LastOffset || t.FirstOffset < 0 {
		return fmt.Errorf("storage: aborted transaction of %s from %d to %d", l.dir, t.FirstOffset, t.LastOffset)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if t.LastOffset >= l.leo.Load() || t.LastOffset < l.segments[0].base {
		return fmt.Errorf("storage: aborted transaction of %s ends at %d, outside the log [%d, %d)", l.dir, t.LastOffset, l.segments[0].base, l.leo.Load())
	}
	k := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > t.LastOffset }) - 1
	s := l.segments[k]
	old := s.loadedTxns()
	if n := len(old); n > 0 && old[n-1].LastOffset >= t.LastOffset {
		return nil
	}
	active := s == l.active.seg
	created := len(old) == 0
	f, err := l.fs.OpenFile(s.txnPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return l.failLocked(err)
	}
	l.dirty.Store(true)
	_, err = f.Write(appendAbortedTxn(nil, t))
	if err == nil && !active {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && created {
		// The new file's name must survive a crash as the segment's does.
		err = l.fs.SyncDir(l.dir)
	}
	if err != nil {
		// A torn entry cannot be told from a lost one: the log cannot vouch
		// for the index.
		return l.failLocked(err)
	}
	// A new slice when full; appending within capacity writes beyond the
	// length readers hold, so they never see it change.
	s.setTxns(append(old[:len(old):len(old)], t))
	if active {
		l.txnUnsynced = true
	}
	return nil
}

// syncTxnIndexLocked fsyncs the active segment's .txnindex if entries were
// appended since the last sync.
func (l *Log) syncTxnIndexLocked() error {
	if !l.txnUnsynced {
		return nil
	}
	if err := syncFile(l.fs, l.active.seg.txnPath); err != nil {
		return l.failLocked(err)
	}
	l.txnUnsynced = false
	return nil
}

func syncFile(fs vfs.FS, path string) error {
	f, err := fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// AbortedTxns returns the aborted transactions overlapping the offsets
// [from, upTo) of a fetch, as Kafka's UnifiedLog.collectAbortedTransactions:
// the entries of the segment holding from and of the later ones, until an
// entry's last stable offset reaches upTo (every transaction aborted after
// it began at or after upTo). A transaction whose records reach into the
// range has its marker at or after from, so no earlier segment holds it.
func (l *Log) AbortedTxns(from, upTo int64) ([]AbortedTxn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	i := max(sort.Search(len(l.segments), func(i int) bool { return l.segments[i].base > from })-1, 0)
	segs := l.segments[i:len(l.segments):len(l.segments)]
	l.mu.Unlock()
	var out []AbortedTxn
	for _, s := range segs {
		var complete bool
		if out, complete = collectAbortedTxns(out, s.loadedTxns(), from, upTo); complete {
			break
		}
	}
	return out, nil
}

// TxnIndexValidFrom is the offset from which the aborted-transaction
// index may lack entries: a crash lost what was not synced, or a
// .txnindex file was unreadable. OpenLog dropped the entries of markers at
// or above it; the owner of the producer state replays the log from at
// most there and adds (AddAbortedTxn) the aborted transactions whose
// marker is at or above it, as Kafka's LogSegment.recover rebuilds a
// recovered segment's index. After a clean shutdown it is the log end.
func (l *Log) TxnIndexValidFrom() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.txnValidFrom
}

// loadTxnIndexes reads the .txnindex file of every segment that has one
// (hasFile) at open and keeps the entries of markers below the log end leo
// (recovery may have cut records) and, in the last segment, below risk
// (after an unclean shutdown, the offset from which its entries may have
// been lost), rewriting a file that held more. A file that is corrupt is
// emptied and the index invalid from its segment on. It returns the offset
// from which the index may lack entries (TxnIndexValidFrom).
func (l *Log) loadTxnIndexes(segs []*segment, hasFile map[int64]bool, leo, risk int64) (int64, error) {
	validFrom := risk
	for k, s := range segs {
		cut := leo
		if k == len(segs)-1 {
			cut = risk
		}
		if !hasFile[s.base] {
			s.setTxns(nil)
			continue
		}
		b, err := vfs.ReadFile(l.fs, s.txnPath)
		if err != nil {
			return 0, err
		}
		txns, valid, err := decodeTxnIndex(b)
		if err != nil {
			l.logger.Warn("rebuilding corrupt transaction index", "file", s.txnPath, "err", err)
			txns, validFrom = nil, min(validFrom, s.base)
		}
		n := len(txns)
		for n > 0 && txns[n-1].LastOffset >= cut {
			n--
		}
		if n < len(txns) || err != nil || valid < len(b) {
			if err := writeTxnIndex(l.fs, s.txnPath, txns[:n]); err != nil {
				return 0, err
			}
		}
		s.setTxns(slices.Clip(txns[:n]))
	}
	return validFrom, nil
}

// writeTxnIndex replaces a .txnindex file with txns, durably, or removes
// it when there are none.
func writeTxnIndex(fs vfs.FS, path string, txns []AbortedTxn) error {
	if len(txns) == 0 {
		if err := fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var b []byte
	for _, t := range txns {
		b = appendAbortedTxn(b, t)
	}
	return writeWhole(fs, path, b, true)
}

// groupTxns returns the aborted-transaction entries of consecutive
// segments, in marker order: a cleaned group's index, as every marker
// stays in the cleaned copy.
func groupTxns(group []*segment) []AbortedTxn {
	var out []AbortedTxn
	for _, s := range group {
		out = append(out, s.loadedTxns()...)
	}
	return out
}
