package broker_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Burrow (LinkedIn's consumer lag monitor; Debian's burrow 1.2.1) against a
// Samsa broker. Burrow asks every partition's end offset with ListOffsets
// v0 (sarama's OffsetRequest at its zero version, whatever kafka-version
// says), which Kafka 4 no longer serves, and reads the groups' commits from
// __consumer_offsets itself. It keeps its own state in a ZooKeeper
// (Debian's zookeeper, run here as a local process).

const zookeeperJar = "/usr/share/java/zookeeper.jar"

// burrowPrograms finds Burrow and what runs ZooKeeper, which .ci/run
// installs.
func burrowPrograms(t *testing.T) (burrow, java string) {
	t.Helper()
	burrow, err := exec.LookPath("Burrow")
	if err != nil {
		clientMissing(t, "Burrow", "apt-get install -y burrow")
	}
	java, err = exec.LookPath("java")
	if err == nil {
		_, err = os.Stat(zookeeperJar)
	}
	if err != nil {
		clientMissing(t, "ZooKeeper (java and "+zookeeperJar+")", "apt-get install -y zookeeper")
	}
	return burrow, java
}

// freePort returns a port on 127.0.0.1 nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProcess runs cmd until the test ends, its output in log.
func startProcess(t *testing.T, cmd *exec.Cmd, log string) {
	t.Helper()
	out, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
}

// startZooKeeper runs a standalone ZooKeeper on 127.0.0.1 and returns its
// address once it serves requests ("srvr" says its mode: "ruok" answers
// before the server takes sessions).
func startZooKeeper(t *testing.T, java string) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n",
		filepath.Join(dir, "data"), port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-Xmx128m", "-cp", zookeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(dir, "zoo.cfg"))
	log := filepath.Join(dir, "zookeeper.log")
	startProcess(t, cmd, log)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if zkOK(addr) {
			return addr
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log)
			t.Fatalf("ZooKeeper on %s did not serve in 60 s:\n%s", addr, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func zkOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return strings.Contains(string(b), "Mode: standalone")
}

// burrowConfig is Burrow 1.2's burrow.toml: one Kafka cluster "samsa"
// with a kafka consumer module reading __consumer_offsets, refreshed
// every second, the client speaking as kafka-version (%[5]s).
const burrowConfig = `[general]
pidfile="%[1]s/burrow.pid"

[logging]
filename="%[1]s/burrow.log"
level="info"

[zookeeper]
servers=["%[2]s"]
timeout=6
root-path="/burrow-%[5]s"

[client-profile.samsa]
client-id="burrow-test"
kafka-version="%[5]s"

[cluster.samsa]
class-name="kafka"
servers=["%[3]s"]
client-profile="samsa"
topic-refresh=1
offset-refresh=1

[consumer.samsa]
class-name="kafka"
cluster="samsa"
servers=["%[3]s"]
client-profile="samsa"
start-latest=false

[httpserver.default]
address="%[4]s"

[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1
`

