package broker_test

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/clustertest"
)

// interopCluster starts three combined nodes that fence a dead broker
// within two seconds and creates topic: one partition, replication factor
// 3, min.insync.replicas 2. It returns the cluster, the bootstrap list and
// the partition's leader (a node index).
func interopCluster(t *testing.T, topic string) (*clustertest.Cluster, string, int) {
	t.Helper()
	c := clustertest.Start(t, clustertest.Options{Nodes: 3, Static: map[string]string{
		"broker.session.timeout.ms":    "2000",
		"broker.heartbeat.interval.ms": "500",
	}})
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	resp, err := adm.CreateTopic(ctxT(t), 1, 3, map[string]*string{"min.insync.replicas": strp("2")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	return c, strings.Join(c.Seeds(), ","), int(partitionLeader(t, adm, topic, -1)) - 1
}

// partitionLeader waits until some node other than not leads partition 0
// of topic, as every node's Metadata says, and returns its node.id.
func partitionLeader(t *testing.T, adm *kadm.Client, topic string, not int32) int32 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		md, err := adm.Metadata(ctxT(t), topic)
		if err == nil {
			if p, ok := md.Topics[topic].Partitions[0]; ok && p.Err == nil && p.Leader > 0 && p.Leader != not {
				return p.Leader
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition 0 of %s: no leader but %d (%v)", topic, not, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endOffset is partition 0 of topic's high watermark.
func endOffset(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctxT(t), topic)
	if err != nil {
		return -1
	}
	o, _ := ends.Lookup(topic, 0)
	if o.Err != nil {
		return -1
	}
	return o.Offset
}

// TestKcatClusterFailover: kcat (librdkafka) produces with acks=all and
// idempotence to a topic of replication factor 3 on three nodes, from a
// pipe; once most of the first half of the lines are in the log the
// partition's leader is killed, and the second half is written. (kcat
// reads its input in blocks of a few KiB, so the lines are 1 KiB long:
// the first half reaches the cluster before the rest is written.) kcat exits cleanly
// (every record delivered), and kcat reads back every line exactly once,
// in order, from the two survivors.
func TestKcatClusterFailover(t *testing.T) {
	kcatPath(t)
	c, bootstrap, leader := interopCluster(t, "kcat-rf3")
	const n = 400
	cmd := exec.Command(kcatPath(t), "-b", bootstrap, "-P", "-t", "kcat-rf3", "-X", "acks=all", "-X", "enable.idempotence=true",
		"-X", "linger.ms=5", "-X", "topic.metadata.refresh.interval.ms=1000")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pad := strings.Repeat("x", 1000)
	line := func(i int) string { return fmt.Sprintf("line-%d-%s", i, pad) }
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := io.WriteString(stdin, line(i)+"\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, n/2)
	adm := c.Admin(kgo.MetadataMinAge(10 * time.Millisecond))
	deadline := time.Now().Add(60 * time.Second)
	for endOffset(t, adm, "kcat-rf3") < n/2-20 {
		if time.Now().After(deadline) {
			t.Fatalf("kcat's first %d lines not in the log within a minute\n%s", n/2-20, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Node(leader).Kill()
	write(n/2, n)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kcat producer across the kill of leader %d: %v\n%s", leader+1, err, stderr.String())
	}
	next := partitionLeader(t, adm, "kcat-rf3", int32(leader+1))

	out := runKcat(t, "", "-b", bootstrap, "-C", "-t", "kcat-rf3", "-o", "beginning", "-e", "-q", "-f", "%o %s\n")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("kcat read %d records, want %d:\n%s", len(lines), n, out)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("%d %s", i, line(i)); l != want {
			t.Fatalf("record %d: %.40q, want %.40q", i, l, want)
		}
	}
	t.Logf("kcat wrote %d lines across the kill of leader %d (node %d led next), read them back once each and in order", n, leader+1, next)
}

// pythonClusterProduce produces want numbered records with acks=all and
// idempotence, printing "ready" once half are acknowledged (the test then
// kills the leader), flushes, reads the partition back from the start to
// its end, and prints the acknowledged values, the errors and what it
// read.
const pythonClusterProduce = `
import json, sys, time
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
              "topic.metadata.refresh.interval.ms": 1000})
acked, errors, ready = [], [], False
def delivered(err, msg):
    if err is not None:
        errors.append(str(err))
    else:
        acked.append(msg.value().decode())
for i in range(want):
    while True:
        try:
            p.produce(topic, value=str(i).encode(), partition=0, on_delivery=delivered)
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
    if i == want // 2:
        deadline = time.time() + 60
        while len(acked) < want // 2 and time.time() < deadline:
            p.poll(0.05)
        print("ready", flush=True)
        time.sleep(0.2)
left = p.flush(90)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "py-rf3-reader", "enable.auto.commit": False})
low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
c.assign([TopicPartition(topic, 0, 0)])
read, deadline = [], time.time() + 60
while len(read) < high and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print("consume error: %s" % m.error(), file=sys.stderr)
        continue
    read.append([m.offset(), m.value().decode()])
c.close()
print(json.dumps({"acked": acked, "errors": errors, "unflushed": left, "high": high, "read": read}))
`

// TestConfluentKafkaPythonClusterFailover: confluent-kafka-python
// (librdkafka) produces numbered records with acks=all and idempotence
// to a topic of replication factor 3 on three nodes, and the partition's
// leader is killed once half are acknowledged. Every record is
// acknowledged, none fails, and the script's consumer reads the partition
// back: each value exactly once, in order, at offsets 0, 1, 2, ...
func TestConfluentKafkaPythonClusterFailover(t *testing.T) {
	py := pythonWith(t, "confluent_kafka", "python3-confluent-kafka")
	c, bootstrap, leader := interopCluster(t, "py-rf3")
	const n = 2000
	var res struct {
		Acked     []string `json:"acked"`
		Errors    []string `json:"errors"`
		Unflushed int      `json:"unflushed"`
		High      int64    `json:"high"`
		Read      [][]any  `json:"read"`
	}
	killed := false
	runClientScript(t, py, "cluster_produce.py", pythonClusterProduce, "", func() {
		c.Node(leader).Kill()
		killed = true
	}, &res, bootstrap, "py-rf3", fmt.Sprint(n))
	if !killed {
		t.Fatal("the script never reported half its records acknowledged")
	}
	if len(res.Errors) != 0 || res.Unflushed != 0 || len(res.Acked) != n {
		t.Fatalf("%d of %d acknowledged, %d left unflushed, errors %v", len(res.Acked), n, res.Unflushed, res.Errors)
	}
	if res.High != n || len(res.Read) != n {
		t.Fatalf("high watermark %d, read %d records; want %d", res.High, len(res.Read), n)
	}
	for i, r := range res.Read {
		if off, v := r[0], r[1]; off != float64(i) || v != fmt.Sprint(i) {
			t.Fatalf("read %v at position %d, want offset %d holding %q", r, i, i, fmt.Sprint(i))
		}
	}
	t.Logf("confluent-kafka-python: %d records acknowledged across the kill of leader %d, read back once each and in order", n, leader+1)
}
