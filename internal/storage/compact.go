package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// cleanerCheckpointFile holds a compacted log's cleaning progress:
// "version: 0\nfirst_dirty_offset: N\ndelete_horizon_ms: M\n". Offsets below
// N were cleaned; M is the earliest delete horizon of a tombstone still in
// the log (math.MaxInt64 if none), when a pass is due to remove it.
const cleanerCheckpointFile = "cleaner-checkpoint"

// cleanPlan is what a pass over one log will do, decided from a snapshot of
// its segments.
type cleanPlan struct {
	cfg        Config
	segs       []*segment // every segment at the time, the last one active
	sizes      []int64
	dirty      int                    // index in segs of the first segment with uncleaned records
	end        int                    // segments [0, end) are cleaned; end <= len(segs)-1
	firstDirty int64                  // offsets below were cleaned by earlier passes
	leo        int64                  // the log end offset at the time
	producers  func() map[int64]int64 // Log.activeProducers at the time
	// truncations is Log.truncations at the time: a pass that a truncation
	// overtook swaps nothing in and records nothing.
	truncations uint64
	dirtyBytes  int64
	totalBytes  int64 // of segments [0, end)
	ratio       float64
	forced      bool // max.compaction.lag.ms passed or a tombstone horizon is due
}

// planClean decides whether the log is worth cleaning at now: it is if it is
// compacted and either its dirty ratio reaches min.cleanable.dirty.ratio, its
// oldest dirty record is older than max.compaction.lag.ms, or a tombstone's
// delete horizon passed. Segments with records newer than
// min.compaction.lag.ms, and the active segment, are left alone.
func (l *Log) planClean(now int64) (cleanPlan, bool, error) {
	l.mu.Lock()
	if err := l.usableLocked(); err != nil {
		l.mu.Unlock()
		return cleanPlan{}, false, err
	}
	p := cleanPlan{cfg: l.cfg, segs: l.segments, firstDirty: max(l.firstDirty, l.logStart.Load()), leo: l.leo.Load(), producers: l.activeProducers, truncations: l.truncations}
	limit := l.cleanLimit
	p.sizes = make([]int64, len(p.segs))
	for i, s := range p.segs {
		p.sizes[i] = s.size
	}
	horizon := l.tombstoneHorizon
	l.mu.Unlock()
	if !p.cfg.Compact || len(p.segs) < 2 {
		return p, false, nil
	}
	// The first dirty segment is the first holding offsets >= firstDirty.
	for p.dirty < len(p.segs)-1 && p.segs[p.dirty+1].base <= p.firstDirty {
		p.dirty++
	}
	p.end = len(p.segs) - 1
	if limit != nil {
		// Only segments wholly below the limit (the high watermark) are
		// cleaned or mapped: records above it may yet be truncated away,
		// and a record they superseded would be lost with them.
		lim := limit()
		for p.end > 0 && p.segs[p.end].base > lim {
			p.end--
		}
	}
	if lag := p.cfg.MinCompactionLagMs; lag > 0 {
		for i := p.dirty; i < p.end; i++ {
			x, err := l.loadIndex(p.segs[i], p.sizes[i], p.segs[i+1].base, p.cfg.IndexIntervalBytes)
			if err != nil {
				return p, false, err
			}
			if ts, _ := x.maxTimestamp(); ts > now-lag {
				p.end = i
				break
			}
		}
	}
	p.dirty = min(p.dirty, p.end)
	for i := 0; i < p.end; i++ {
		p.totalBytes += p.sizes[i]
		if i >= p.dirty {
			p.dirtyBytes += p.sizes[i]
		}
	}
	if p.totalBytes > 0 {
		p.ratio = float64(p.dirtyBytes) / float64(p.totalBytes)
	}
	if p.dirtyBytes > 0 && p.cfg.MaxCompactionLagMs < math.MaxInt64 {
		ts, err := l.firstTimestamp(p.segs[p.dirty], p.sizes[p.dirty])
		if err != nil {
			return p, false, err
		}
		p.forced = ts >= 0 && now-ts > p.cfg.MaxCompactionLagMs
	}
	p.forced = p.forced || (horizon <= now && p.end > 0)
	ok := p.forced || (p.dirtyBytes > 0 && p.ratio >= p.cfg.MinCleanableDirtyRatio)
	return p, ok, nil
}

