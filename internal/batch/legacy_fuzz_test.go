package batch

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzLegacyMessageSet feeds hostile bytes to the v0/v1 decoder as a
// consumer (ReadLegacy) and as the produce path (UpConvert). Neither may
// panic; a set UpConvert accepts must become a valid v2 batch holding
// exactly the messages the consumer's view sees, which down-convert back
// to the same keys and values.
func FuzzLegacyMessageSet(f *testing.F) {
	for _, magic := range []int8{0, 1} {
		for _, c := range legacyCodecs {
			f.Add(BuildLegacy(magic, c, sampleLegacy(magic, 3, 4)))
		}
	}
	two := BuildLegacy(1, None, sampleLegacy(1, 0, 2))
	f.Add(append(bytes.Clone(two), two[:len(two)-3]...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, set []byte) {
		checkLegacySet(t, set)
		// Random bytes rarely carry a correct CRC: check them again with the
		// outer messages' CRCs made right, to reach what lies behind them.
		checkLegacySet(t, fixLegacyCRCs(bytes.Clone(set)))
	})
}

// fixLegacyCRCs rewrites the CRC of every whole outer message of set.
func fixLegacyCRCs(set []byte) []byte {
	for pos := 0; len(set)-pos >= legacyLogOverhead+legacyOverheadV0; {
		size := int64(int32(binary.BigEndian.Uint32(set[pos+legacyPosSize:])))
		if size < legacyOverheadV0 || size > int64(len(set)-pos-legacyLogOverhead) {
			break
		}
		end := pos + legacyLogOverhead + int(size)
		binary.BigEndian.PutUint32(set[pos+legacyPosCRC:], crc32.ChecksumIEEE(set[pos+legacyPosMagic:end]))
		pos = end
	}
	return set
}

func checkLegacySet(t *testing.T, set []byte) {
	t.Helper()
	read, readErr := ReadLegacy(set)
	b, code, msg := UpConvert(set)
	if code != 0 {
		if b != nil || msg == "" {
			t.Fatalf("code %d with %d bytes and message %q", code, len(b), msg)
		}
		return
	}
	if readErr != nil {
		t.Fatalf("UpConvert accepted what ReadLegacy refuses: %v", readErr)
	}
	if res := Validate(b, ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
		t.Fatalf("UpConvert made an invalid batch: %d %s", res.Code, res.Message)
	}
	recs, err := Records(b)
	if err != nil || len(recs) != len(read) {
		t.Fatalf("batch of %d records (%v), set of %d messages", len(recs), err, len(read))
	}
	for i, r := range recs {
		if r.Timestamp != read[i].Timestamp || !sameBytes(r.Key, read[i].Key) || !sameBytes(r.Value, read[i].Value) {
			t.Fatalf("record %d: %+v, message %+v", i, r, read[i])
		}
	}
	out, err := DownConvert(nil, b, 1, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadLegacy(out)
	if err != nil || len(back) != len(read) {
		t.Fatalf("down-converted %d messages (%v), want %d", len(back), err, len(read))
	}
	for i := range back {
		if back[i].Offset != int64(i) || !sameBytes(back[i].Key, read[i].Key) || !sameBytes(back[i].Value, read[i].Value) {
			t.Fatalf("message %d back: %+v, was %+v", i, back[i], read[i])
		}
	}
}

// FuzzDownConvert feeds hostile bytes, as a damaged log would hold, to the
// down-conversion: it may refuse them but never panic, and what it writes
// is a message set a consumer reads.
func FuzzDownConvert(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, magic := range []int8{0, 1} {
			out, err := DownConvert(nil, b, magic, 2, 1<<20)
			if err != nil {
				continue
			}
			if _, err := ReadLegacy(out); err != nil {
				t.Fatalf("magic %d: DownConvert wrote what ReadLegacy refuses: %v", magic, err)
			}
		}
	})
}
