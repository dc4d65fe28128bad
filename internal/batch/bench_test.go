package batch

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchRecords are n records of about size bytes of JSON-like text, which
// compresses about as well as typical event payloads (3-6x).
func benchRecords(n, size int) []Record {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"user", "order", "id", "amount", "status", "shipped", "pending", "eu-west", "price", "sku"}
	recs := make([]Record, n)
	for i := range recs {
		v := []byte(fmt.Sprintf(`{"seq":%d,"ts":%d`, i, 1_700_000_000_000+rng.IntN(1000)))
		for len(v) < size-1 {
			v = fmt.Appendf(v, `,"%s":"%s-%d"`, words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.IntN(100000))
		}
		v = append(v[:min(len(v), size-1)], '}')
		recs[i] = Record{Key: fmt.Appendf(nil, "key-%d", rng.IntN(10000)), Value: v, Timestamp: 1_700_000_000_000 + int64(i)}
	}
	return recs
}

// BenchmarkValidate compares, in one run, the checks main made before full
// validation (header: the header and CRC only; header+Records: that plus
// decoding every record, which compacted topics paid) with the full
// validator (full), per codec, for batches of about 1 MiB of 100-byte and
// 1 KiB records. Bytes are the uncompressed batch's, so MB/s compare across
// codecs; the wire size is reported as wire-bytes. Compare the modes with
// benchstat -col /mode.
func BenchmarkValidate(b *testing.B) {
	opts := ValidateOptions{MaxBatchBytes: 64 << 20, Timestamps: true, Now: 1_700_000_000_000, BeforeMaxMs: 1 << 62, AfterMaxMs: 3_600_000}
	for _, shape := range []struct {
		name    string
		n, size int
	}{{"100B", 10000, 100}, {"1KiB", 1000, 1000}} {
		recs := benchRecords(shape.n, shape.size)
		plainSize := len(Build(BuildOptions{ProducerID: 1}, recs))
		for _, c := range allCodecs {
			batch := Build(BuildOptions{Codec: c, ProducerID: 1}, recs)
			for _, mode := range []string{"header", "header+Records", "full"} {
				if mode == "header+Records" && c != None && shape.size != 100 {
					continue // the point is made with one shape
				}
				b.Run(fmt.Sprintf("size=%s/codec=%s/mode=%s", shape.name, c, mode), func(b *testing.B) {
					b.SetBytes(int64(plainSize))
					b.ReportAllocs()
					for b.Loop() {
						switch mode {
						case "header":
							if _, res := checkHeader(batch, opts); res.Code != 0 {
								b.Fatal(res.Message)
							}
						case "header+Records":
							if _, res := checkHeader(batch, opts); res.Code != 0 {
								b.Fatal(res.Message)
							}
							if _, err := Records(batch); err != nil {
								b.Fatal(err)
							}
						case "full":
							if res := Validate(batch, opts); res.Code != 0 {
								b.Fatal(res.Message)
							}
						}
					}
					// After the loop: b.Loop's first call resets the timer,
					// which drops metrics reported before it.
					b.ReportMetric(float64(len(batch)), "wire-bytes")
				})
			}
		}
	}
}
