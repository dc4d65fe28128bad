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

	"github.com/twmb/franz-go/pkg/kadm"
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

// TestGroupPythonConfluentKafka: a two-member confluent-kafka-python group
// splits the partitions and reads every record once, committing; a second
// run of the group resumes after the commits.
func TestGroupPythonConfluentKafka(t *testing.T) {
	python := pythonWith(t, "confluent_kafka", "python3-confluent-kafka")
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "py-group", 4, nil)
	start := time.Now()
	var res groupRun
	runClientScript(t, python, "group.py", pythonGroup, "", func() { produceN(t, tb, "py-group", 0, 80) }, &res,
		tb.Addr(), "py-g", "py-group", "80")
	t.Logf("first run took %v, assignments %v", time.Since(start), res.Assignments)
	checkGroupRun(t, res, 2, 4, 0, 80)
	checkCommittedAtEnds(t, tb, "py-g", "py-group")

	produceN(t, tb, "py-group", 80, 40)
	res = groupRun{}
	runClientScript(t, python, "group.py", pythonGroup, "", func() {}, &res, tb.Addr(), "py-g", "py-group", "40")
	// The records were there before the members joined, so the first one
	// may read some before the second joins and the commits race the
	// rebalance: only the set of records read is exact.
	checkReadValues(t, res, 80, 120)
}

// clientProgram runs the scripts of a client that is not written in Go:
// an interpreter and the environment it needs to find the client.
type clientProgram struct {
	path string
	env  []string
}

// clientMissing fails the test when CI is set, since .ci/run installs
// every client (with install), and skips it otherwise.
func clientMissing(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not installed; .ci/run installs it with %s", what, install)
	}
	t.Skipf("%s not installed", what)
}

// pythonWith finds a Python that imports module, which CI installs with
// Debian's debianPackage.
func pythonWith(t *testing.T, module, debianPackage string) clientProgram {
	t.Helper()
	var candidates []string
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		candidates = append(candidates, "/usr/bin/python3") // Debian's, where apt installs the module
	}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import "+module).Run() == nil {
			return clientProgram{path: p}
		}
	}
	clientMissing(t, "python3 with "+module, "apt-get install -y "+debianPackage)
	return clientProgram{}
}

// runClientScript writes source to a temporary file called name and runs
// it with prog, args and stdin. A line "ready" on its standard output
// calls onReady; any other line is the script's JSON result, decoded into
// out. What the script writes to standard error goes to the test log.
func runClientScript(t *testing.T, prog clientProgram, name, source, stdin string, onReady func(), out any, args ...string) {
	t.Helper()
	script := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(script, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog.path, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), prog.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() }) // should the test stop early, the script goes too
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "ready" {
			onReady()
			continue
		}
		if err := json.Unmarshal([]byte(line), out); err != nil {
			t.Fatalf("%s output %q: %v", name, line, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", name, stderr.String())
	}
}

// groupRun is what a group script prints when it is done: each member's
// partitions, and for each record value read, who read it: [member,
// partition] per read. Client, APIVersion and Requests say which client
// ran and which request versions it sent, where the script tells.
type groupRun struct {
	Assignments [][]int32          `json:"assignments"`
	Seen        map[string][][]int `json:"seen"`
	Client      string             `json:"client"`
	APIVersion  string             `json:"api_version"`
	Requests    map[string][]int   `json:"requests"`
}

// checkReadValues checks that the run read exactly the records produceN
// wrote from..to-1.
func checkReadValues(t *testing.T, res groupRun, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, ok := res.Seen["v"+itoa(i)]; !ok {
			t.Fatalf("record v%d not read (read %d distinct records)", i, len(res.Seen))
		}
	}
	if len(res.Seen) != to-from {
		t.Fatalf("read %d distinct records, want the %d of v%d..v%d", len(res.Seen), to-from, from, to-1)
	}
}

// checkGroupRun checks that members split partitions evenly between them
// and together read exactly the records from..to-1, each once and from a
// partition its reader owns.
func checkGroupRun(t *testing.T, res groupRun, members, partitions, from, to int) {
	t.Helper()
	owner := map[int]int{}
	for i, ps := range res.Assignments {
		if len(ps) != partitions/members {
			t.Fatalf("assignments %v, want %d partitions each", res.Assignments, partitions/members)
		}
		for _, p := range ps {
			owner[int(p)] = i
		}
	}
	if len(res.Assignments) != members || len(owner) != partitions {
		t.Fatalf("assignments %v, want %d members owning %d partitions between them", res.Assignments, members, partitions)
	}
	checkReadValues(t, res, from, to)
	for v, reads := range res.Seen {
		if len(reads) != 1 {
			t.Fatalf("record %s read %d times: %v", v, len(reads), reads)
		}
		if owner[reads[0][1]] != reads[0][0] {
			t.Fatalf("record %s read by member %d from partition %d it does not own", v, reads[0][0], reads[0][1])
		}
	}
}

// checkCommittedAtEnds checks that group's committed offsets of topic are
// the partitions' end offsets: everything read was committed.
func checkCommittedAtEnds(t *testing.T, tb *testBroker, group, topic string) {
	t.Helper()
	adm := tb.admin()
	committed, err := adm.FetchOffsets(ctxT(t), group)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(end kadm.ListedOffset) {
		if end.Err != nil {
			t.Fatalf("end offset of %s[%d]: %v", topic, end.Partition, end.Err)
		}
		c, ok := committed.Lookup(topic, end.Partition)
		if !ok || c.Err != nil || c.At != end.Offset {
			t.Fatalf("%s committed %+v for %s[%d], want the end offset %d", group, c, topic, end.Partition, end.Offset)
		}
	})
}
