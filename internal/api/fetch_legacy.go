package api

// Fetch v0-v3 predate record batches: their consumers read message sets of
// magic 0 (v0-v1) or magic 1 (v2-v3). As Kafka 3.x, the records read from
// the log are converted down (batch.DownConvert) in memory, never sent with
// sendfile. Fetch before v10 predates zstd and before v6 the storage error;
// current consumers (v10+) never reach this file.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// oldFetchResults adjusts the results of a Fetch before v10 as Kafka 3.x's
// handleFetchRequest does: a partition of a topic with compression.type
// zstd answers UNSUPPORTED_COMPRESSION_TYPE (KIP-110: such a consumer may
// not know zstd); before v6, KAFKA_STORAGE_ERROR, which those consumers do
// not know, becomes NOT_LEADER_OR_FOLLOWER, so that they refresh their
// metadata and retry; before v4 the records are converted down.
func oldFetchResults(targets []fetchTarget, results []fetchResult, version int16) {
	for i := range results {
		r := &results[i]
		if r.code == 0 && targets[i].part != nil && targets[i].part.Config().CompressionType == "zstd" {
			r.region.Release()
			*r = fetchResult{code: kerr.UnsupportedCompressionType.Code, highWatermark: -1, lastStable: -1, logStartOffset: -1}
		}
		if version <= 5 && r.code == kerr.KafkaStorageError.Code {
			r.code = kerr.NotLeaderForPartition.Code
		}
	}
	if version < 4 {
		downConvertResults(targets, results, version)
	}
}

// downConvertResults rewrites every partition's records as a message set
// for a Fetch of the given version (< 4). A zstd batch answers the
// partition UNSUPPORTED_COMPRESSION_TYPE and records the log cannot decode
// CORRUPT_MESSAGE, as Kafka's conversion does; other partitions are served.
func downConvertResults(targets []fetchTarget, results []fetchResult, version int16) {
	magic := int8(1)
	if version <= 1 {
		magic = 0
	}
	for i := range results {
		r := &results[i]
		if r.code != 0 {
			continue
		}
		data := r.records
		if r.region.Size > 0 {
			var err error
			data, err = r.region.Bytes()
			r.region.Release()
			r.region.Size = 0
			if err != nil {
				r.records, r.code = nil, kerr.KafkaStorageError.Code
				continue
			}
		}
		if len(data) == 0 {
			continue
		}
		out, err := batch.DownConvert(nil, data, magic, targets[i].sp.fetchOffset, len(data))
		switch {
		case errors.Is(err, batch.ErrLegacyZstd):
			r.records, r.code = nil, kerr.UnsupportedCompressionType.Code
		case err != nil:
			r.records, r.code = nil, kerr.CorruptMessage.Code
		default:
			r.records = out
		}
	}
}
