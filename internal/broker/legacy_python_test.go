package broker_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// kafkaPythonLegacy produces the records on stdin to partition 0 with a
// KafkaProducer pinned to an old api_version, then reads the partition
// from offset 0 with a KafkaConsumer pinned to the same version (assigned,
// no group), and prints the offsets it was told, the records it read and
// the versions of the requests it sent.
const kafkaPythonLegacy = `
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
bootstrap, topic, compression, version = sys.argv[1:5]
api = tuple(int(x) for x in version.split("."))
records = json.load(sys.stdin)
p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", api_version=api, linger_ms=20,
                  compression_type=None if compression == "none" else compression)
raw = lambda s: None if s is None else s.encode()
text = lambda b: None if b is None else b.decode()
futures = [p.send(topic, partition=0, key=raw(r["key"]), value=raw(r["value"]), timestamp_ms=r["timestamp"])
           for r in records]
produced = [f.get(timeout=60).offset for f in futures]
p.close()
c = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api, enable_auto_commit=False, fetch_max_wait_ms=100)
tp = TopicPartition(topic, 0)
c.assign([tp])
c.seek(tp, 0)
consumed, deadline = [], time.time() + 30
while len(consumed) < len(records) and time.time() < deadline:
    for _, batch in c.poll(timeout_ms=200).items():
        for r in batch:
            consumed.append([r.offset, text(r.key), text(r.value), -1 if r.timestamp is None else r.timestamp])
c.close()
print(json.dumps({"produced": produced, "consumed": consumed, "client": client, "requests": requests.json()}), flush=True)
`

type pythonLegacyRecord struct {
	Key       *string `json:"key"`
	Value     *string `json:"value"`
	Timestamp *int64  `json:"timestamp"`
}

// TestLegacyKafkaPython: kafka-python pinned to api_version (0, 10, 0)
// (Produce v2 / Fetch v2, magic 1), (0, 9) (Produce v1 / Fetch v1) and
// (0, 8, 2) (Produce v0 / Fetch v0), both magic 0 with lz4 frames carrying
// Kafka 0.8's broken header checksum, produces in every codec and reads
// back exactly what it wrote; franz-go reads the same records, from
// batches of the producer's codec.
func TestLegacyKafkaPython(t *testing.T) {
	python := pythonWith(t, "kafka, snappy, lz4, xxhash", "python3-kafka python3-snappy python3-lz4 python3-xxhash")
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	for _, version := range []string{"0.10.0", "0.9", "0.8.2"} {
		for _, compression := range []string{"none", "gzip", "snappy", "lz4"} {
			t.Run(version+"/"+compression, func(t *testing.T) {
				topic := "kafka-python-" + strings.ReplaceAll(version, ".", "-") + "-" + compression
				createTopic(t, adm, topic, 1, nil)
				magic1 := version == "0.10.0"
				var in []pythonLegacyRecord
				var want []legacyRecord
				for i := range 30 {
					key, value := fmt.Sprintf("py-k%d", i), fmt.Sprintf("py-v%d %s", i, strings.Repeat("z", i))
					r := pythonLegacyRecord{Key: &key, Value: &value}
					w := legacyRecord{offset: int64(i), key: []byte(key), value: []byte(value), ts: -1}
					if magic1 {
						ts := int64(1_690_000_000_000 + i)
						r.Timestamp, w.ts = &ts, ts
					}
					if i%6 == 2 {
						r.Key, w.key = nil, nil
					}
					in = append(in, r)
					want = append(want, w)
				}
				stdin, _ := json.Marshal(in)
				var res struct {
					Produced []int64          `json:"produced"`
					Consumed [][4]any         `json:"consumed"`
					Client   string           `json:"client"`
					Requests map[string][]int `json:"requests"`
				}
				runClientScript(t, python, "legacy.py", kafkaPythonPrelude+kafkaPythonLegacy, string(stdin), func() {}, &res,
					tb.Addr(), topic, compression, version)
				t.Logf("%s, requests %v", res.Client, res.Requests)
				for i, off := range res.Produced {
					if off != int64(i) {
						t.Fatalf("record %d produced at offset %d", i, off)
					}
				}
				if len(res.Produced) != len(want) || len(res.Consumed) != len(want) {
					t.Fatalf("produced %d, consumed %d records, want %d", len(res.Produced), len(res.Consumed), len(want))
				}
				for i, c := range res.Consumed {
					w := want[i]
					key, _ := c[1].(string)
					if c[0].(float64) != float64(w.offset) || (c[1] == nil) != (w.key == nil) || key != string(w.key) ||
						c[2].(string) != string(w.value) || c[3].(float64) != float64(w.ts) {
						t.Fatalf("kafka-python read %v, want %d %q %q %d", c, w.offset, w.key, w.value, w.ts)
					}
				}
				got := consumeAll(t, tb, topic, len(want))
				checkKgoRead(t, "franz-go", got, want)
				checkStoredCodec(t, got, compression)
				wantVersion := map[string]int{"0.10.0": 2, "0.9": 1, "0.8.2": 0}[version]
				for name, versions := range res.Requests {
					if (strings.HasSuffix(name, "(0)") || strings.HasSuffix(name, "(1)")) && (len(versions) != 1 || versions[0] != wantVersion) {
						t.Fatalf("kafka-python %s sent %s versions %v, want v%d", version, name, versions, wantVersion)
					}
				}
			})
		}
	}
}
