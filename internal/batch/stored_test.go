package batch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	good, _ := ParseHeader(Build(plain(), sampleRecords(3)))
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	empty := good
	empty.NumRecords = 0 // a cleaned batch keeps its delta with no records
	if err := empty.Check(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Header){
		"short length":   func(h *Header) { h.Length = minLength - 1 },
		"huge length":    func(h *Header) { h.Length = MaxLength + 1 },
		"magic 1":        func(h *Header) { h.Magic = 1 },
		"negative delta": func(h *Header) { h.LastOffsetDelta = -1 },
		"negative count": func(h *Header) { h.NumRecords = -1 },
		"negative base":  func(h *Header) { h.BaseOffset = -1 },
		"base overflows": func(h *Header) { h.BaseOffset = math.MaxInt64 - int64(h.LastOffsetDelta) },
	} {
		h := good
		edit(&h)
		if err := h.Check(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidCRC(t *testing.T) {
	b := Build(plain(), sampleRecords(3))
	if !ValidCRC(b) {
		t.Fatal("built batch has a bad CRC")
	}
	SetBaseOffset(b, 99) // outside the CRC
	SetPartitionLeaderEpoch(b, 7)
	if !ValidCRC(b) {
		t.Fatal("base offset or epoch changed the CRC")
	}
	for _, i := range []int{posAttributes, HeaderSize, len(b) - 1} {
		c := bytes.Clone(b)
		c[i] ^= 1
		if ValidCRC(c) {
			t.Errorf("flipped byte %d: CRC still valid", i)
		}
	}
	if ValidCRC(b[:HeaderSize-1]) {
		t.Fatal("a short header has a valid CRC")
	}
}

func TestAppendHeaderSeal(t *testing.T) {
	for _, c := range allCodecs {
		b := Build(BuildOptions{Codec: c, ProducerID: 5, ProducerEpoch: 2, BaseSequence: 9, Transactional: true}, sampleRecords(4))
		h, _ := ParseHeader(b)
		got := AppendHeader(nil, h)
		if !bytes.Equal(got, b[:HeaderSize]) {
			t.Fatalf("%s: AppendHeader %x, want %x", c, got, b[:HeaderSize])
		}
		// Rebuild the batch from its header and plain records, as the cleaner does.
		plainRecs, err := Decompress(c, b[HeaderSize:], nil)
		if err != nil {
			t.Fatal(err)
		}
		h.Length, h.CRC = 0, 0
		out := Compress(AppendHeader(nil, h), c, plainRecs)
		Seal(out)
		oh, _ := ParseHeader(out)
		if !ValidCRC(out) || oh.Size() != len(out) || oh.Check() != nil {
			t.Fatalf("%s: sealed batch invalid: %+v", c, oh)
		}
		want, _ := Records(b)
		back, err := Records(out)
		if err != nil || !reflect.DeepEqual(back, want) {
			t.Fatalf("%s: records %v, %v; want %v", c, back, err, want)
		}
	}
}

func TestDecompressReusesScratch(t *testing.T) {
	section := Build(plain(), sampleRecords(20))[HeaderSize:]
	for _, c := range []Codec{Snappy, Zstd} {
		payload := compress(c, section)
		scratch := make([]byte, 0, 2*len(section))
		out, err := Decompress(c, payload, scratch)
		if err != nil || !bytes.Equal(out, section) {
			t.Fatalf("%s: %v", c, err)
		}
		if &out[:1][0] != &scratch[:1][0] {
			t.Errorf("%s: did not decompress into scratch", c)
		}
	}
	if out, _ := Decompress(None, section, nil); &out[0] != &section[0] {
		t.Error("None copied its input")
	}
	if _, err := Decompress(Codec(5), section, nil); !errors.Is(err, ErrCorrupt) {
		t.Errorf("codec 5: %v", err)
	}
}

func TestRecordScanner(t *testing.T) {
	recs := sampleRecords(6)
	b := Build(plain(), recs)
	var got []Record
	var sc RecordScanner
	sc.Reset(b[HeaderSize:], 6)
	for sc.Next() {
		r := sc.Record()
		hs, err := recordHeaders(r.Headers)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Whole) <= len(r.Rest) || len(r.Rest) < len(r.Key)+len(r.Value)+len(r.Headers) {
			t.Errorf("record %d: slices do not line up", r.OffsetDelta)
		}
		got = append(got, Record{Offset: int64(r.OffsetDelta), Timestamp: recs[0].Timestamp + r.TimestampDelta, Key: r.Key, Value: r.Value, Headers: hs})
	}
	if err := sc.Err(); err != nil || !reflect.DeepEqual(got, recs) {
		t.Fatalf("got %v, %v\nwant %v", got, err, recs)
	}
	// AppendRawRecord: the bytes as they are, or re-encoded with a new delta.
	var same, moved []byte
	for sc.Reset(b[HeaderSize:], 6); sc.Next(); {
		r := sc.Record()
		same = AppendRawRecord(same, r, r.TimestampDelta)
		moved = AppendRawRecord(moved, r, r.TimestampDelta-1000)
	}
	if !bytes.Equal(same, b[HeaderSize:]) {
		t.Fatal("unchanged records were not copied as they are")
	}
	h, _ := ParseHeader(b)
	h.BaseTimestamp += 1000
	movedBatch := append(AppendHeader(nil, h), moved...)
	Seal(movedBatch)
	back, err := Records(movedBatch)
	if err != nil || !reflect.DeepEqual(back, recs) {
		t.Fatalf("re-encoded records: %v, %v", back, err)
	}
	if n := testing.AllocsPerRun(100, func() {
		for sc.Reset(b[HeaderSize:], 6); sc.Next(); {
		}
	}); n != 0 {
		t.Errorf("a walk allocates %v times", n)
	}
}

// scanAll walks n records of section and returns how many it saw and why it stopped.
func scanAll(section []byte, n int32, fn func(*RawRecord)) (int, error) {
	var sc RecordScanner
	seen := 0
	for sc.Reset(section, n); sc.Next(); seen++ {
		fn(sc.Record())
	}
	return seen, sc.Err()
}

func TestRecordScannerRejectsBadBytes(t *testing.T) {
	b := Build(plain(), []Record{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b")}})
	data := b[HeaderSize:]
	if n, err := scanAll(data, 2, func(*RawRecord) {}); err != nil || n != 2 {
		t.Fatalf("%d records, %v", n, err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		c := bytes.Clone(data)
		c[rng.IntN(len(c))] ^= byte(1 + rng.IntN(255))
		scanAll(c[:rng.IntN(len(c)+1)], 2, func(*RawRecord) {}) // must not panic
	}
	for name, bad := range map[string][]byte{
		"longer than the data": binary.AppendVarint(nil, 100),
		"trailing bytes":       append(bytes.Clone(data), 0),
	} {
		if _, err := scanAll(bad, 2, func(*RawRecord) {}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzRecordScanner: RecordScanner never panics, and what it accepts re-encodes
// to the same bytes.
func FuzzRecordScanner(f *testing.F) {
	f.Add(Build(plain(), sampleRecords(4))[HeaderSize:], int32(4))
	f.Add([]byte{}, int32(1))
	f.Fuzz(func(t *testing.T, section []byte, n int32) {
		var out []byte
		_, err := scanAll(section, n, func(r *RawRecord) {
			out = AppendRawRecord(out, r, r.TimestampDelta)
			if len(r.Rest) < len(r.Key)+len(r.Value)+len(r.Headers) {
				t.Fatalf("key, value and headers overrun the record")
			}
		})
		if err == nil && n > 0 && !bytes.Equal(out, section) {
			t.Fatalf("accepted %x, re-encoded %x", section, out)
		}
	})
}
