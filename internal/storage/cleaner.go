package storage

import (
	"errors"
	"math"
	"sync"
	"time"
)

// cleanerState is the Manager's side of log compaction: which logs a thread is
// cleaning, the shared I/O throttle and the totals.
type cleanerState struct {
	opts     CleanerOptions
	throttle *throttler

	mu       sync.Mutex
	inFlight map[*Log]bool
	stats    CleanerStats
}

// startCleaner starts opts.Threads cleaner goroutines, each owning a share of
// the dedupe buffer. Manager.Close stops them.
func (m *Manager) startCleaner(opts CleanerOptions) {
	m.cleaner = cleanerState{opts: opts, inFlight: map[*Log]bool{}}
	if opts.IOMaxBytesPerSecond > 0 && !math.IsInf(opts.IOMaxBytesPerSecond, 1) {
		m.cleaner.throttle = &throttler{rate: opts.IOMaxBytesPerSecond}
	}
	for range opts.Threads {
		m.wg.Add(1)
		go m.runCleaner()
	}
}

func (m *Manager) runCleaner() {
	defer m.wg.Done()
	for {
		select {
		case <-m.quit:
			return
		default:
		}
		if m.cleanOnce(m.now()) {
			continue
		}
		t := time.NewTimer(m.cleaner.opts.Backoff)
		select {
		case <-m.quit:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// mapEntries is the offset map size of one thread.
func (m *Manager) mapEntries() int {
	threads := max(m.cleaner.opts.Threads, 1)
	return int(m.cleaner.opts.DedupeBufferSize / int64(threads) / offsetMapEntryBytes)
}

// cleanOnce cleans the compacted log that most needs it, if any: a log whose
// max.compaction.lag.ms passed or whose tombstones are due first, then the
// one with the highest dirty ratio at or above its min.cleanable.dirty.ratio.
// It reports whether it cleaned one.
func (m *Manager) cleanOnce(now time.Time) bool {
	m.mu.Lock()
	logs := make([]*Log, 0, len(m.logs))
	for _, l := range m.logs {
		logs = append(logs, l)
	}
	m.mu.Unlock()

	var best *Log
	var bestPlan cleanPlan
	for _, l := range logs {
		m.cleaner.mu.Lock()
		busy := m.cleaner.inFlight[l]
		m.cleaner.mu.Unlock()
		if busy || l.closedFlag.Load() {
			continue
		}
		p, ok, err := l.planClean(now.UnixMilli())
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				m.logger.Warn("cannot plan log cleaning", "dir", l.dir, "err", err)
			}
			continue
		}
		if ok && (best == nil || (p.forced && !bestPlan.forced) || (p.forced == bestPlan.forced && p.ratio > bestPlan.ratio)) {
			best, bestPlan = l, p
		}
	}
	if best == nil {
		return false
	}
	m.cleaner.mu.Lock()
	if m.cleaner.inFlight[best] {
		m.cleaner.mu.Unlock()
		return true // another thread took it meanwhile; look again
	}
	m.cleaner.inFlight[best] = true
	m.cleaner.mu.Unlock()
	defer func() {
		m.cleaner.mu.Lock()
		delete(m.cleaner.inFlight, best)
		m.cleaner.mu.Unlock()
	}()
	_, err := m.cleanLog(best, now, bestPlan)
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, errCleanAborted) {
		m.logger.Error("log cleaning failed", "dir", best.dir, "err", err)
	}
	return err == nil
}

// cleanLog runs one pass of p on l and adds it to the stats.
func (m *Manager) cleanLog(l *Log, now time.Time, p cleanPlan) (passStats, error) {
	start := time.Now()
	st, err := l.clean(now.UnixMilli(), p, cleaner{mapEntries: m.mapEntries(), throttle: m.cleaner.throttle, quit: m.quit})
	took := time.Since(start)
	m.cleaner.mu.Lock()
	defer m.cleaner.mu.Unlock()
	s := &m.cleaner.stats
	s.BytesRead += st.bytesRead
	s.BytesWritten += st.bytesWritten
	s.RecordsRead += st.recordsRead
	s.RecordsKept += st.recordsKept
	s.Duration += took
	if err != nil {
		s.Errors++
		return st, err
	}
	s.Passes++
	s.BytesCleaned += p.totalBytes
	s.LastPass = took
	m.logger.Info("cleaned log", "dir", l.dir, "segments", st.segmentsIn, "into", st.segmentsOut,
		"bytes_before", p.totalBytes, "bytes_after", st.bytesWritten, "records_kept", st.recordsKept,
		"records_read", st.recordsRead, "took", took)
	return st, nil
}

// CleanerStats returns the totals of the cleaning passes so far.
func (m *Manager) CleanerStats() CleanerStats {
	m.cleaner.mu.Lock()
	defer m.cleaner.mu.Unlock()
	return m.cleaner.stats
}

// throttler bounds the cleaner threads' I/O to rate bytes per second, shared
// by all of them, like Kafka's Throttler: it sleeps whoever makes the rate
// over the current window exceed the limit.
type throttler struct {
	rate float64

	mu     sync.Mutex
	window time.Time
	bytes  float64
}

// wait accounts n bytes and sleeps as long as the rate requires; it returns
// false if quit is closed, so that a pass stops soon after Manager.Close. A
// nil throttler never sleeps.
func (t *throttler) wait(n int64, quit <-chan struct{}) bool {
	select {
	case <-quit:
		return false
	default:
	}
	if t == nil {
		return true
	}
	t.mu.Lock()
	now := time.Now()
	if t.window.IsZero() || now.Sub(t.window) > time.Second {
		t.window, t.bytes = now, 0
	}
	t.bytes += float64(n)
	sleep := time.Duration(t.bytes/t.rate*float64(time.Second)) - now.Sub(t.window)
	t.mu.Unlock()
	if sleep <= 0 {
		return true
	}
	timer := time.NewTimer(sleep)
	defer timer.Stop()
	select {
	case <-quit:
		return false
	case <-timer.C:
		return true
	}
}
