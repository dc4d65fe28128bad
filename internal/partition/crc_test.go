package partition

import (
	"encoding/binary"
	"hash/crc32"
)

// fixCRC recomputes a batch's CRC-32C after a test edits its fields.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}
