package batch

import (
	"bytes"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	for _, c := range allCodecs {
		f.Add(Build(BuildOptions{Codec: c, ProducerID: 1, BaseSequence: 3}, sampleRecords(5)))
	}
	f.Add(Build(plain(), nil))
	two := Build(plain(), sampleRecords(2))
	f.Add(append(bytes.Clone(two), two...))
	f.Add([]byte{})
}

func FuzzValidate(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		res := Validate(b, ValidateOptions{MaxBatchBytes: 1 << 20})
		if res.Code != 0 {
			if res.Header != (Header{}) || res.Message == "" {
				t.Fatalf("code %d, header %+v, message %q", res.Code, res.Header, res.Message)
			}
			return
		}
		var seen []Header
		if err := Iterate(b, func(h Header, batch []byte) bool {
			seen = append(seen, h)
			return true
		}); err != nil {
			t.Fatalf("Validate ok but Iterate: %v", err)
		}
		if len(seen) != 1 || seen[0] != res.Header {
			t.Fatalf("Validate saw %+v, Iterate %+v", res.Header, seen)
		}
		// What Validate accepts, the broker's own decoder and franz-go's
		// read back whole: that is what keeps consumers from looping.
		recs, err := Records(b)
		if err != nil {
			t.Fatalf("Validate ok but Records: %v", err)
		}
		if len(recs) != int(res.Header.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), res.Header.NumRecords)
		}
		for i, r := range recs {
			if r.Offset != res.Header.BaseOffset+int64(i) {
				t.Fatalf("record %d has offset %d, base %d", i, r.Offset, res.Header.BaseOffset)
			}
		}
		checkKmsgReads(t, b, res.Header)
	})
}

func FuzzRecords(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := Records(b)
		if err != nil {
			return
		}
		h, _ := ParseHeader(b)
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("%d records, header says %d", len(recs), h.NumRecords)
		}
	})
}

func FuzzIterate(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		Iterate(b, func(h Header, batch []byte) bool {
			if h.Size() != len(batch) || h.Size() < HeaderSize {
				t.Fatalf("batch of %d bytes for header %+v", len(batch), h)
			}
			total += len(batch)
			return true
		})
		if total > len(b) {
			t.Fatalf("iterated %d bytes of %d", total, len(b))
		}
	})
}

// FuzzValidateRecords fuzzes what FuzzValidate rarely reaches behind the
// CRC: the records section, compressed by us (record structure under each
// codec) or taken as the payload itself (garbage for the decompressors).
// Whatever Validate accepts, Records and franz-go's kmsg must read whole.
func FuzzValidateRecords(f *testing.F) {
	for _, c := range allCodecs {
		b := Build(BuildOptions{Codec: None, ProducerID: -1, BaseSequence: -1}, sampleRecords(5))
		f.Add(byte(c), int32(5), false, b[HeaderSize:])
		f.Add(byte(c), int32(5), true, Build(BuildOptions{Codec: c, ProducerID: -1, BaseSequence: -1}, sampleRecords(5))[HeaderSize:])
	}
	f.Add(byte(None), int32(2), false, recs(2, func(i int, r *rec) { r.headerCount = ptr(3) }))
	f.Fuzz(func(t *testing.T, codec byte, count int32, raw bool, section []byte) {
		c := Codec(codec % 5)
		if count <= 0 || count > 1<<16 {
			return
		}
		var b []byte
		if raw {
			b = sealBatch(c, count, nil, section)
		} else {
			b = rawBatch(c, count, section)
		}
		res := Validate(b, ValidateOptions{MaxBatchBytes: -1, Compacted: codec&0x80 != 0})
		if res.Code == 0 && res.Header.NumRecords != count {
			t.Fatalf("accepted with count %d, header %+v", count, res.Header)
		}
		if res.Code != 0 {
			if res.Message == "" {
				t.Fatalf("code %d without a message", res.Code)
			}
			return
		}
		recs, err := Records(b)
		if err != nil {
			t.Fatalf("Validate ok but Records: %v", err)
		}
		if len(recs) != int(count) {
			t.Fatalf("%d records, header says %d", len(recs), count)
		}
		for i, r := range recs {
			if r.Offset != int64(i) || codec&0x80 != 0 && r.Key == nil {
				t.Fatalf("record %d: offset %d, key %v", i, r.Offset, r.Key)
			}
		}
		checkKmsgReads(t, b, res.Header)
	})
}
