package storage

import (
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestConcurrentAppendReadRetention runs appends, flushes, reads at random
// offsets, retention and DeleteRecordsBefore together; under -race this checks
// the snapshot discipline, and every read must return whole valid batches
// holding the asked offset.
func TestConcurrentAppendReadRetention(t *testing.T) {
	e := newEnv(t)
	cfg := smallConfig()
	cfg.SegmentBytes = 500
	cfg.RetentionBytes = 3000
	l := e.open(cfg)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		for i := 0; i < 600; i++ {
			if _, err := l.Append(makeBatch(1+i%4, int64(i), "w")); err != nil {
				report(err)
				return
			}
			if i%10 == 0 {
				if err := l.Flush(); err != nil {
					report(err)
					return
				}
			}
		}
	}()
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := r; !stop.Load(); i++ {
				start, leo := l.LogStartOffset(), l.LogEndOffset()
				if leo == start {
					continue
				}
				off := start + int64(i*31)%(leo-start)
				data, err := l.Read(off, 300, math.MaxInt64)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start meanwhile
				}
				if err != nil {
					report(err)
					return
				}
				if len(data) == 0 {
					report(errors.New("empty read below LEO"))
					return
				}
				for rest := data; len(rest) > 0; {
					bh, err := parseHeader(rest)
					if err != nil || bh.Size() > len(rest) || !batch.ValidCRC(rest[:bh.Size()]) {
						report(errors.New("read returned a bad batch"))
						return
					}
					rest = rest[bh.Size():]
				}
				h, _ := parseHeader(data)
				if h.BaseOffset > off || h.LastOffset() < off {
					report(errors.New("first batch does not hold the offset"))
					return
				}
				l.FindBatchByTimestamp(int64(i % 600))
			}
		}(r)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if _, err := l.EnforceRetention(e.clock.Now()); err != nil {
				report(err)
				return
			}
			if leo := l.LogEndOffset(); leo > 100 {
				if err := l.DeleteRecordsBefore(max(l.LogStartOffset(), leo-100)); err != nil {
					report(err)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := l.EnforceRetention(e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if l.Size() > 3000+500 {
		t.Fatalf("size %d over retention", l.Size())
	}
}

// TestManagerBackground lets the Manager's goroutine enforce retention, then
// checks that Close stops it.
func TestManagerBackground(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t)
	e.m.Close()
	m, err := NewManager("/data", e.opts(), 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig()
	cfg.SegmentBytes = 200
	cfg.RetentionBytes = 0
	l, err := m.OpenLog("bg", 0, [16]byte{3}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		mustAppend(t, l, makeBatch(2, 0, "bg"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		n := len(l.segments)
		l.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retention did not run: %d segments", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(1, 0, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
	for i := 0; runtime.NumGoroutine() > before && i < 100; i++ {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}
