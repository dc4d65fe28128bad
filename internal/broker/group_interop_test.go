package broker_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGroupKcatBalancedConsumer: kcat's balanced consumer (-G, librdkafka)
// reads a topic in a group, commits on exit, and a second run resumes
// after the commits.
func TestGroupKcatBalancedConsumer(t *testing.T) {
	kcatPath(t)
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "kcat-group", 3, nil)
	produceN(t, tb, "kcat-group", 0, 90)
	addr := tb.Addr()
	run := func() []string {
		out := runKcat(t, "", "-b", addr, "-G", "kcat-g", "-X", "session.timeout.ms=6000", "-X", "auto.offset.reset=earliest",
			"-e", "-q", "-f", "%s\n", "kcat-group")
		return strings.Fields(out)
	}
	if got := run(); len(got) != 90 {
		t.Fatalf("first run read %d records, want 90", len(got))
	}
	offs, err := tb.admin().FetchOffsets(ctxT(t), "kcat-g")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, ps := range offs {
		for _, o := range ps {
			total += o.At
		}
	}
	if total != 90 {
		t.Fatalf("kcat committed %d records' worth of offsets, want 90", total)
	}
	produceN(t, tb, "kcat-group", 90, 30)
	got := run()
	if len(got) != 30 {
		t.Fatalf("second run read %d records, want the 30 new ones", len(got))
	}
	for _, v := range got {
		if v < "v90" && len(v) == 3 {
			t.Fatalf("second run re-read %s", v)
		}
	}
}

// pythonWithConfluentKafka finds a Python with confluent_kafka. CI
// installs Debian's python3-confluent-kafka (.ci/run), so there it must
// exist: with CI set, a missing module fails the test instead of skipping.
func pythonWithConfluentKafka(t *testing.T) string {
	t.Helper()
	var candidates []string
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		candidates = append(candidates, "/usr/bin/python3") // Debian's, where apt installs the module
	}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import confluent_kafka").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("python3 with confluent_kafka not installed; .ci/run installs it with apt-get install -y python3-confluent-kafka")
	}
	t.Skip("python3 with confluent_kafka not installed")
	return ""
}

// pythonGroup runs two confluent-kafka consumers of one group in one
// process. It prints "ready" once both own partitions, then reads until it
// has seen want records (and a second more, to catch extra ones),
// committing each synchronously, and prints a JSON summary.
const pythonGroup = `
import json, sys, time
from confluent_kafka import Consumer
bootstrap, group, topic, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "session.timeout.ms": 6000, "heartbeat.interval.ms": 200}
consumers = [Consumer(dict(conf, **{"client.id": "py-%d" % i})) for i in range(2)]
for c in consumers:
    c.subscribe([topic])
seen, ready, done_at = {}, False, None
deadline = time.time() + 60
while time.time() < deadline:
    for i, c in enumerate(consumers):
        m = c.poll(0.05)
        if m is None:
            continue
        if m.error():
            print("error: %s" % m.error(), file=sys.stderr)
            continue
        seen.setdefault(m.value().decode(), []).append([i, m.partition()])
        c.commit(message=m, asynchronous=False)
    assignments = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
    if not ready and all(assignments):
        ready = True
        print("ready", flush=True)
    if ready and len(seen) >= want and done_at is None:
        done_at = time.time()
    if done_at is not None and time.time() - done_at > 1:
        break
print(json.dumps({"assignments": assignments, "seen": seen}), flush=True)
for c in consumers:
    c.close()
`

type pythonResult struct {
	Assignments [][]int32          `json:"assignments"`
	Seen        map[string][][]int `json:"seen"`
}

// runPythonGroup runs pythonGroup, calling onReady when both consumers
// own partitions.
func runPythonGroup(t *testing.T, python, addr, group, topic string, want int, onReady func()) pythonResult {
	t.Helper()
	script := filepath.Join(t.TempDir(), "group.py")
	if err := os.WriteFile(script, []byte(pythonGroup), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script, addr, group, topic, itoa(want))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var res pythonResult
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			onReady()
			continue
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("python output %q: %v", line, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return res
}

// TestGroupPythonConfluentKafka: a two-member confluent-kafka-python group
// splits the partitions and reads every record once, committing; a second
// run of the group resumes after the commits.
func TestGroupPythonConfluentKafka(t *testing.T) {
	python := pythonWithConfluentKafka(t)
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "py-group", 4, nil)
	start := time.Now()
	res := runPythonGroup(t, python, tb.Addr(), "py-g", "py-group", 80, func() { produceN(t, tb, "py-group", 0, 80) })
	t.Logf("first run took %v, assignments %v", time.Since(start), res.Assignments)
	if len(res.Assignments) != 2 || len(res.Assignments[0]) != 2 || len(res.Assignments[1]) != 2 {
		t.Fatalf("assignments %v, want two partitions each", res.Assignments)
	}
	owner := map[int]int{}
	for i, ps := range res.Assignments {
		for _, p := range ps {
			owner[int(p)] = i
		}
	}
	if len(owner) != 4 {
		t.Fatalf("assignments overlap: %v", res.Assignments)
	}
	if len(res.Seen) != 80 {
		t.Fatalf("read %d distinct records, want 80", len(res.Seen))
	}
	for v, reads := range res.Seen {
		if len(reads) != 1 {
			t.Fatalf("record %s read %d times: %v", v, len(reads), reads)
		}
		if owner[reads[0][1]] != reads[0][0] {
			t.Fatalf("record %s read by consumer %d from partition %d it does not own", v, reads[0][0], reads[0][1])
		}
	}

	produceN(t, tb, "py-group", 80, 40)
	res = runPythonGroup(t, python, tb.Addr(), "py-g", "py-group", 40, func() {})
	if len(res.Seen) != 40 {
		t.Fatalf("second run read %d records, want the 40 new ones", len(res.Seen))
	}
	for v := range res.Seen {
		if len(v) == 3 && v < "v80" {
			t.Fatalf("second run re-read %s", v)
		}
	}
}
