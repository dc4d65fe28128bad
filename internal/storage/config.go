package storage

import (
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

var (
	// ErrOffsetOutOfRange is returned for reads below the log start offset or
	// above the log end offset.
	ErrOffsetOutOfRange = errors.New("storage: offset out of range")
	// ErrCorrupt wraps every error about bad bytes on disk.
	ErrCorrupt = errors.New("storage: corrupt data on disk")
	// ErrClosed is returned by a closed Log or Manager.
	ErrClosed = errors.New("storage: log closed")
	// ErrInvalidBatch is returned by Append for bytes that are not whole v2 batches.
	ErrInvalidBatch = errors.New("storage: invalid record batch")
	// ErrOffsetOrder is returned by AppendAsFollower for batches below the log
	// end offset or overlapping each other.
	ErrOffsetOrder = errors.New("storage: batch offsets out of order")
)

// Config is the per-log configuration, with Kafka's topic config names.
type Config struct {
	SegmentBytes       int64 // segment.bytes, default 1 GiB
	SegmentMs          int64 // segment.ms, default 7 days: roll when the active segment's first batch is older (appended longer ago by Options.Now; after a restart, by its max timestamp)
	IndexIntervalBytes int32 // index.interval.bytes, default 4096
	RetentionMs        int64 // retention.ms, -1 unlimited
	RetentionBytes     int64 // retention.bytes, -1 unlimited
	FlushMessages      int64 // flush.messages: fsync once this many messages are unflushed (math.MaxInt64 = never by count)
	FlushMs            int64 // flush.ms: fsync data older than this (math.MaxInt64 = never by time)

	// Compact and Delete are cleanup.policy. Delete applies retention.ms and
	// retention.bytes; Compact lets the cleaner keep only the latest record of
	// each key. A Config with neither set is treated as delete, the default.
	Compact, Delete        bool
	DeleteRetentionMs      int64   // delete.retention.ms: how long a tombstone survives once its batch was cleaned
	MinCleanableDirtyRatio float64 // min.cleanable.dirty.ratio: dirty bytes / cleanable bytes that make a log worth cleaning
	MinCompactionLagMs     int64   // min.compaction.lag.ms: segments with newer records are not cleaned yet
	MaxCompactionLagMs     int64   // max.compaction.lag.ms: dirty records older than this force a cleaning whatever the ratio
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * time.Hour.Milliseconds(),
		IndexIntervalBytes: 4096,
		RetentionMs:        7 * 24 * time.Hour.Milliseconds(),
		RetentionBytes:     -1,
		FlushMessages:      math.MaxInt64,
		FlushMs:            math.MaxInt64,
		Delete:             true,

		DeleteRetentionMs:      24 * time.Hour.Milliseconds(),
		MinCleanableDirtyRatio: 0.5,
		MaxCompactionLagMs:     math.MaxInt64,
	}
}

// normalized returns c with out-of-range values replaced: positions in a segment
// are 4-byte integers, so a segment holds at most math.MaxInt32 bytes.
func (c Config) normalized() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.FlushMessages <= 0 {
		c.FlushMessages = 1
	}
	if c.FlushMs < 0 {
		c.FlushMs = 0
	}
	if !c.Compact && !c.Delete {
		c.Delete = true
	}
	if c.DeleteRetentionMs < 0 {
		c.DeleteRetentionMs = 0
	}
	if c.MaxCompactionLagMs <= 0 {
		c.MaxCompactionLagMs = math.MaxInt64
	}
	if c.MinCompactionLagMs < 0 {
		c.MinCompactionLagMs = 0
	}
	return c
}

// Options are the Manager's injected dependencies.
type Options struct {
	FS     vfs.FS           // nil = vfs.OS()
	Now    func() time.Time // nil = time.Now
	Logger *slog.Logger     // nil = discard
	// MaxOpenSegments bounds the handles of segment files kept open across the
	// Manager (default 1000): read handles and active segments' write handles
	// alike, so a log holds no descriptor while unused.
	MaxOpenSegments int
	// RecoveryThreads is num.recovery.threads.per.data.dir: how many logs
	// Close closes at once (default 1, Kafka's).
	RecoveryThreads int
	// Cleaner configures the log cleaner of compacted logs.
	Cleaner CleanerOptions
	// OnFailure, if set, is called once for each log that fails (see
	// Log.Failed), with the log's lock held: it must neither block nor
	// call the log. The broker takes the replica offline from it, as
	// Kafka's LogDirFailureChannel hands a failed directory to its
	// handler thread.
	OnFailure func(topic string, partition int32, err error)
}

// CleanerOptions are the log.cleaner.* broker configs.
type CleanerOptions struct {
	// Threads is log.cleaner.threads: how many logs are cleaned at once. Zero
	// starts no cleaner goroutine (logs are then cleaned only by tests).
	Threads int
	// IOMaxBytesPerSecond is log.cleaner.io.max.bytes.per.second: the bytes
	// read plus written per second by all cleaner threads together; <= 0 is
	// unlimited.
	IOMaxBytesPerSecond float64
	// Backoff is log.cleaner.backoff.ms: how long an idle cleaner thread
	// sleeps before looking for work again (default 15 s).
	Backoff time.Duration
	// DedupeBufferSize is log.cleaner.dedupe.buffer.size: the memory of the
	// offset maps of all threads (default 128 MiB); a pass cleans only as much
	// of the dirty section as its share of it can map.
	DedupeBufferSize int64
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxOpenSegments <= 0 {
		o.MaxOpenSegments = 1000
	}
	if o.RecoveryThreads <= 0 {
		o.RecoveryThreads = 1
	}
	if o.Cleaner.Backoff <= 0 {
		o.Cleaner.Backoff = 15 * time.Second
	}
	if o.Cleaner.DedupeBufferSize <= 0 {
		o.Cleaner.DedupeBufferSize = 128 << 20
	}
	return o
}
