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
		hdrs, code, msg := Validate(b, ValidateOptions{MaxBatchBytes: 1 << 20}, nil)
		if code != 0 {
			if len(hdrs) != 0 || msg == "" {
				t.Fatalf("code %d, %d headers, message %q", code, len(hdrs), msg)
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
		if len(seen) != len(hdrs) || seen[0] != hdrs[0] {
			t.Fatalf("Validate saw %+v, Iterate %+v", hdrs, seen)
		}
		Records(b) // must not panic; garbage records pass Validate
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
