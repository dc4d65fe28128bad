package group

import "unicode/utf16"

// PartitionFor is the __consumer_offsets partition that holds group, as
// Kafka computes it: Utils.abs(groupId.hashCode()) % partitions, with
// Java's String.hashCode over UTF-16 code units.
func PartitionFor(group string, partitions int32) int32 {
	if partitions <= 0 {
		return 0
	}
	var h int32
	for _, u := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}