// firstTimestamp returns the max timestamp of the first batch of s, or -1.
func (l *Log) firstTimestamp(s *segment, size int64) (int64, error) {
	if size < batch.HeaderSize {
		return -1, nil
	}
	h, err := l.handles.acquire(s.logPath)
	if err != nil {
		return 0, err
	}
	defer l.handles.release(h)
	var hdr [batch.HeaderSize]byte
	if _, err := h.f.ReadAt(hdr[:], 0); err != nil {
		return 0, err
	}
	bh, err := parseHeader(hdr[:])
	return bh.MaxTimestamp, err
}

// SetCleanLimit gives the cleaner the offset it may clean up to: fn returns
// it (the partition's high watermark, or its last stable offset), and a
// pass cleans, and maps the keys of, only the segments wholly below it, as
// Kafka's cleaner stops at the last stable offset. Records above it may
// still be truncated (TruncateTo), and cleaning with them would drop the
// older records of their keys that then stay the latest. fn is called once
// per pass, with no lock of the log held. Without it the limit is the log
// end offset (a single replica's high watermark).
func (l *Log) SetCleanLimit(fn func() int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanLimit = fn
}

// SetActiveProducers gives the cleaner the idempotent producers whose state
// the log must keep: fn returns, per producer ID, the last offset of its
// last batch. The cleaner keeps that batch (emptied if all its records go)
// so that its sequence number survives, and lets other emptied batches go,
// as Kafka's cleaner does with its producer state's active producers; a
// producer expired (producer.id.expiration.ms) keeps nothing. fn is called
// once per pass, with no lock of the log held. Without it, every producer
// whose batches are in the log counts as active.
func (l *Log) SetActiveProducers(fn func() map[int64]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.activeProducers = fn
}

// passStats is what one cleaning pass did.
type passStats struct {
	bytesRead, bytesWritten  int64
	recordsRead, recordsKept int64
	segmentsIn, segmentsOut  int
	minHorizon               int64 // earliest delete horizon of a tombstone kept
}

// cleaner is what a pass needs from its Manager.
type cleaner struct {
	mapEntries int
	throttle   *throttler
	quit       <-chan struct{}
}

var errCleanAborted = errors.New("storage: cleaning aborted")

// clean runs one pass of p: it maps the keys of the dirty section to their
// latest offsets, then rewrites segments [0, end) in groups that fit
// segment.bytes, keeping only records no later record of their key
// supersedes, and swaps each group in.
func (l *Log) clean(now int64, p cleanPlan, c cleaner) (passStats, error) {
	st := passStats{minHorizon: math.MaxInt64}
	om := newOffsetMap(c.mapEntries)
	producers := map[int64]int64{} // producer ID -> last offset of its last batch
	noteProducers := p.producers == nil
	if !noteProducers {
		producers = p.producers()
	}
	var scratch []byte
	var sc batch.RecordScanner
	end := p.end
	var tc *txnCleaner
	if end > p.dirty {
		// Records of aborted transactions map no key: they supersede nothing.
		aborted, err := l.AbortedTxns(p.segs[p.dirty].base, p.segs[end].base)
		if err != nil {
			return st, err
		}
		tc = newTxnCleaner(aborted)
	}
	for i := p.dirty; i < end; i++ {
		err := l.eachBatch(p.segs[i], p.sizes[i], c, &st, func(_ int64, h batch.Header, b []byte) error {
			if noteProducers {
				noteProducer(producers, h)
			}
			if h.Control() {
				tc.marker(h, b)
				return nil
			}
			if tc.data(h) {
				return nil
			}
			data, err := batch.Decompress(h.Codec(), b[batch.HeaderSize:], scratch)
			if err != nil {
				return corrupt(err)
			}
			if h.Codec() != batch.None {
				scratch = data
			}
			for sc.Reset(data, h.NumRecords); sc.Next(); {
				if r := sc.Record(); r.Key != nil {
					om.put(r.Key, h.BaseOffset+int64(r.OffsetDelta))
				}
			}
			return corrupt(sc.Err())
		})
		if err != nil {
			return st, err
		}
		if om.full() {
			end = i + 1 // map only as much as fits; the rest is cleaned next time
		}
	}
	// The last batch of each idempotent producer is kept (empty if all its
	// records go) so that its sequence number survives in the log, as Kafka
	// does; without the partition's producer state, that needs the
	// producers' batches outside the dirty section too.
	for i, s := range p.segs {
		if noteProducers && (i < p.dirty || i >= end) {
			if err := l.eachHeader(s, p.sizes[i], func(h batch.Header, b []byte) { noteProducer(producers, h) }); err != nil {
				return st, err
			}
		}
	}
	for i := 0; i < end; {
		j, size := i+1, p.sizes[i]
		for j < end && size+p.sizes[j] <= p.cfg.SegmentBytes && p.segs[j+1].base-1-p.segs[i].base <= math.MaxInt32 {
			size += p.sizes[j]
			j++
		}
		if err := l.cleanGroup(now, p, i, j, om, producers, c, &st); err != nil {
			return st, err
		}
		i = j
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return st, ErrClosed
	}
	if l.truncations != p.truncations {
		return st, errCleanAborted // the offsets it read may be gone
	}
	if end < len(p.segs) {
		l.firstDirty = max(l.firstDirty, p.segs[end].base)
	}
	l.tombstoneHorizon = st.minHorizon
	return st, l.writeCleanerCheckpointLocked()
}

