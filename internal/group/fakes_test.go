package group

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// fakeClock fires timers only when a test advances it, in time order, in
// the advancing goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.stopped = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
	}
}

// memoryLog is an in-memory __consumer_offsets partition. Its high
// watermark follows its log end, unless a test holds it (hold): then it
// stays until release moves it, as a follower that has not fetched yet
// keeps it.
type memoryLog struct {
	mu      sync.Mutex
	recs    []batch.Record
	infos   []BatchInfo     // of each record of recs; the zero value is a plain batch's
	epochs  map[int64]int16 // each producer's epoch, as the partition's producer state
	fail    bool
	held    bool
	hw      int64
	moved   chan struct{} // closed when the high watermark moves
	waitErr error         // WaitCommitted's answer once set (leadership lost)
	waiting int           // WaitCommitted calls waiting
}

func (l *memoryLog) Append(recs []batch.Record) (int64, error) {
	return l.append(BatchInfo{ProducerID: -1}, -1, recs)
}

// AppendTxn refuses an epoch older than the producer's, as the
// partition's producer state does.
func (l *memoryLog) AppendTxn(producerID int64, producerEpoch int16, recs []batch.Record) (int64, error) {
	return l.append(BatchInfo{ProducerID: producerID, Transactional: true}, producerEpoch, recs)
}

func (l *memoryLog) append(info BatchInfo, epoch int16, recs []batch.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return 0, errors.New("memory log: failing")
	}
	if info.ProducerID >= 0 {
		if e, ok := l.epochs[info.ProducerID]; ok && epoch < e {
			return 0, fmt.Errorf("memory log: producer %d epoch %d below %d: %w", info.ProducerID, epoch, e, kerr.InvalidProducerEpoch)
		}
		if l.epochs == nil {
			l.epochs = map[int64]int16{}
		}
		l.epochs[info.ProducerID] = epoch
	}
	for _, r := range recs {
		r.Offset = int64(len(l.recs))
		l.recs = append(l.recs, r)
		l.infos = append(l.infos, info)
	}
	return int64(len(l.recs)), nil
}

// marker appends producerID's transaction marker at producerEpoch.
func (l *memoryLog) marker(producerID int64, producerEpoch int16, commit bool) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epochs == nil {
		l.epochs = map[int64]int16{}
	}
	l.epochs[producerID] = max(l.epochs[producerID], producerEpoch)
	l.recs = append(l.recs, batch.Record{Offset: int64(len(l.recs))})
	l.infos = append(l.infos, BatchInfo{ProducerID: producerID, Transactional: true, Control: true, Marker: txn.Marker{Commit: commit}})
	return int64(len(l.recs))
}

func (l *memoryLog) committedLocked() int64 {
	if l.held {
		return l.hw
	}
	return int64(len(l.recs))
}

func (l *memoryLog) Committed() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.committedLocked()
}

func (l *memoryLog) WaitCommitted(end int64, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		l.mu.Lock()
		if l.waitErr != nil {
			l.mu.Unlock()
			return l.waitErr
		}
		if l.committedLocked() >= end {
			l.mu.Unlock()
			return nil
		}
		if l.moved == nil {
			l.moved = make(chan struct{})
		}
		moved := l.moved
		l.waiting++
		l.mu.Unlock()
		expired := false
		select {
		case <-moved:
		case <-t.C:
			expired = true
		}
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
		if expired {
			return errors.New("memory log: timed out")
		}
	}
}

// hold keeps the high watermark where it is until release.
func (l *memoryLog) hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hw, l.held = l.committedLocked(), true
}

// release moves the held high watermark to hw (-1: the log end, and it
// follows the log end again).
func (l *memoryLog) release(hw int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hw < 0 {
		l.held = false
	} else {
		l.hw = hw
	}
	l.wakeLocked()
}

// failWaits makes every wait for the commit end with err (the partition's
// leadership moved).
func (l *memoryLog) failWaits(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waitErr = err
	l.wakeLocked()
}

// waiters is how many WaitCommitted calls wait.
func (l *memoryLog) waiters() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}

func (l *memoryLog) wakeLocked() {
	if l.moved != nil {
		close(l.moved)
		l.moved = nil
	}
}

func (l *memoryLog) setFailing(fail bool) {
	l.mu.Lock()
	l.fail = fail
	l.mu.Unlock()
}

// logOf is the memory log of a coordinator's only shard.
func logOf(c *Coordinator) *memoryLog {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.shards[0].log.(*memoryLog)
}

// logRecords copies what l holds.
func logRecords(l *memoryLog) []batch.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]batch.Record(nil), l.recs...)
}

func (l *memoryLog) Replay(fn func(batch.Record, BatchInfo) error) error {
	l.mu.Lock()
	recs := append([]batch.Record(nil), l.recs...)
	infos := append([]BatchInfo(nil), l.infos...)
	l.mu.Unlock()
	for i, r := range recs {
		info := BatchInfo{ProducerID: -1}
		if i < len(infos) {
			info = infos[i]
		}
		if err := fn(r, info); err != nil {
			return err
		}
	}
	return nil
}

// listed is c.ListGroups, failing t on an error code.
func listed(t testing.TB, c *Coordinator, states, types []string) []Listing {
	t.Helper()
	l, code := c.ListGroups(states, types)
	if code != 0 {
		t.Fatalf("ListGroups: %v", kerr.ErrorForCode(code))
	}
	return l
}
