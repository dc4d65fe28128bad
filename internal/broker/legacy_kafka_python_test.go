package broker_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafka-python (Debian's python3-kafka) pinned to the api_version of old
// brokers, so that it sends the versions Kafka 4 removed: JoinGroup v0-v1,
// OffsetCommit v0-v2, OffsetFetch v0-v1, ListOffsets v0, Metadata v0-v1,
// Fetch v0-v3. The records are produced with franz-go (gzipped: neither
// kafka-python build decodes snappy without an extra library).

// oldRequests are the request versions kafka-python sends when pinned to
// each api_version, as its debug log names them (type name(key)).
var oldRequests = map[string]map[string][]int{
	"0.8.1":  {"OffsetCommitRequest(8)": {0}, "OffsetFetchRequest(9)": {0}, "OffsetRequest(2)": {0}, "FetchRequest(1)": {0}, "MetadataRequest(3)": {0}},
	"0.8.2":  {"OffsetCommitRequest(8)": {1}, "OffsetFetchRequest(9)": {1}, "OffsetRequest(2)": {0}, "FetchRequest(1)": {0}, "MetadataRequest(3)": {0}},
	"0.10.0": {"OffsetCommitRequest(8)": {2}, "OffsetFetchRequest(9)": {1}, "OffsetRequest(2)": {0}, "FetchRequest(1)": {2}, "MetadataRequest(3)": {1}},
	"0.10.1": {"OffsetCommitRequest(8)": {2}, "OffsetFetchRequest(9)": {1}, "OffsetRequest(2)": {1}, "FetchRequest(1)": {3}, "MetadataRequest(3)": {1}},
}

// checkRequests checks that the script sent the wanted versions of the
// named requests, and only those.
func checkRequests(t *testing.T, got, want map[string][]int) {
	t.Helper()
	for name, versions := range want {
		if !slices.Equal(got[name], versions) {
			t.Errorf("%s sent at versions %v, want %v (all requests: %v)", name, got[name], versions, got)
		}
	}
}

// oldConsumerRun is what kafkaPythonOldConsumer prints.
type oldConsumerRun struct {
	Beginning map[string]int64    `json:"beginning"`
	End       map[string]int64    `json:"end"`
	Before    map[string]*int64   `json:"before"`
	Read      map[string][][2]any `json:"read"`
	After     map[string]*int64   `json:"after"`
	Requests  map[string][]int    `json:"requests"`
	Client    string              `json:"client"`
}

// TestKafkaPythonOldConsumer: a kafka-python consumer pinned to 0.8.1,
// 0.8.2, 0.10.0 and 0.10.1 (manual assignment, as those without groups
// do) finds every partition's beginning and end (ListOffsets v0, v1 for
// 0.10.1), reads every record at its offset, commits the ends with
// metadata and reads the commits back, each version with its own
// OffsetCommit and OffsetFetch; franz-go sees the same commits.
func TestKafkaPythonOldConsumer(t *testing.T) {
	python := pythonWith(t, "kafka", "python3-kafka")
	tb := startBroker(t, "", groupStatic())
	const topic = "py-old"
	createTopic(t, tb.admin(), topic, 3, nil)
	produceN(t, tb, topic, 0, 30, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	want := map[int32][]string{}
	for _, r := range consumeAll(t, tb, topic, 30) {
		want[r.Partition] = append(want[r.Partition], string(r.Value))
	}

	for _, api := range []string{"0.8.1", "0.8.2", "0.10.0", "0.10.1"} {
		t.Run(api, func(t *testing.T) {
			group := "py-old-" + api
			var res oldConsumerRun
			start := time.Now()
			runClientScript(t, python, "old.py", kafkaPythonPrelude+kafkaPythonOldConsumer, "", func() {}, &res, tb.Addr(), group, topic, api)
			logScriptRun(t, "pinned consumer", start, res.Client, api, res.Requests)
			checkRequests(t, res.Requests, oldRequests[api])
			for p := range int32(3) {
				key := itoa(int(p))
				end := int64(len(want[p]))
				if res.Beginning[key] != 0 || res.End[key] != end {
					t.Errorf("partition %d: beginning %d, end %d; want 0, %d", p, res.Beginning[key], res.End[key], end)
				}
				if res.Before[key] != nil {
					t.Errorf("partition %d: committed %d before the first commit", p, *res.Before[key])
				}
				var read []string
				for i, r := range res.Read[key] {
					if off, _ := r[0].(float64); int(off) != i {
						t.Errorf("partition %d: record %d at offset %v", p, i, r[0])
					}
					read = append(read, r[1].(string))
				}
				if !slices.Equal(read, want[p]) {
					t.Errorf("partition %d: read %v, want %v", p, read, want[p])
				}
				if res.After[key] == nil || *res.After[key] != end {
					t.Errorf("partition %d: committed %v after committing %d", p, res.After[key], end)
				}
			}
			fetched, err := tb.admin().FetchOffsets(ctxT(t), group)
			if err != nil {
				t.Fatal(err)
			}
			for p := range int32(3) {
				o, ok := fetched.Lookup(topic, p)
				if !ok || o.At != int64(len(want[p])) || o.Metadata != "old-"+api {
					t.Errorf("franz-go reads %s partition %d: %+v", group, p, o)
				}
			}
		})
	}
}

// kafkaPythonOldConsumer (arguments: bootstrap, group, topic, api_version)
// assigns itself every partition, asks their beginnings and ends and its
// committed offsets, reads every record, commits the ends with metadata
// "old-<api_version>" and asks its committed offsets again.
const kafkaPythonOldConsumer = `
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
bootstrap, group, topic, api = sys.argv[1:5]
c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, client_id="kafka-python-old",
                  api_version=tuple(map(int, api.split("."))), enable_auto_commit=False,
                  auto_offset_reset="earliest", fetch_max_wait_ms=100)
tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
c.assign(tps)
beginning, end = c.beginning_offsets(tps), c.end_offsets(tps)
before = {tp.partition: c.committed(tp) for tp in tps}
read, n, deadline = {}, 0, time.time() + 60
while n < sum(end[tp] - beginning[tp] for tp in tps) and time.time() < deadline:
    for tp, records in c.poll(timeout_ms=200).items():
        for r in records:
            read.setdefault(tp.partition, []).append([r.offset, r.value.decode()])
            n += 1
c.commit({tp: OffsetAndMetadata(end[tp], "old-" + api) for tp in tps})
after = {tp.partition: c.committed(tp) for tp in tps}
c.close()
by_partition = lambda d: {tp.partition: v for tp, v in d.items()}
print(json.dumps({"beginning": by_partition(beginning), "end": by_partition(end), "before": before, "read": read,
                  "after": after, "client": client, "requests": requests.json()}), flush=True)
`

// TestGroupKafkaPythonOld: kafkaPythonGroup's two-member group and later
// single member (testGroupScript's checks) with kafka-python pinned to
// 0.10.0 (JoinGroup v0: no rebalance timeout) and 0.10.1 (JoinGroup v1).
func TestGroupKafkaPythonOld(t *testing.T) {
	python := pythonWith(t, "kafka", "python3-kafka")
	joins := map[string][]int{"0.10.0": {0}, "0.10.1": {1}}
	for _, api := range []string{"0.10.0", "0.10.1"} {
		t.Run(api, func(t *testing.T) {
			pinned := "api_version=(" + strings.ReplaceAll(api, ".", ", ") + ")"
			source := strings.Replace(kafkaPythonGroup, "api_version_auto_timeout_ms=30000", pinned, 1)
			if source == kafkaPythonGroup {
				t.Fatal("kafkaPythonGroup no longer has the option this test replaces")
			}
			requests := testGroupScript(t, python, "group.py", kafkaPythonPrelude+source)
			want := map[string][]int{"JoinGroupRequest(11)": joins[api], "SyncGroupRequest(14)": {0}, "HeartbeatRequest(12)": {0},
				"LeaveGroupRequest(13)": {0}, "GroupCoordinatorRequest(10)": {0}}
			for name, versions := range oldRequests[api] {
				if name != "OffsetRequest(2)" { // the group resumes from commits or reads from the start without asking
					want[name] = versions
				}
			}
			checkRequests(t, requests, want)
		})
	}
}