func noteProducer(producers map[int64]int64, h batch.Header) {
	if h.ProducerID >= 0 {
		producers[h.ProducerID] = max(producers[h.ProducerID], h.LastOffset())
	}
}

// corrupt wraps an error of package batch about bytes from disk in ErrCorrupt.
func corrupt(err error) error {
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil
}

// eachBatch calls fn with every whole batch of s (the first size bytes),
// checking CRCs and throttling. b is only valid during the call.
func (l *Log) eachBatch(s *segment, size int64, c cleaner, st *passStats, fn func(pos int64, h batch.Header, b []byte) error) error {
	fh, err := l.handles.acquire(s.logPath)
	if err != nil {
		return err
	}
	defer l.handles.release(fh)
	br := bufio.NewReaderSize(io.NewSectionReader(fh.f, 0, size), 256<<10)
	var buf []byte
	var sinceThrottle int64
	for pos := int64(0); pos < size; {
		if size-pos < batch.HeaderSize {
			return fmt.Errorf("%w: torn batch header at position %d of %s", ErrCorrupt, pos, s.logPath)
		}
		buf = append(buf[:0], make([]byte, batch.HeaderSize)...)
		if _, err := io.ReadFull(br, buf); err != nil {
			return err
		}
		h, err := parseHeader(buf)
		if err != nil {
			return fmt.Errorf("%s at position %d: %w", s.logPath, pos, err)
		}
		if int64(h.Size()) > size-pos {
			return fmt.Errorf("%w: torn batch at position %d of %s", ErrCorrupt, pos, s.logPath)
		}
		buf = append(buf, make([]byte, h.Size()-batch.HeaderSize)...)
		if _, err := io.ReadFull(br, buf[batch.HeaderSize:]); err != nil {
			return err
		}
		if !batch.ValidCRC(buf) {
			return fmt.Errorf("%w: CRC mismatch at position %d of %s", ErrCorrupt, pos, s.logPath)
		}
		if err := fn(pos, h, buf); err != nil {
			return err
		}
		pos += int64(h.Size())
		st.bytesRead += int64(h.Size())
		if sinceThrottle += int64(h.Size()); sinceThrottle >= 64<<10 {
			if !c.throttle.wait(sinceThrottle, c.quit) {
				return errCleanAborted
			}
			sinceThrottle = 0
		}
	}
	if !c.throttle.wait(sinceThrottle, c.quit) {
		return errCleanAborted
	}
	return nil
}

// eachHeader calls fn with the header bytes of every batch of s.
func (l *Log) eachHeader(s *segment, size int64, fn func(h batch.Header, hdr []byte)) error {
	fh, err := l.handles.acquire(s.logPath)
	if err != nil {
		return err
	}
	defer l.handles.release(fh)
	w := newWalker(fh.f, size)
	defer w.release()
	for pos := int64(0); pos < size; {
		h, err := w.header(pos)
		if err != nil {
			return err
		}
		fn(h, (*w.buf)[pos-w.bufPos:])
		pos += int64(h.Size())
	}
	return nil
}

// groupWriter writes the cleaned copy of a group of segments.
type groupWriter struct {
	f       vfs.File
	buf     []byte
	pos     int64 // bytes written or buffered
	idx     *indexBuilder
	recs    []batch.RawRecord // scratch
	sc      batch.RecordScanner
	body    []byte // scratch
	scratch []byte // decompressed records
}

