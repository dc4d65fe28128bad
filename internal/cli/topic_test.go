package cli

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func TestUnreachableBroker(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, args := range [][]string{{"topic", "list"}, {"cluster", "info"}, {"produce", "x"}, {"consume", "x"}, {"group", "list"}, {"bench", "e2e"}, {"bench"}} {
		r := samsa(t, addr, "", args...)
		want := "cannot reach " + addr + ": connection refused"
		if r.err == nil || r.err.Error() != want {
			t.Errorf("samsa %s: error %v, want %q", strings.Join(args, " "), r.err, want)
		}
	}
	// .invalid never resolves; the exact reason depends on the resolver.
	r := samsa(t, "nosuchhost.invalid:9092", "", "topic", "list")
	if r.err == nil || !strings.HasPrefix(r.err.Error(), "cannot reach nosuchhost.invalid:9092: ") || strings.Contains(r.err.Error(), "\n") {
		t.Errorf("unresolvable host: %v", r.err)
	}
}

func TestBrokersFromEnvironment(t *testing.T) {
	g := &globals{env: Env{Getenv: func(k string) string {
		if k == "SAMSA_BROKERS" {
			return "a:1, b:2"
		}
		return ""
	}}}
	if got := strings.Join(g.seeds(), " "); got != "a:1 b:2" {
		t.Errorf("from $SAMSA_BROKERS: %q", got)
	}
	g.brokers = "c:3"
	if got := strings.Join(g.seeds(), " "); got != "c:3" {
		t.Errorf("--brokers wins: %q", got)
	}
	g = &globals{env: Env{Getenv: func(string) string { return "" }}}
	if got := strings.Join(g.seeds(), " "); got != "localhost:9092" {
		t.Errorf("default: %q", got)
	}
}

func TestTopicCommands(t *testing.T) {
	b := startBroker(t)

	golden(t, "topic_create", ok(t, b, "", "topic", "create", "greetings", "orders", "-p", "3", "-c", "retention.ms=3600000"))
	r := samsa(t, b, "", "topic", "create", "orders")
	if r.err == nil || !strings.Contains(r.stdout, "TOPIC_ALREADY_EXISTS") {
		t.Errorf("creating an existing topic: err %v, stdout:\n%s", r.err, r.stdout)
	}
	// One broker cannot hold three replicas: the row says why, the command fails.
	r = samsa(t, b, "", "topic", "create", "replicated", "-r", "3")
	if r.err == nil || r.err.Error() != "1 of 1 topics failed" {
		t.Errorf("-r 3 on one broker: err %v", r.err)
	}
	golden(t, "topic_create_rf_too_large", r.stdout)
	golden(t, "topic_list", ok(t, b, "", "topic", "list"))
	golden(t, "topic_list_json", ok(t, b, "", "topic", "list", "--format", "json"))

	ok(t, b, "a\nb\nc\nd\n", "produce", "orders", "-p", "1")
	golden(t, "topic_describe", ok(t, b, "", "topic", "describe", "orders"))
	golden(t, "topic_describe_json", ok(t, b, "", "topic", "describe", "orders", "--format", "json"))

	golden(t, "topic_add_partitions", ok(t, b, "", "topic", "add-partitions", "orders", "-n", "2"))
	if out := ok(t, b, "", "topic", "list"); !strings.Contains(out, "orders     5") {
		t.Errorf("after add-partitions:\n%s", out)
	}
	ok(t, b, "", "topic", "add-partitions", "greetings", "--to", "4")

	golden(t, "topic_alter_config", ok(t, b, "", "topic", "alter-config", "orders", "--set", "segment.bytes=1048576", "--delete", "retention.ms"))
	out := ok(t, b, "", "config", "describe", "topic", "orders", "--changed")
	if !strings.Contains(out, "segment.bytes  1048576  dynamic-topic") || strings.Contains(out, "retention.ms") {
		t.Errorf("configs after alter-config:\n%s", out)
	}

	golden(t, "topic_delete", ok(t, b, "", "topic", "delete", "greetings"))
	if out := ok(t, b, "", "topic", "list"); strings.Contains(out, "greetings") {
		t.Errorf("greetings still listed after delete:\n%s", out)
	}
	if r := samsa(t, b, "", "topic", "describe", "nope"); r.err == nil {
		t.Error("describe of a missing topic: want an error")
	}
	if r := samsa(t, b, "", "topic", "list", "--format", "yaml"); r.err == nil {
		t.Error("--format yaml: want an error")
	}
}

func TestTopicDescribeSizes(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "sized", "-p", "2")
	ok(t, b, "hello\nworld\n", "produce", "sized", "-p", "0")
	var d []topicDescription
	if err := json.Unmarshal([]byte(ok(t, b, "", "topic", "describe", "sized", "--format", "json")), &d); err != nil {
		t.Fatal(err)
	}
	p := d[0].Partitions
	if len(p) != 2 || p[0].SizeBytes <= 0 || p[1].SizeBytes != 0 || d[0].SizeBytes != p[0].SizeBytes || p[0].LogEndOffset != 2 {
		t.Errorf("sizes and offsets: %+v", d[0])
	}
}

// TestTopicDescribeOffline renders what a cluster with a broker down
// reports (Metadata: leader -1, the dead replica offline and out of the
// ISR), which one in-process broker cannot produce.
func TestTopicDescribeOffline(t *testing.T) {
	d := topicDescription{
		Name: "orders", ID: "bCloNBPFSkCvqKYLlr75Ew", ReplicationFactor: 3, SizeBytes: 2048,
		Partitions: []partitionDescription{
			{Partition: 0, Leader: 2, LeaderEpoch: 4, Replicas: []int32{1, 2, 3}, ISR: []int32{2, 3}, OfflineReplicas: []int32{1}, LogEndOffset: 10, SizeBytes: 2048},
			{Partition: 1, Leader: -1, LeaderEpoch: 7, Replicas: []int32{1}, ISR: []int32{1}, OfflineReplicas: []int32{1}, LogStartOffset: -1, LogEndOffset: -1, SizeBytes: -1},
		},
	}
	var out strings.Builder
	if err := writeTopicDescription(&out, d); err != nil {
		t.Fatal(err)
	}
	golden(t, "topic_describe_offline", out.String())
}
