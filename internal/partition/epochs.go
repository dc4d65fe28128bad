package partition

import "slices"

// EpochEntry says that leader epoch Epoch wrote its first record at
// StartOffset.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// EpochCache is the leader-epoch cache of one log (Kafka's
// LeaderEpochFileCache): for every leader epoch that wrote to the log, the
// offset of its first record, epochs and offsets both increasing. A leader
// answers OffsetForLeaderEpoch from it, and a follower finds from the
// leader's answer where its log diverges. It does no I/O: the partition
// writes it to leader-epoch-checkpoint when it changes.
type EpochCache struct {
	entries []EpochEntry
}

// Entries returns a copy of the cache's entries, oldest first.
func (c *EpochCache) Entries() []EpochEntry { return slices.Clone(c.entries) }

// Latest is the newest entry, or false when the cache is empty.
func (c *EpochCache) Latest() (EpochEntry, bool) {
	if len(c.entries) == 0 {
		return EpochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// Assign records that epoch starts at startOffset and reports whether the
// cache changed. As Kafka, an entry for the latest epoch at the same or a
// later offset changes nothing, and entries the new one contradicts (an
// epoch not below it, or a start offset not below its own) are dropped, so
// the cache stays monotonic in both. A negative epoch (a batch written by
// a broker too old to stamp one) is not recorded.
func (c *EpochCache) Assign(epoch int32, startOffset int64) bool {
	if epoch < 0 || startOffset < 0 {
		return false
	}
	if last, ok := c.Latest(); ok && last.Epoch == epoch && last.StartOffset <= startOffset {
		return false
	}
	c.entries = slices.DeleteFunc(c.entries, func(e EpochEntry) bool {
		return e.Epoch >= epoch || e.StartOffset >= startOffset
	})
	c.entries = append(c.entries, EpochEntry{Epoch: epoch, StartOffset: startOffset})
	return true
}

// Clear drops every entry (the log was emptied) and reports whether the
// cache changed.
func (c *EpochCache) Clear() bool {
	n := len(c.entries)
	c.entries = nil
	return n > 0
}

// TruncateFromEnd drops the entries starting at or after endOffset, after
// the log was truncated to endOffset, and reports whether the cache changed.
func (c *EpochCache) TruncateFromEnd(endOffset int64) bool {
	if endOffset < 0 {
		return false
	}
	n := len(c.entries)
	c.entries = slices.DeleteFunc(c.entries, func(e EpochEntry) bool { return e.StartOffset >= endOffset })
	return len(c.entries) != n
}

// TruncateFromStart drops the entries wholly below startOffset, after the
// log start moved there (retention, DeleteRecords), and reports whether the
// cache changed. The last entry at or below startOffset stays, moved to
// startOffset: its epoch still wrote the records from there on.
func (c *EpochCache) TruncateFromStart(startOffset int64) bool {
	if startOffset < 0 || len(c.entries) == 0 || c.entries[0].StartOffset >= startOffset {
		return false
	}
	i := 0 // the last entry starting at or below startOffset
	for i+1 < len(c.entries) && c.entries[i+1].StartOffset <= startOffset {
		i++
	}
	c.entries = c.entries[i:]
	c.entries[0].StartOffset = startOffset
	return true
}

// EndOffsetFor answers OffsetForLeaderEpoch as Kafka's endOffsetFor does:
// for the latest epoch, the log end offset; for an older one, the start of
// the first epoch after it, together with the largest epoch at or below the
// one asked (the one the answer's offset ends); for an epoch below every
// entry, that epoch and the first entry's start. An epoch above the latest,
// or an empty cache, is unknown: (-1, -1).
func (c *EpochCache) EndOffsetFor(epoch int32, logEndOffset int64) (int32, int64) {
	last, ok := c.Latest()
	switch {
	case epoch < 0 || !ok:
		return -1, -1
	case last.Epoch == epoch:
		return epoch, logEndOffset
	}
	higher := -1 // the first entry whose epoch is above the one asked
	for i, e := range c.entries {
		if e.Epoch > epoch {
			higher = i
			break
		}
	}
	switch higher {
	case -1:
		return -1, -1
	case 0:
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}
