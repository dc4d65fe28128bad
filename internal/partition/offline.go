package partition

import (
	"errors"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// A replica whose log fails to write or sync goes offline, as a replica
// on a failed log directory in Kafka (LogDirFailureChannel): once a write
// failed, even one the log undid (a full disk), or an fsync failed (the
// kernel may have dropped the pages it could not write), what the files
// hold is not known to be what the replica acknowledged. From the failure
// on the replica acknowledges nothing (WaitForAcks answers
// KAFKA_STORAGE_ERROR, also to the produces already waiting), appends
// nothing, moves no high watermark on a follower's fetch, and serves no
// read (ErrOffline); the log (storage.Log.Fail) refuses writes and its
// Close does not vouch for it, so the next start recovers it as after a
// crash. The storage Manager's OnFailure tells the broker, which takes the
// replica out of service and reports it to the controller.

// Fail takes the replica offline for err (see above). The broker calls it
// for a failure the log found on its own (a background flush or roll); the
// replica calls it itself when its writes fail. It is idempotent.
func (p *Partition) Fail(err error) {
	p.mu.Lock()
	p.failLocked(err)
	p.mu.Unlock()
}

// Failed returns why the replica is offline, or nil.
func (p *Partition) Failed() error { return p.log.Failed() }

// failLocked fails the log and ends the acks=all waits. p.mu is held, so
// an append or a follower fetch that takes it after sees the failure.
func (p *Partition) failLocked(err error) {
	p.log.Fail(err)
	p.closeOnce.Do(func() { close(p.closed) })
	p.wake()
}

// failOnDiskErrorLocked fails the replica if err, from its log, is the
// disk's: not a refused batch, not a closed log. p.mu is held.
func (p *Partition) failOnDiskErrorLocked(err error) {
	if diskError(err) {
		p.failLocked(fmt.Errorf("partition %s-%d: %w", p.Topic, p.Index, err))
	}
}

// diskError reports whether err, returned by a write to the log, came
// from the disk rather than from the checks of what was written.
func diskError(err error) bool {
	return err != nil &&
		!errors.Is(err, storage.ErrClosed) &&
		!errors.Is(err, storage.ErrInvalidBatch) &&
		!errors.Is(err, storage.ErrOffsetOrder) &&
		!errors.Is(err, batch.ErrCorrupt) &&
		!errors.Is(err, ErrLeaderTruncate) &&
		!errors.Is(err, ErrNotFollower)
}