func (w *groupWriter) add(b []byte) error {
	h, err := parseHeader(b)
	if err != nil {
		return err
	}
	w.idx.add(h, w.pos)
	w.buf = append(w.buf, b...)
	w.pos += int64(len(b))
	if len(w.buf) >= 1<<20 {
		return w.flush()
	}
	return nil
}

func (w *groupWriter) flush() error {
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// cleanGroup rewrites segments p.segs[i:j] into one segment at
// <base>.log.cleaned (with its indexes) and swaps it in.
func (l *Log) cleanGroup(now int64, p cleanPlan, i, j int, om *offsetMap, producers map[int64]int64, c cleaner, st *passStats) (err error) {
	group := p.segs[i:j]
	ns := newSegment(l.dir, group[0].base)
	paths := cleanedPaths(ns)
	f, err := l.fs.OpenFile(paths[0], os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			for _, path := range paths {
				l.fs.Remove(path)
			}
		}
	}()
	had := len(groupTxns(group))
	aborted, err := l.AbortedTxns(group[0].base, p.segs[j].base)
	if err != nil {
		return err
	}
	tc := newTxnCleaner(aborted)
	w := &groupWriter{f: f, idx: newIndexBuilder(ns.base, p.cfg.IndexIntervalBytes)}
	for k, s := range group {
		err := l.eachBatch(s, p.sizes[i+k], c, st, func(_ int64, h batch.Header, b []byte) error {
			out, err := w.filter(now, p.cfg, h, b, om, producers, tc, st)
			if err != nil {
				return err
			}
			if out == nil && h.LastOffset()+1 == p.leo {
				// The batch ending at the high watermark (which follows the
				// log end offset on a single replica) stays, empty, so
				// that the log end offset survives cleaning, as Kafka's
				// cleaner keeps it (KAFKA-17076, KAFKA-20452). No other
				// emptied batch without producer state is kept: a fetch
				// answered with nothing but an empty batch sends
				// kafka-go's Reader back to the start of the partition.
				out = emptyBatch(h)
			}
			if out == nil {
				return nil
			}
			return w.add(out)
		})
		if err != nil {
			return err
		}
	}
	if err := w.flush(); err != nil {
		return err
	}
	st.bytesWritten += w.pos
	if !c.throttle.wait(w.pos, c.quit) {
		return errCleanAborted
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	x := w.idx.finish()
	if err := writeWhole(l.fs, paths[1], appendOffsetIndex(nil, x.offsets), true); err != nil {
		return err
	}
	if err := writeWhole(l.fs, paths[2], appendTimeIndex(nil, x.times), true); err != nil {
		return err
	}
	txns := tc.kept
	var tb []byte
	for _, t := range txns {
		tb = appendAbortedTxn(tb, t)
	}
	if err := writeWhole(l.fs, paths[3], tb, true); err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return err
	}
	if err := l.hook("cleaned"); err != nil {
		return err
	}
	ns.size = w.pos
	ns.index.Store(x)
	ns.setTxns(txns)
	st.segmentsIn += len(group)
	st.segmentsOut++
	return l.swapIn(group, ns, p.truncations, had)
}

