package partition

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// EpochCheckpointFile is the leader-epoch cache of a partition directory,
// and HighWatermarkFile the high watermarks of a data directory, both in
// Kafka's checkpoint format: a version line (0), a count line, then one
// entry per line, fields separated by one space, each line ending in \n:
//
//	leader-epoch-checkpoint          replication-offset-checkpoint
//	0                                0
//	2                                2
//	0 0         epoch start-offset   orders 0 1500   topic partition hw
//	3 1200                           orders 1 1498
const (
	EpochCheckpointFile = "leader-epoch-checkpoint"
	HighWatermarkFile   = "replication-offset-checkpoint"
)

// ErrCorruptCheckpoint is a checkpoint file that does not parse.
var ErrCorruptCheckpoint = errors.New("partition: corrupt checkpoint file")

// EncodeEpochCheckpoint writes entries as leader-epoch-checkpoint.
func EncodeEpochCheckpoint(entries []EpochEntry) []byte {
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = fmt.Sprintf("%d %d", e.Epoch, e.StartOffset)
	}
	return encodeCheckpoint(lines)
}

// DecodeEpochCheckpoint reads a leader-epoch-checkpoint: epochs and start
// offsets are non-negative and both strictly increase, as the cache keeps
// them.
func DecodeEpochCheckpoint(b []byte) ([]EpochEntry, error) {
	lines, err := decodeCheckpoint(b)
	if err != nil {
		return nil, err
	}
	entries := make([]EpochEntry, 0, len(lines))
	for i, line := range lines {
		f, err := fields(line, 2)
		if err != nil {
			return nil, err
		}
		epoch, err1 := strconv.ParseInt(f[0], 10, 32)
		start, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return nil, fmt.Errorf("%w: entry %q", ErrCorruptCheckpoint, line)
		}
		if i > 0 && (int32(epoch) <= entries[i-1].Epoch || start <= entries[i-1].StartOffset) {
			return nil, fmt.Errorf("%w: entry %q out of order", ErrCorruptCheckpoint, line)
		}
		entries = append(entries, EpochEntry{Epoch: int32(epoch), StartOffset: start})
	}
	return entries, nil
}

// TopicPartition names a partition in the high-watermark checkpoint.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// EncodeHighWatermarks writes hws as replication-offset-checkpoint, sorted
// by topic and partition so that the same state gives the same bytes.
func EncodeHighWatermarks(hws map[TopicPartition]int64) []byte {
	keys := make([]TopicPartition, 0, len(hws))
	for k := range hws {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b TopicPartition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s %d %d", k.Topic, k.Partition, hws[k])
	}
	return encodeCheckpoint(lines)
}

// DecodeHighWatermarks reads a replication-offset-checkpoint.
func DecodeHighWatermarks(b []byte) (map[TopicPartition]int64, error) {
	lines, err := decodeCheckpoint(b)
	if err != nil {
		return nil, err
	}
	hws := make(map[TopicPartition]int64, len(lines))
	for _, line := range lines {
		f, err := fields(line, 3)
		if err != nil {
			return nil, err
		}
		part, err1 := strconv.ParseInt(f[1], 10, 32)
		hw, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || part < 0 || hw < 0 {
			return nil, fmt.Errorf("%w: entry %q", ErrCorruptCheckpoint, line)
		}
		hws[TopicPartition{Topic: f[0], Partition: int32(part)}] = hw
	}
	return hws, nil
}

// ReadHighWatermarks reads dir's replication-offset-checkpoint; a missing
// file is an empty checkpoint (a new data directory, or one from before
// the file existed).
func ReadHighWatermarks(fsys vfs.FS, dir string) (map[TopicPartition]int64, error) {
	b, err := vfs.ReadFile(fsys, filepath.Join(dir, HighWatermarkFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[TopicPartition]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("partition: reading %s: %w", HighWatermarkFile, err)
	}
	hws, err := DecodeHighWatermarks(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, HighWatermarkFile), err)
	}
	return hws, nil
}

// WriteHighWatermarks replaces dir's replication-offset-checkpoint
// atomically and durably.
func WriteHighWatermarks(fsys vfs.FS, dir string, hws map[TopicPartition]int64) error {
	if err := vfs.WriteFileAtomic(fsys, dir, filepath.Join(dir, HighWatermarkFile), EncodeHighWatermarks(hws)); err != nil {
		return fmt.Errorf("partition: writing %s: %w", HighWatermarkFile, err)
	}
	return nil
}

func encodeCheckpoint(lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(lines))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// decodeCheckpoint checks the version and count lines and returns the
// entry lines: exactly as many as the count says, each ending in \n.
func decodeCheckpoint(b []byte) ([]string, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%w: not ended by a newline", ErrCorruptCheckpoint)
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%w: no count line", ErrCorruptCheckpoint)
	}
	if lines[0] != "0" {
		return nil, fmt.Errorf("%w: version %q, want 0", ErrCorruptCheckpoint, lines[0])
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, fmt.Errorf("%w: count %q for %d entries", ErrCorruptCheckpoint, lines[1], len(lines)-2)
	}
	return lines[2:], nil
}

// fields splits an entry into exactly n fields separated by single spaces.
func fields(line string, n int) ([]string, error) {
	f := strings.Split(line, " ")
	if len(f) != n || slices.Contains(f, "") {
		return nil, fmt.Errorf("%w: entry %q, want %d fields", ErrCorruptCheckpoint, line, n)
	}
	return f, nil
}
