package batch

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The cost of the message-format conversions per MB, next to what the
// current path pays for the same records in the same run: Validate of the
// v2 batch (uncompressed) and Records of it (gzip: decompress and decode).
// Validate of a gzip batch is also a baseline: it streams the decompression.
//
//	go test ./internal/batch -run XXX -bench 'Legacy' -count 5

// benchLegacyMessages are 1,000 magic 1 messages of 16-byte keys and
// 100-byte values of words (compressible as text is).
func benchLegacyMessages() []LegacyMessage {
	words := []string{"kafka", "broker", "record", "offset", "samsa", "partition", "leader", "fetch", "produce", "segment"}
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := make([]LegacyMessage, 1000)
	for i := range msgs {
		var v []byte
		for len(v) < 100 {
			v = append(v, words[rng.IntN(len(words))]...)
			v = append(v, ' ')
		}
		msgs[i] = LegacyMessage{Offset: int64(i), Timestamp: 1_700_000_000_000 + int64(i),
			Key: []byte(fmt.Sprintf("key-%012d", i)), Value: v[:100]}
	}
	return msgs
}

func BenchmarkLegacyUpConvert(b *testing.B) {
	msgs := benchLegacyMessages()
	for _, c := range []Codec{None, Gzip} {
		set := BuildLegacy(1, c, msgs)
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(set)))
			b.ReportAllocs()
			for b.Loop() {
				if _, code, msg := UpConvert(set); code != 0 {
					b.Fatal(msg)
				}
			}
		})
	}
}

// v2Equivalent is the batch UpConvert makes of msgs, as stored.
func v2Equivalent(b *testing.B, c Codec) []byte {
	out, code, msg := UpConvert(BuildLegacy(1, c, benchLegacyMessages()))
	if code != 0 {
		b.Fatal(msg)
	}
	return out
}

func BenchmarkLegacyDownConvert(b *testing.B) {
	for _, c := range []Codec{None, Gzip} {
		stored := v2Equivalent(b, c)
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(stored)))
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				var err error
				if dst, err = DownConvert(dst[:0], stored, 1, 0, 1<<30); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLegacyBaseline is what the v2 path costs for the same records:
// Validate (header, CRC and every record: what a Produce v3+ of an
// uncompressed batch costs before the append) and Records (decompress and decode every
// record of the gzip batch).
func BenchmarkLegacyBaseline(b *testing.B) {
	none, gz := v2Equivalent(b, None), v2Equivalent(b, Gzip)
	b.Run("validate-none", func(b *testing.B) {
		b.SetBytes(int64(len(none)))
		b.ReportAllocs()
		for b.Loop() {
			if res := Validate(none, ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
				b.Fatal(res.Message)
			}
		}
	})
	b.Run("validate-gzip", func(b *testing.B) {
		b.SetBytes(int64(len(gz)))
		b.ReportAllocs()
		for b.Loop() {
			if res := Validate(gz, ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
				b.Fatal(res.Message)
			}
		}
	})
	b.Run("records-gzip", func(b *testing.B) {
		b.SetBytes(int64(len(gz)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Records(gz); err != nil {
				b.Fatal(err)
			}
		}
	})
}