// filter returns the batch b as the cleaner keeps it: b itself if every
// record stays, a rebuilt batch holding the survivors, an empty batch for an
// idempotent producer's last batch, or nil if the batch goes. A batch of an
// aborted transaction loses its records; a marker tc lets go is given a
// delete horizon, then goes once it passed (txnCleaner).
func (w *groupWriter) filter(now int64, cfg Config, h batch.Header, b []byte, om *offsetMap, producers map[int64]int64, tc *txnCleaner, st *passStats) ([]byte, error) {
	codec := h.Codec()
	baseTs := h.BaseTimestamp
	hasHorizon := h.Attributes&batch.AttrDeleteHorizon != 0
	horizonPassed := hasHorizon && now >= baseTs
	aborted := false
	if h.Control() {
		switch {
		case !tc.marker(h, b):
			return b, nil
		case horizonPassed:
			aborted = true // the marker's records go: emptied below
		case hasHorizon:
			st.minHorizon = min(st.minHorizon, baseTs)
			return b, nil
		}
	} else {
		aborted = tc.data(h)
	}
	data, err := batch.Decompress(codec, b[batch.HeaderSize:], w.scratch)
	if err != nil {
		return nil, corrupt(err)
	}
	if codec != batch.None {
		w.scratch = data
	}
	w.recs = w.recs[:0]
	// A marker without a horizon yet is kept whole and given one, as a
	// batch with tombstones.
	tombstones := h.Control() && !hasHorizon
	for w.sc.Reset(data, h.NumRecords); w.sc.Next(); {
		r := w.sc.Record()
		st.recordsRead++
		if h.Control() && !aborted {
			w.recs = append(w.recs, *r)
			continue
		}
		// Records without a key have no place in a compacted log: Kafka's
		// cleaner drops them too.
		if aborted || r.Key == nil || om.get(r.Key) > h.BaseOffset+int64(r.OffsetDelta) {
			continue
		}
		if r.Value == nil {
			if horizonPassed {
				continue
			}
			tombstones = true
		}
		w.recs = append(w.recs, *r)
	}
	if err := corrupt(w.sc.Err()); err != nil {
		return nil, err
	}
	st.recordsKept += int64(len(w.recs))
	if len(w.recs) == 0 {
		if last, ok := producers[h.ProducerID]; ok && h.ProducerID >= 0 && last == h.LastOffset() {
			return emptyBatch(h), nil
		}
		return nil, nil
	}
	if len(w.recs) == int(h.NumRecords) && (!tombstones || hasHorizon) {
		if tombstones {
			st.minHorizon = min(st.minHorizon, baseTs)
		}
		return b, nil
	}
	// Rebuild: same base offset and last offset delta (so the producer's last
	// sequence stays, KAFKA-5443), same producer fields and codec.
	newBase := baseTs
	newAttrs := h.Attributes &^ batch.AttrDeleteHorizon
	switch {
	case tombstones && hasHorizon:
		newAttrs |= batch.AttrDeleteHorizon
		st.minHorizon = min(st.minHorizon, baseTs)
	case tombstones:
		// KIP-534: the tombstones stay delete.retention.ms from now; the
		// base timestamp carries that horizon and record timestamp deltas
		// are rewritten against it.
		newBase = now + cfg.DeleteRetentionMs
		newAttrs |= batch.AttrDeleteHorizon
		st.minHorizon = min(st.minHorizon, newBase)
	case hasHorizon:
		newBase = baseTs + w.recs[0].TimestampDelta
	}
	maxTs := h.MaxTimestamp
	logAppendTime := h.LogAppendTime()
	if !logAppendTime {
		maxTs = -1
	}
	w.body = w.body[:0]
	for k := range w.recs {
		r := &w.recs[k]
		ts := baseTs + r.TimestampDelta
		if !logAppendTime {
			maxTs = max(maxTs, ts)
		}
		w.body = batch.AppendRawRecord(w.body, r, ts-newBase)
	}
	nh := h
	nh.Attributes, nh.BaseTimestamp, nh.MaxTimestamp, nh.NumRecords = newAttrs, newBase, maxTs, int32(len(w.recs))
	out := batch.AppendHeader(make([]byte, 0, batch.HeaderSize+len(w.body)+64), nh)
	out = batch.Compress(out, codec, w.body)
	batch.Seal(out)
	return out, nil
}

// emptyBatch returns a batch with no records and the header h, uncompressed,
// as Kafka's writeEmptyHeader.
func emptyBatch(h batch.Header) []byte {
	if h.Attributes&batch.AttrDeleteHorizon != 0 {
		h.BaseTimestamp = h.MaxTimestamp
	}
	h.Attributes &^= batch.AttrCodecMask | batch.AttrDeleteHorizon
	h.NumRecords = 0
	out := batch.AppendHeader(make([]byte, 0, batch.HeaderSize), h)
	batch.Seal(out)
	return out
}

// CleanerStats are the totals of a Manager's cleaning passes.
type CleanerStats struct {
	Passes       int64
	BytesRead    int64 // log bytes read (mapping the dirty section and rewriting)
	BytesWritten int64 // bytes of cleaned segments written
	BytesCleaned int64 // size of the segments rewritten
	RecordsRead  int64
	RecordsKept  int64
	Duration     time.Duration // time spent in passes
	LastPass     time.Duration
	Errors       int64
}
