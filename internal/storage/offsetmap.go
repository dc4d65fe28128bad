package storage

import "hash/maphash"

// offsetMapEntryBytes is what one entry of an offsetMap is counted as against
// log.cleaner.dedupe.buffer.size: Kafka's 16-byte key hash and 8-byte offset,
// plus the Go map's own overhead.
const offsetMapEntryBytes = 48

// offsetMap maps the keys of a log's dirty section to the offset of their
// latest record. Like Kafka's SkimpyOffsetMap it stores a 128-bit hash of each
// key instead of the key, so its memory is bounded per entry; the two 64-bit
// halves use independent random seeds, chosen anew for every map, so a
// collision (which would drop the older of two keys' records) has a
// probability of about n²/2¹²⁹ per pass.
type offsetMap struct {
	seeds   [2]maphash.Seed
	offsets map[[2]uint64]int64
	limit   int // entries
}

func newOffsetMap(limit int) *offsetMap {
	return &offsetMap{
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		offsets: make(map[[2]uint64]int64),
		limit:   max(limit, 1),
	}
}

func (m *offsetMap) hash(key []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)}
}

// put records offset as the latest of key; offsets must not decrease.
func (m *offsetMap) put(key []byte, offset int64) {
	m.offsets[m.hash(key)] = offset
}

// get returns the latest offset of key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	if o, ok := m.offsets[m.hash(key)]; ok {
		return o
	}
	return -1
}

// full reports whether the map reached its share of the dedupe buffer.
func (m *offsetMap) full() bool { return len(m.offsets) >= m.limit }

func (m *offsetMap) len() int { return len(m.offsets) }
