package api

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Before Fetch v6, consumers do not know KAFKA_STORAGE_ERROR: it becomes
// NOT_LEADER_OR_FOLLOWER, as in Kafka's maybeDownConvertStorageError.
func TestOldFetchStorageError(t *testing.T) {
	for version, want := range map[int16]int16{
		0: kerr.NotLeaderForPartition.Code, 5: kerr.NotLeaderForPartition.Code,
		6: kerr.KafkaStorageError.Code, 9: kerr.KafkaStorageError.Code,
	} {
		targets := []fetchTarget{{sp: &sessionPartition{}}, {sp: &sessionPartition{}}}
		results := []fetchResult{{code: kerr.KafkaStorageError.Code}, {code: kerr.OffsetOutOfRange.Code}}
		oldFetchResults(targets, results, version)
		if results[0].code != want || results[1].code != kerr.OffsetOutOfRange.Code {
			t.Errorf("v%d: codes %d and %d, want %d and OFFSET_OUT_OF_RANGE", version, results[0].code, results[1].code, want)
		}
	}
}
