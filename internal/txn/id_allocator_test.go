package txn

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// blocks reserves consecutive blocks of size, as the metadata quorum does.
type blocks struct {
	mu    sync.Mutex
	next  int64
	size  int64
	calls int
	err   error
}

func (b *blocks) allocate(context.Context) (int64, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.err != nil {
		return 0, 0, b.err
	}
	first := b.next
	b.next += b.size
	return first, b.size, nil
}

func TestIDAllocatorConcurrentUnique(t *testing.T) {
	src := &blocks{next: 1000, size: 7}
	a := NewIDAllocator(src.allocate)
	const goroutines, each = 8, 50
	ids := make(chan int64, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				id, err := a.Next(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := make(map[int64]bool)
	for id := range ids {
		if seen[id] || id < 1000 || id >= 1000+goroutines*each {
			t.Fatalf("id %d repeated or outside the blocks", id)
		}
		seen[id] = true
	}
	if want := (goroutines*each + 6) / 7; src.calls != want {
		t.Fatalf("%d block fetches, want %d", src.calls, want)
	}
}

func TestIDAllocatorErrors(t *testing.T) {
	src := &blocks{size: 2, err: errors.New("no quorum")}
	a := NewIDAllocator(src.allocate)
	if _, err := a.Next(t.Context()); err == nil || !errors.Is(err, src.err) {
		t.Fatalf("want the block error, got %v", err)
	}
	src.err = nil
	for want := range int64(3) {
		if id, err := a.Next(t.Context()); err != nil || id != want {
			t.Fatalf("after recovery: %d %v, want %d", id, err, want)
		}
	}
	for _, bad := range [][2]int64{{-1, 5}, {10, 0}, {10, -3}, {1<<63 - 2, 5}} {
		a := NewIDAllocator(func(context.Context) (int64, int64, error) { return bad[0], bad[1], nil })
		if _, err := a.Next(t.Context()); !errors.Is(err, ErrBadIDBlock) {
			t.Fatalf("block %v: %v", bad, err)
		}
	}
}

func TestIDAllocatorWaiterHonoursContext(t *testing.T) {
	release := make(chan struct{})
	a := NewIDAllocator(func(ctx context.Context) (int64, int64, error) {
		<-release
		return 0, 10, nil
	})
	done := make(chan error, 1)
	go func() { _, err := a.Next(context.Background()); done <- err }()
	// Wait until the first caller holds the allocator.
	for len(a.sem) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if id, err := a.Next(t.Context()); err != nil || id != 1 {
		t.Fatalf("next: %d %v", id, err)
	}
}
