package broker_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Two more clients through consumer groups and committed offsets, each
// driven by a script the test writes: kafka-python (Debian's
// python3-kafka) and kafkajs (npm, installed by .ci/run outside the
// repository). Each script prints the client's version and the version of
// every request it sent, which the tests log.

// TestGroupKafkaPython: two kafka-python KafkaConsumers of one group, each
// in its own thread, committing explicitly, split a topic and read it once;
// a later consumer of the group resumes after their commits. kafka-python
// picks its api_version itself from ApiVersions; the log says which.
func TestGroupKafkaPython(t *testing.T) {
	testGroupScript(t, pythonWith(t, "kafka", "python3-kafka"), "group.py", kafkaPythonPrelude+kafkaPythonGroup)
}

// TestKafkaPythonProducer: records a kafka-python KafkaProducer sends,
// with null and empty keys and values, headers and timestamps, are what
// franz-go reads, at the offsets the producer was told.
func TestKafkaPythonProducer(t *testing.T) {
	testProduceScript(t, pythonWith(t, "kafka", "python3-kafka"), "produce.py", kafkaPythonPrelude+kafkaPythonProduce)
}

// TestGroupKafkaJS: two kafkajs consumers of one group, committing each
// record with commitOffsets, split a topic and read it once; a restart of
// the group resumes after their commits.
func TestGroupKafkaJS(t *testing.T) {
	testGroupScript(t, kafkajs(t), "group.js", kafkajsPrelude+kafkajsGroup)
}

// TestKafkaJSProducer: kafkajs producer to franz-go consumer, as
// TestKafkaPythonProducer.
func TestKafkaJSProducer(t *testing.T) {
	testProduceScript(t, kafkajs(t), "produce.js", kafkajsPrelude+kafkajsProduce)
}

// kafkajs finds node and the kafkajs that .ci/run installs with npm
// install --prefix "$SAMSA_NODE_DIR" (by default ~/.cache/samsa-node, so
// that node_modules stays out of the repository).
func kafkajs(t *testing.T) clientProgram {
	t.Helper()
	dir := os.Getenv("SAMSA_NODE_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "samsa-node")
	}
	prog := clientProgram{env: []string{
		"NODE_PATH=" + filepath.Join(dir, "node_modules"),
		"KAFKAJS_NO_PARTITIONER_WARNING=1", // the scripts choose partitions themselves
	}}
	node, err := exec.LookPath("node")
	if err == nil {
		cmd := exec.Command(node, "-e", "require('kafkajs')")
		cmd.Env = append(os.Environ(), prog.env...)
		err = cmd.Run()
	}
	if err != nil {
		clientMissing(t, "node with kafkajs in "+dir, "npm install --prefix "+dir+" kafkajs@2.2.4")
	}
	prog.path = node
	return prog
}

// testGroupScript runs a group script (arguments: bootstrap, group,
// topic, records to wait for, members, partitions) twice. First two
// members: once they own two partitions each, 80 records are produced,
// which they must read exactly once between them, each from its own
// partitions, committing them all. Then, with the group empty, 40 more
// are produced and one new member must read exactly those. After each run
// the committed offsets are the partitions' ends (kadm) and the group has
// no members left. The records
// are gzipped: neither client decodes franz-go's default, snappy, without
// an extra library. It returns the versions of the requests the runs sent.
func testGroupScript(t *testing.T, prog clientProgram, name, source string) map[string][]int {
	tb := startBroker(t, "", groupStatic())
	const group, topic = "script-g", "script-group"
	createTopic(t, tb.admin(), topic, 4, nil)
	gzip := kgo.ProducerBatchCompression(kgo.GzipCompression())

	start := time.Now()
	var res groupRun
	runClientScript(t, prog, name, source, "", func() { produceN(t, tb, topic, 0, 80, gzip) }, &res,
		tb.Addr(), group, topic, "80", "2", "4")
	logScriptRun(t, "two members", start, res.Client, res.APIVersion, res.Requests)
	t.Logf("assignments %v", res.Assignments)
	checkGroupRun(t, res, 2, 4, 0, 80)
	checkCommittedAtEnds(t, tb, group, topic)
	checkGroupLeft(t, tb, group)

	produceN(t, tb, topic, 80, 40, gzip)
	start = time.Now()
	requests := res.Requests
	if requests == nil {
		requests = map[string][]int{}
	}
	res = groupRun{}
	runClientScript(t, prog, name, source, "", func() {}, &res, tb.Addr(), group, topic, "40", "1", "4")
	logScriptRun(t, "a later member", start, res.Client, res.APIVersion, res.Requests)
	checkGroupRun(t, res, 1, 4, 80, 120)
	checkCommittedAtEnds(t, tb, group, topic)
	checkGroupLeft(t, tb, group)
	for name, versions := range res.Requests {
		for _, v := range versions {
			if !slices.Contains(requests[name], v) {
				requests[name] = append(requests[name], v)
			}
		}
		slices.Sort(requests[name])
	}
	return requests
}

