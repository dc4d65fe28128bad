package txn

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// ErrBadIDBlock is returned by Next when the block allocator hands back an
// empty or negative range.
var ErrBadIDBlock = errors.New("txn: invalid producer ID block")

// IDAllocator hands out producer IDs from blocks reserved by allocateBlock
// (the metadata quorum records each block, so no ID is reused, even across
// restarts). It is safe for concurrent use. IDs left in a block when the
// process stops are simply never used.
type IDAllocator struct {
	allocateBlock func(ctx context.Context) (first, size int64, err error)

	// sem is held (one token) by the caller using next and end; a channel
	// rather than a mutex so a caller waiting behind a slow block fetch can
	// give up when its context ends.
	sem       chan struct{}
	next, end int64 // the unused IDs of the current block: [next, end)
}

// NewIDAllocator returns an allocator that calls allocateBlock whenever its
// current block is used up. allocateBlock returns the block's first ID and
// its size.
func NewIDAllocator(allocateBlock func(ctx context.Context) (first int64, size int64, err error)) *IDAllocator {
	return &IDAllocator{allocateBlock: allocateBlock, sem: make(chan struct{}, 1)}
}

// Next returns an unused producer ID, fetching a new block first if the
// current one is used up. It returns an error if ctx ends first or the block
// cannot be fetched; a later call tries again.
func (a *IDAllocator) Next(ctx context.Context) (int64, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	defer func() { <-a.sem }()
	if a.next >= a.end {
		first, size, err := a.allocateBlock(ctx)
		if err != nil {
			return -1, fmt.Errorf("txn: allocate producer ID block: %w", err)
		}
		if first < 0 || size <= 0 || first > math.MaxInt64-size {
			return -1, fmt.Errorf("%w: first %d, size %d", ErrBadIDBlock, first, size)
		}
		a.next, a.end = first, first+size
	}
	id := a.next
	a.next++
	return id, nil
}