// startBurrow runs Burrow against broker, as a client of kafkaVersion,
// and returns its HTTP address and the path of its log.
func startBurrow(t *testing.T, burrow, zookeeper, broker, kafkaVersion string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := fmt.Sprintf(burrowConfig, dir, zookeeper, broker, httpAddr, kafkaVersion)
	if err := os.WriteFile(filepath.Join(dir, "burrow.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(burrow, "--config-dir", dir)
	cmd.Dir = dir
	startProcess(t, cmd, filepath.Join(dir, "burrow.out"))
	return httpAddr, filepath.Join(dir, "burrow.log")
}

// pollBurrow gets path from Burrow's HTTP API into out until done says
// the answer is complete, for up to a minute.
func pollBurrow(t *testing.T, addr, log, path string, out any, done func() bool) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(time.Minute)
	var last string
	for {
		resp, err := hc.Get("http://" + addr + path)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, out) == nil && done() {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			logText, _ := os.ReadFile(log)
			t.Fatalf("Burrow %s: no complete answer in a minute; last: %s\nBurrow's log:\n%s", path, last, tail(string(logText), 4000))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// burrowLag is the part of Burrow's /consumer/<group>/lag answer checked.
type burrowLag struct {
	Error  bool `json:"error"`
	Status struct {
		Group      string `json:"group"`
		TotalLag   int64  `json:"totallag"`
		Partitions []struct {
			Topic      string `json:"topic"`
			Partition  int32  `json:"partition"`
			CurrentLag int64  `json:"current_lag"`
			End        *struct {
				Offset int64 `json:"offset"`
			} `json:"end"`
		} `json:"partitions"`
	} `json:"status"`
}

// TestBurrow: Burrow, as a 0.10.0 and as a 2.0.0 client, reports a Samsa
// broker's topics with their exact end offsets, the consumer groups that
// committed (one through the current OffsetCommit, one through v1 as a
// 0.8.2 client would), each group's committed offsets and its lag per
// partition, exactly.
func TestBurrow(t *testing.T) {
	burrow, java := burrowPrograms(t)
	tb := startBroker(t, "", groupStatic())
	adm := tb.admin()
	createTopic(t, adm, "burrow-a", 3, nil)
	createTopic(t, adm, "burrow-b", 1, nil)
	ends := map[string][]int64{"burrow-a": {10, 20, 30}, "burrow-b": {5}}
	cl := tb.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for topic, counts := range ends {
		for p, n := range counts {
			var recs []*kgo.Record
			for i := range n {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(strconv.Itoa(int(i)))})
			}
			if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// burrow-g commits with the current OffsetCommit; burrow-old with v1,
	// outside any generation, as kafka-python's api_version (0, 8, 2) does.
	var commits kadm.Offsets
	for p, at := range []int64{10, 15, 0} {
		commits.Add(kadm.Offset{Topic: "burrow-a", Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	commits.Add(kadm.Offset{Topic: "burrow-b", Partition: 0, At: 5, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctxT(t), "burrow-g", commits); err != nil || resp.Error() != nil {
		t.Fatalf("commit burrow-g: %v %v", err, resp.Error())
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = "burrow-old"
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "burrow-a"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.Timestamp = 0, 3, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if code := send[*kmsg.OffsetCommitResponse](t, tb, req, 1).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("OffsetCommit v1 for burrow-old: error %d", code)
	}

	wantLag := map[string]map[string]int64{ // group -> "topic/partition" -> committed offset
		"burrow-g":   {"burrow-a/0": 10, "burrow-a/1": 15, "burrow-a/2": 0, "burrow-b/0": 5},
		"burrow-old": {"burrow-a/0": 3},
	}
	zk := startZooKeeper(t, java)
	// 0.10.0 is the Debian example's kafka-version (sarama fetches
	// __consumer_offsets with Fetch v2: message sets), 2.0.0 a client that
	// fetches record batches. ListOffsets is v0 either way.
	for _, kafkaVersion := range []string{"0.10.0", "2.0.0"} {
		t.Run(kafkaVersion, func(t *testing.T) {
			addr, log := startBurrow(t, burrow, zk, tb.Addr(), kafkaVersion)
			start := time.Now()
			checkBurrow(t, addr, log, ends, wantLag)
			t.Logf("Burrow reported every topic, group and lag %v after it started", time.Since(start).Round(time.Millisecond))
		})
	}
}

// checkBurrow polls Burrow until it reports exactly the topics and their
// end offsets (ends), the groups, and each group's committed offset and
// lag per partition (wantLag: group -> "topic/partition" -> offset).
func checkBurrow(t *testing.T, addr, log string, ends map[string][]int64, wantLag map[string]map[string]int64) {
	t.Helper()

	var topics struct {
		Topics []string `json:"topics"`
	}
	pollBurrow(t, addr, log, "/v3/kafka/samsa/topic", &topics, func() bool {
		return slices.Contains(topics.Topics, "burrow-a") && slices.Contains(topics.Topics, "burrow-b")
	})
	slices.Sort(topics.Topics)
	if want := []string{"__consumer_offsets", "burrow-a", "burrow-b"}; !slices.Equal(topics.Topics, want) {
		t.Fatalf("Burrow's topics %v, want %v", topics.Topics, want)
	}
	for topic, want := range ends {
		var offsets struct {
			Offsets []int64 `json:"offsets"`
		}
		pollBurrow(t, addr, log, "/v3/kafka/samsa/topic/"+topic, &offsets, func() bool { return slices.Equal(offsets.Offsets, want) })
	}

	var consumers struct {
		Consumers []string `json:"consumers"`
	}
	pollBurrow(t, addr, log, "/v3/kafka/samsa/consumer", &consumers, func() bool {
		return slices.Contains(consumers.Consumers, "burrow-g") && slices.Contains(consumers.Consumers, "burrow-old")
	})

	for group, committed := range wantLag {
		var lag burrowLag
		var got map[string]string
		pollBurrow(t, addr, log, "/v3/kafka/samsa/consumer/"+group+"/lag", &lag, func() bool {
			got = map[string]string{}
			for _, p := range lag.Status.Partitions {
				if p.End != nil {
					got[p.Topic+"/"+strconv.Itoa(int(p.Partition))] = fmt.Sprintf("offset %d lag %d", p.End.Offset, p.CurrentLag)
				}
			}
			return len(got) == len(committed)
		})
		var total int64
		for tp, off := range committed {
			topic, p, _ := strings.Cut(tp, "/")
			pi, _ := strconv.Atoi(p)
			lagWant := ends[topic][pi] - off
			total += lagWant
			if want := fmt.Sprintf("offset %d lag %d", off, lagWant); got[tp] != want {
				t.Errorf("Burrow's %s %s: %s, want %s", group, tp, got[tp], want)
			}
		}
		if lag.Status.TotalLag != total {
			t.Errorf("Burrow's %s total lag %d, want %d", group, lag.Status.TotalLag, total)
		}
	}
}