// checkGroupLeft checks that group has no members: the scripts close
// their consumers, which wait for their LeaveGroup to be answered.
func checkGroupLeft(t *testing.T, tb *testBroker, group string) {
	t.Helper()
	groups, err := tb.admin().DescribeGroups(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if g := groups[group]; g.Err != nil || g.State != "Empty" || len(g.Members) != 0 {
		t.Fatalf("group %s after its members closed: state %q, %d members, error %v; want Empty", group, g.State, len(g.Members), g.Err)
	}
}

func logScriptRun(t *testing.T, what string, start time.Time, client, apiVersion string, requests map[string][]int) {
	t.Helper()
	if apiVersion != "" {
		client += ", api_version " + apiVersion
	}
	t.Logf("%s: %s took %v; requests sent (name(key): versions) %v", what, client, time.Since(start).Round(time.Millisecond), requests)
}

// scriptRecord is a record a produce script is told to send.
type scriptRecord struct {
	Partition int32       `json:"partition"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp int64       `json:"timestamp"` // milliseconds
}

// produceRun is what a produce script prints: where each record went,
// as the producer was told, [partition, offset].
type produceRun struct {
	Produced   [][2]int64       `json:"produced"`
	Client     string           `json:"client"`
	APIVersion string           `json:"api_version"`
	Requests   map[string][]int `json:"requests"`
}

// scriptRecords are records over three partitions with null, empty and
// non-ASCII keys and values (never both null), none, one or repeated
// headers, and distinct timestamps.
func scriptRecords(n int) []scriptRecord {
	base := time.Now().Add(-time.Hour).UnixMilli()
	recs := make([]scriptRecord, n)
	for i := range recs {
		r := scriptRecord{Partition: int32(i % 3), Timestamp: base + int64(i)*1000, Headers: [][2]string{}}
		switch i % 7 {
		case 3:
		case 5:
			r.Key = strp("")
		default:
			r.Key = strp("key-" + itoa(i%5) + "-ключ")
		}
		switch {
		case i%11 == 4 && r.Key != nil: // kafka-python refuses a record without key and value
		case i%11 == 6:
			r.Value = strp("")
		default:
			r.Value = strp("value-" + itoa(i) + "-" + strings.Repeat("ü", i))
		}
		switch i % 3 {
		case 1:
			r.Headers = append(r.Headers, [2]string{"h", itoa(i)})
		case 2:
			r.Headers = append(r.Headers, [2]string{"trace", "id-" + itoa(i)}, [2]string{"dup", "a"}, [2]string{"dup", ""})
		}
		recs[i] = r
	}
	return recs
}

// testProduceScript has a produce script (arguments: bootstrap, topic,
// compression; the records as JSON on stdin) send scriptRecords,
// uncompressed and gzipped, and checks that franz-go reads each back
// exactly, at the offset the producer reported.
func testProduceScript(t *testing.T, prog clientProgram, name, source string) {
	tb := startBroker(t, "", nil)
	for _, compression := range []string{"none", "gzip"} {
		t.Run(compression, func(t *testing.T) {
			topic := "script-produce-" + compression
			createTopic(t, tb.admin(), topic, 3, nil)
			want := scriptRecords(60)
			input, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var res produceRun
			runClientScript(t, prog, name, source, string(input), func() {}, &res, tb.Addr(), topic, compression)
			logScriptRun(t, "producer", start, res.Client, res.APIVersion, res.Requests)
			if len(res.Produced) != len(want) {
				t.Fatalf("producer reported %d records, want %d", len(res.Produced), len(want))
			}
			got := map[[2]int64]*kgo.Record{}
			for _, r := range consumeAll(t, tb, topic, len(want)) {
				got[[2]int64{int64(r.Partition), r.Offset}] = r
			}
			next := map[int32]int64{}
			for i, w := range want {
				at := [2]int64{int64(w.Partition), next[w.Partition]}
				next[w.Partition]++
				if res.Produced[i] != at {
					t.Fatalf("record %d: producer reported [partition offset] %v, want %v", i, res.Produced[i], at)
				}
				if g := got[at]; !sameScriptRecord(w, g) {
					t.Fatalf("record %d at %v: read %s, want %+v", i, at, describeRecord(g), w)
				}
			}
		})
	}
}

func sameScriptRecord(w scriptRecord, g *kgo.Record) bool {
	sameBytes := func(w *string, g []byte) bool {
		return (w == nil) == (g == nil) && (w == nil || *w == string(g))
	}
	if g == nil || !sameBytes(w.Key, g.Key) || !sameBytes(w.Value, g.Value) ||
		g.Timestamp.UnixMilli() != w.Timestamp || len(g.Headers) != len(w.Headers) {
		return false
	}
	for i, h := range w.Headers {
		if g.Headers[i].Key != h[0] || !bytes.Equal(g.Headers[i].Value, []byte(h[1])) {
			return false
		}
	}
	return true
}

func describeRecord(r *kgo.Record) string {
	if r == nil {
		return "nothing"
	}
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	return "key " + quoteBytes(r.Key) + " value " + quoteBytes(r.Value) + " headers " + strings.Join(hs, ",") +
		" timestamp " + itoa(int(r.Timestamp.UnixMilli()))
}

func quoteBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	return `"` + string(b) + `"`
}

// kafkaPythonPrelude collects the version of every request kafka-python
// sends from its debug log, and sends its warnings to stderr.
const kafkaPythonPrelude = `
import json, logging, sys, threading, time
import kafka

class RequestVersions(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.versions = {}

    def emit(self, record):
        if record.msg == "%s Request %d: %s":
            request = record.args[2]
            name = "%s(%d)" % (type(request).__name__.rpartition("_v")[0], request.API_KEY)
            self.versions.setdefault(name, set()).add(request.API_VERSION)

    def json(self):
        return {name: sorted(v) for name, v in self.versions.items()}

requests = RequestVersions()
logging.getLogger("kafka.conn").setLevel(logging.DEBUG)
logging.getLogger("kafka.conn").addHandler(requests)
warnings = logging.StreamHandler()
warnings.setLevel(logging.WARNING)
logging.getLogger("kafka").addHandler(warnings)
client = "kafka-python " + kafka.__version__
api_versions = set()

def chosen_version(c):
    api_versions.add(".".join(map(str, c.config["api_version"])))
`

// kafkaPythonGroup runs members KafkaConsumers in threads: kafka-python
// 2.0's poll blocks until its rebalance completes, which waits for the
// other members to rejoin, so one thread cannot poll them all. It prints
// "ready" once they own disjoint partitions covering the topic, then reads
// until it has seen want records (and a second more, to catch extra
// ones), committing after each poll that returned records, and prints a
// groupRun.
const kafkaPythonGroup = `
from kafka import KafkaConsumer
bootstrap, group, topic = sys.argv[1:4]
want, members, partitions = map(int, sys.argv[4:7])
lock, stop = threading.Lock(), threading.Event()
seen, owned, errors = {}, [[] for _ in range(members)], []

def member(i):
    try:
        c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id="kafka-python-%d" % i,
                          auto_offset_reset="earliest", enable_auto_commit=False,
                          session_timeout_ms=6000, heartbeat_interval_ms=200, fetch_max_wait_ms=100,
                          api_version_auto_timeout_ms=30000)
        chosen_version(c)
        while not stop.is_set():
            batches = c.poll(timeout_ms=100)
            with lock:
                for tp, records in batches.items():
                    for r in records:
                        seen.setdefault(r.value.decode(), []).append([i, tp.partition])
            if batches:
                c.commit()
            assignment = sorted(tp.partition for tp in c.assignment())
            with lock:
                owned[i] = assignment
        c.close()
    except Exception as e:
        errors.append("member %d: %r" % (i, e))
        stop.set()

threads = [threading.Thread(target=member, args=(i,)) for i in range(members)]
for th in threads:
    th.start()
ready, done_at, deadline = False, None, time.time() + 120
while not stop.is_set() and time.time() < deadline:
    time.sleep(0.05)
    with lock:
        assignments, n = [list(a) for a in owned], len(seen)
    if not ready and all(assignments) and sorted(sum(assignments, [])) == list(range(partitions)):
        ready = True
        print("ready", flush=True)
    if ready and done_at is None and n >= want:
        done_at = time.time()
    if done_at is not None and time.time() - done_at > 1:
        break
stop.set()
for th in threads:
    th.join()
print(json.dumps({"assignments": owned, "seen": seen, "client": client,
                  "api_version": ",".join(sorted(api_versions)), "requests": requests.json()}), flush=True)
if errors:
    sys.exit("\n".join(errors))
`

// kafkaPythonProduce sends the records on stdin with a KafkaProducer.
const kafkaPythonProduce = `
from kafka import KafkaProducer
bootstrap, topic, compression = sys.argv[1:4]
records = json.load(sys.stdin)
p = KafkaProducer(bootstrap_servers=bootstrap, client_id="kafka-python-producer", acks="all",
                  compression_type=None if compression == "none" else compression,
                  api_version_auto_timeout_ms=30000)
chosen_version(p)
raw = lambda s: None if s is None else s.encode()
futures = [p.send(topic, partition=r["partition"], key=raw(r["key"]), value=raw(r["value"]),
                  headers=[(k, v.encode()) for k, v in r["headers"]], timestamp_ms=r["timestamp"])
           for r in records]
produced = [[m.partition, m.offset] for m in (f.get(timeout=60) for f in futures)]
p.close()
print(json.dumps({"produced": produced, "client": client,
                  "api_version": ",".join(sorted(api_versions)), "requests": requests.json()}), flush=True)
`

// kafkajsPrelude collects the version of every request kafkajs sends from
// its debug log ("Request Fetch(key: 1, version: 11)"), and sends its
// warnings and errors to stderr.
const kafkajsPrelude = `
const { Kafka, CompressionTypes, logLevel } = require('kafkajs')
const client = 'kafkajs ' + require('kafkajs/package.json').version
const versions = {}
const logCreator = () => ({ level, log }) => {
  const m = /^Request (\w+)\(key: (\d+), version: (\d+)\)$/.exec(log.message)
  if (m) {
    const seen = (versions[m[1] + '(' + m[2] + ')'] ||= [])
    if (!seen.includes(+m[3])) seen.push(+m[3])
  } else if (level <= logLevel.WARN) {
    console.error(JSON.stringify(log))
  }
}
const requests = () => Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, v.sort((a, b) => a - b)]))
const newKafka = (bootstrap) => new Kafka({ clientId: 'kafkajs', brokers: [bootstrap], logLevel: logLevel.DEBUG, logCreator })
const fail = (e) => { console.error(e); process.exit(1) }
`

// kafkajsGroup is kafkaPythonGroup for kafkajs, whose consumers run side
// by side in one event loop. kafkajs wants the heartbeat interval below
// the session timeout; each record is committed with commitOffsets.
const kafkajsGroup = `
const [bootstrap, group, topic] = process.argv.slice(2, 5)
const [want, members, partitions] = process.argv.slice(5, 8).map(Number)
const kafka = newKafka(bootstrap)
const seen = {}
const assignments = Array.from({ length: members }, () => [])
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const main = async () => {
  const consumers = []
  for (let i = 0; i < members; i++) {
    const c = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 200, rebalanceTimeout: 20000, maxWaitTimeInMs: 100 })
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      assignments[i] = (payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
    })
    c.on(c.events.CRASH, ({ payload }) => console.error('member ' + i + ' crashed: ' + payload.error))
    await c.connect()
    await c.subscribe({ topics: [topic], fromBeginning: true })
    await c.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        (seen[message.value.toString()] ||= []).push([i, partition])
        await c.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
      },
    })
    consumers.push(c)
  }
  const all = [...Array(partitions).keys()].join()
  let ready = false
  let doneAt = null
  const deadline = Date.now() + 120000
  while (Date.now() < deadline) {
    await sleep(50)
    if (!ready && assignments.every((a) => a.length) && assignments.flat().sort((a, b) => a - b).join() === all) {
      ready = true
      console.log('ready')
    }
    if (ready && doneAt === null && Object.keys(seen).length >= want) doneAt = Date.now()
    if (doneAt !== null && Date.now() - doneAt > 1000) break
  }
  await Promise.all(consumers.map((c) => c.disconnect()))
  console.log(JSON.stringify({ assignments, seen, client, requests: requests() }))
}
main().catch(fail)
`

// kafkajsProduce sends the records on stdin in one producer.send.
const kafkajsProduce = `
const [bootstrap, topic, compression] = process.argv.slice(2, 5)
const records = JSON.parse(require('fs').readFileSync(0, 'utf8'))
const headers = (hs) => {
  const out = {}
  for (const [k, v] of hs) out[k] = k in out ? [].concat(out[k], v) : v
  return out
}

const main = async () => {
  const producer = newKafka(bootstrap).producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const sent = await producer.send({
    topic,
    acks: -1,
    compression: compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
    messages: records.map((r) => ({ partition: r.partition, key: r.key, value: r.value, headers: headers(r.headers), timestamp: String(r.timestamp) })),
  })
  await producer.disconnect()
  const next = {}
  for (const s of sent) next[s.partition] = BigInt(s.baseOffset)
  const produced = records.map((r) => [r.partition, Number(next[r.partition]++)])
  console.log(JSON.stringify({ produced, client, requests: requests() }))
}
main().catch(fail)
`
