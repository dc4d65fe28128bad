package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// ReadReplicaLog returns the record batches of one partition's log in a
// stopped node's data directory (storage's layout: <dataDir>/<topic>-<n>/,
// segments named by base offset), the segments' .log files concatenated in
// offset order. Read it only after the node stopped cleanly: a crashed
// node's last segment may end in a torn batch, and a pending truncation is
// applied only when the log opens.
func ReadReplicaLog(dataDir, topic string, partition int32) ([]byte, error) {
	dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, partition))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		// Base offsets are 20 zero-padded digits: name order is offset order.
		if n := e.Name(); strings.HasSuffix(n, ".log") && len(n) == 24 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var all []byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		all = append(all, b...)
	}
	return all, nil
}

// storedBatch is one batch of a replica's log.
type storedBatch struct {
	base, last int64
	bytes      []byte
}

func batchesBelow(log []byte, hw int64) ([]storedBatch, error) {
	var out []storedBatch
	err := batch.Iterate(log, func(h batch.Header, b []byte) bool {
		if h.BaseOffset >= hw {
			return false
		}
		out = append(out, storedBatch{base: h.BaseOffset, last: h.LastOffset(), bytes: b})
		return true
	})
	return out, err
}

// CompareReplicas compares the logs of one partition's replicas (node ID
// -> the bytes ReadReplicaLog returned) below the high watermark hw: every
// replica must hold the same batches, byte for byte, from the highest log
// start among them up to hw. It returns one Divergence per replica that
// differs from the lowest-numbered replica holding the most batches below
// hw, naming the first offset where they part.
func CompareReplicas(topic string, partition int32, hw int64, logs map[int][]byte) []Anomaly {
	type replica struct {
		node    int
		batches []storedBatch
	}
	var reps []replica
	var out []Anomaly
	for _, node := range slices.Sorted(func(yield func(int) bool) {
		for n := range logs {
			if !yield(n) {
				return
			}
		}
	}) {
		bs, err := batchesBelow(logs[node], hw)
		if err != nil {
			out = append(out, Anomaly{Kind: Divergence, Topic: topic, Partition: partition, Node: node,
				Detail: fmt.Sprintf("node %d: unreadable log: %v", node, err)})
			continue
		}
		reps = append(reps, replica{node: node, batches: bs})
	}
	if len(reps) < 2 {
		return out
	}
	// Retention may have removed old segments unevenly: compare from the
	// highest first offset any replica still has.
	start := int64(0)
	for _, r := range reps {
		if len(r.batches) > 0 {
			start = max(start, r.batches[0].base)
		}
	}
	for i := range reps {
		j := 0
		for j < len(reps[i].batches) && reps[i].batches[j].base < start {
			j++
		}
		reps[i].batches = reps[i].batches[j:]
	}
	ref := reps[0]
	for _, r := range reps[1:] {
		if len(r.batches) > len(ref.batches) {
			ref = r
		}
	}
	for _, r := range reps {
		if r.node == ref.node {
			continue
		}
		if a, ok := diverge(topic, partition, hw, ref.node, ref.batches, r.node, r.batches); !ok {
			out = append(out, a)
		}
	}
	return out
}

// diverge compares replica b against reference a.
func diverge(topic string, partition int32, hw int64, na int, a []storedBatch, nb int, b []storedBatch) (Anomaly, bool) {
	an := Anomaly{Kind: Divergence, Topic: topic, Partition: partition, Node: nb}
	for i := range a {
		if i >= len(b) {
			an.Offset = a[i].base
			an.Detail = fmt.Sprintf("node %d ends at offset %d, node %d holds batches up to %d, below the high watermark %d",
				nb, a[i].base, na, a[len(a)-1].last, hw)
			return an, false
		}
		if a[i].base != b[i].base || !bytes.Equal(a[i].bytes, b[i].bytes) {
			an.Offset = min(a[i].base, b[i].base)
			an.Detail = fmt.Sprintf("node %d's batch at offset %d (%d bytes) differs from node %d's at %d (%d bytes)",
				nb, b[i].base, len(b[i].bytes), na, a[i].base, len(a[i].bytes))
			return an, false
		}
	}
	return an, true
}
