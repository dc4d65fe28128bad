package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// binDir holds the samsa binary the tests build, once per run; TestMain
// removes it.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildSamsa builds cmd/samsa: cluster local starts its own executable,
// which under `go test` would be the test binary.
func buildSamsa(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binError = os.MkdirTemp("", "samsa-bin-"); binError != nil {
			return
		}
		binPath = filepath.Join(binDir, "samsa")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/samsa").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// clusterLocal is a running `samsa cluster local`.
type clusterLocal struct {
	cmd       *exec.Cmd
	bootstrap string
	stderr    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startClusterLocal runs cmd, a samsa cluster local, and waits for the
// bootstrap line on its standard output. It returns an empty bootstrap if
// the command exited first (cmd has been waited for then).
// dieWithTest has the kernel send cmd SIGTERM if the test binary dies (a
// test timeout kills it without running cleanups), so no process of a
// test outlives it; cluster local then stops its nodes.
func dieWithTest(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}

func startClusterLocal(t *testing.T, cmd *exec.Cmd) *clusterLocal {
	t.Helper()
	c := &clusterLocal{cmd: cmd, stderr: &lockedBuffer{}}
	if c.cmd.Env == nil {
		c.cmd.Env = os.Environ()
	}
	// A temporary directory cluster local keeps (after a failure) goes with the test's.
	c.cmd.Env = append(c.cmd.Env, "TMPDIR="+t.TempDir())
	c.cmd.Stderr = c.stderr
	dieWithTest(c.cmd)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			_ = c.cmd.Wait()
			return c
		}
		c.bootstrap = line
	case <-time.After(2 * time.Minute):
		t.Fatalf("no bootstrap line after 2m; stderr:\n%s", c.stderr)
	}
	return c
}

var pidLine = regexp.MustCompile(`(?m)^node (\d+): pid (\d+), kafka (\S+),`)

// pids are the nodes' process IDs as cluster local printed them.
func (c *clusterLocal) pids(t *testing.T) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, m := range pidLine.FindAllStringSubmatch(c.stderr.String(), -1) {
		id, _ := strconv.Atoi(m[1])
		pid, _ := strconv.Atoi(m[2])
		out[id] = pid
	}
	return out
}

// assertGone checks that no process of pids is left (cluster local reaps
// its nodes, so a stopped node's ID no longer exists).
func assertGone(t *testing.T, pids map[int]int) {
	t.Helper()
	for id, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node %d (pid %d) still exists after cluster local exited: kill 0: %v", id, pid, err)
		}
	}
}

// produceConsume creates topic with 3 partitions of replicas replicas,
// writes records through the bootstrap list with acks=all and reads exactly
// them back, in order per key. It returns the partitions' leaders.
func produceConsume(t *testing.T, bootstrap, topic string, replicas int16) map[int32]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seeds := strings.Split(bootstrap, ",")
	// kgo retries a produce forever by default: a broker that never
	// commits must fail the test, not hang it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, 3, replicas, nil, topic)
	if err == nil {
		err = resp[topic].Err
	}
	if err != nil {
		t.Fatalf("create topic %s with %d replicas: %v", topic, replicas, err)
	}
	const n = 300
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 7)), Value: []byte(fmt.Sprintf("record-%d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	next := map[string]int{} // per key, records arrive in production order
	got := 0
	for got < n {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			k := string(r.Key)
			key, _ := strconv.Atoi(k)
			want := fmt.Sprintf("record-%d", next[k]*7+key)
			if string(r.Value) != want {
				t.Fatalf("key %s: got %s, want %s", k, r.Value, want)
			}
			next[k]++
			got++
		})
	}
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int32]bool{}
	for _, p := range topics[topic].Partitions {
		leaders[p.Leader] = true
	}
	return leaders
}

// stop sends sig (SIGINT is Ctrl-C) and waits for the exit status.
func (c *clusterLocal) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("cluster local still running 1m after SIGTERM; stderr:\n%s", c.stderr)
		return nil
	}
}

// testClusterLocal runs a cluster of n nodes in a --dir, produces and
// consumes through its bootstrap list and stops it with SIGTERM.
func testClusterLocal(t *testing.T, nodes int) {
	bin := buildSamsa(t)
	dir := t.TempDir()
	c := startClusterLocal(t, exec.Command(bin, "cluster", "local", "--nodes", strconv.Itoa(nodes), "--dir", dir, "--base-port", "0", "--log-level", "warn"))
	if c.bootstrap == "" {
		t.Fatalf("cluster local exited before printing the bootstrap list: %v\n%s", c.cmd.ProcessState, c.stderr)
	}
	pids := c.pids(t)
	if len(pids) != nodes {
		t.Fatalf("%d node lines, want %d:\n%s", len(pids), nodes, c.stderr)
	}
	want := make([]string, nodes)
	for i, m := range pidLine.FindAllStringSubmatch(c.stderr.String(), -1) {
		want[i] = m[3]
	}
	if c.bootstrap != strings.Join(want, ",") {
		t.Fatalf("bootstrap %q, want the nodes' listeners %v", c.bootstrap, want)
	}
	// One replica each: the three partitions are led by different nodes
	// (placement is balanced), so the client talks to every one of them.
	if leaders := produceConsume(t, c.bootstrap, "dev", 1); len(leaders) != min(nodes, 3) {
		t.Errorf("partitions led by %v, want %d different nodes", leaders, min(nodes, 3))
	}
	if nodes > 1 {
		t.Run("replicated", func(t *testing.T) {
			produceConsume(t, c.bootstrap, "replicated", int16(nodes))
		})
	}
	if err := c.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("cluster local after SIGTERM: %v, want exit status 0; stderr:\n%s", err, c.stderr)
	}
	assertGone(t, pids)
	for id := 1; id <= nodes; id++ {
		log, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node-%d.log", id)))
		if err != nil {
			t.Fatal(err)
		}
		// --log-level warn: a clean stop logs nothing at warn or above
		// but hashicorp/raft's complaints about peers' connections closing
		// as every node stops at once.
		for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
			if line != "" && !strings.Contains(line, `msg="raft: `) {
				t.Errorf("node %d logged: %s", id, line)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("node-%d", id), "__metadata")); err != nil {
			t.Errorf("node %d data directory: %v", id, err)
		}
	}
}

func TestClusterLocalOneNode(t *testing.T) { testClusterLocal(t, 1) }

func TestClusterLocalThreeNodes(t *testing.T) { testClusterLocal(t, 3) }

// TestClusterLocalNodeFails: a node that cannot start makes cluster local
// show its log's end, stop the others and exit 1, leaving no process.
func TestClusterLocalNodeFails(t *testing.T) {
	bin := buildSamsa(t)
	c := startClusterLocal(t, exec.Command(bin, "cluster", "local", "--nodes", "2", "--base-port", "0", "--set", "num.partitions=many"))
	if c.bootstrap != "" {
		t.Fatalf("a cluster with num.partitions=many started: %s", c.bootstrap)
	}
	if code := c.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", code, c.stderr)
	}
	stderr := c.stderr.String()
	for _, want := range []string{"exited (exit status 1); the end of ", "num.partitions", "samsa: node ", "data and logs kept in "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	pids := c.pids(t)
	if len(pids) == 0 {
		t.Fatalf("no node started:\n%s", stderr)
	}
	assertGone(t, pids)
}
