package cli

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMeasureCatchUp measures, on three real `samsa serve` processes
// (combined nodes, a topic of one partition with three replicas,
// min.insync.replicas=2), how long a follower stopped while the others
// took SAMSA_MEASURE_BYTES (default 1 GiB) of acks=all records takes,
// from its restart, to be back in the ISR the cluster serves, and the
// resident memory (VmRSS) of each broker process meanwhile (the most seen,
// sampled every 100 ms). It only runs with SAMSA_MEASURE=1:
//
//	SAMSA_MEASURE=1 go test ./internal/cli -run TestMeasureCatchUp -v -timeout 30m
func TestMeasureCatchUp(t *testing.T) {
	if os.Getenv("SAMSA_MEASURE") != "1" {
		t.Skip("a measurement: set SAMSA_MEASURE=1")
	}
	total := int64(1 << 30)
	if s := os.Getenv("SAMSA_MEASURE_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		total = n
	}
	bin := buildSamsa(t)
	nodes := startMeasureNodes(t, bin, 3)
	seeds := nodes.kafka
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(2*time.Minute),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedBytes(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	minISR := "2"
	if resp, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": &minISR}, "catchup"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	var md kadm.Metadata
	for {
		md, err = adm.Metadata(ctx, "catchup")
		if err == nil && len(md.Topics["catchup"].Partitions[0].ISR) == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no ISR of three: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	leader := md.Topics["catchup"].Partitions[0].Leader
	stopped := int32(-1)
	for id := int32(1); id <= 3; id++ {
		if id != leader && (stopped < 0 || id != md.Controller) {
			stopped = id
		}
	}
	t.Logf("leader %d, controller %d, stopping follower %d", leader, md.Controller, stopped)

	peak := nodes.sampleRSS()
	nodes.stop(t, stopped)
	value := make([]byte, 16<<10)
	for i := range value {
		value[i] = byte(i * 7)
	}
	n := int(total / int64(len(value)))
	start := time.Now()
	var wg sync.WaitGroup
	var perr error
	var mu sync.Mutex
	for range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: "catchup", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				perr = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if perr != nil {
		t.Fatalf("produce: %v", perr)
	}
	produced := time.Since(start)
	t.Logf("produced %d records of %d B (%.0f MiB) acks=all with node %d stopped in %v (%.1f MB/s)",
		n, len(value), float64(n*len(value))/(1<<20), stopped, produced.Round(time.Millisecond), float64(n*len(value))/produced.Seconds()/1e6)

	restart := time.Now()
	nodes.start(t, stopped)
	for {
		md, err := adm.Metadata(ctx, "catchup")
		if err == nil && slices.Contains(md.Topics["catchup"].Partitions[0].ISR, stopped) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("node %d not back in the ISR: %v", stopped, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	back := time.Since(restart)
	ends, err := adm.ListEndOffsets(ctx, "catchup")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("catchup", 0)
	if end.Offset != int64(n) {
		t.Fatalf("log end offset %d, want %d", end.Offset, n)
	}
	t.Logf("node %d back in the ISR %v after its restart (%.0f MiB behind; log end offset %d)", stopped, back.Round(time.Millisecond), float64(n*len(value))/(1<<20), end.Offset)
	for id, kb := range peak() {
		t.Logf("node %d: peak VmRSS %d MiB", id, kb>>10)
	}
}

// measureNodes are combined nodes run as real processes.
type measureNodes struct {
	bin        string
	dir        string
	kafka      []string
	controller []string
	mu         sync.Mutex
	procs      map[int32]*exec.Cmd
}

func startMeasureNodes(t *testing.T, bin string, n int) *measureNodes {
	t.Helper()
	m := &measureNodes{bin: bin, dir: t.TempDir(), procs: map[int32]*exec.Cmd{}}
	var ls []net.Listener
	for range 2 * n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		if len(m.kafka) < n {
			m.kafka = append(m.kafka, l.Addr().String())
		} else {
			m.controller = append(m.controller, l.Addr().String())
		}
	}
	for _, l := range ls {
		l.Close()
	}
	t.Cleanup(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, c := range m.procs {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	})
	for id := int32(1); id <= int32(n); id++ {
		m.start(t, id)
	}
	return m
}

func (m *measureNodes) start(t *testing.T, id int32) {
	t.Helper()
	var voters []string
	for i, a := range m.controller {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, a))
	}
	args := []string{"serve", "--data-dir", filepath.Join(m.dir, fmt.Sprint("node-", id)), "--log-level", "warn"}
	for _, kv := range []string{
		"node.id=" + fmt.Sprint(id),
		"process.roles=broker,controller",
		"controller.quorum.voters=" + strings.Join(voters, ","),
		"controller.listener.names=CONTROLLER",
		"listeners=PLAINTEXT://" + m.kafka[id-1] + ",CONTROLLER://" + m.controller[id-1],
		"offsets.topic.replication.factor=3",
	} {
		args = append(args, "--set", kv)
	}
	cmd := exec.Command(m.bin, args...)
	dieWithTest(cmd)
	log, err := os.Create(filepath.Join(m.dir, fmt.Sprint("node-", id, ".log")))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.procs[id] = cmd
	m.mu.Unlock()
}

func (m *measureNodes) stop(t *testing.T, id int32) {
	t.Helper()
	m.mu.Lock()
	c := m.procs[id]
	delete(m.procs, id)
	m.mu.Unlock()
	_ = c.Process.Signal(syscall.SIGTERM)
	if err := c.Wait(); err != nil {
		t.Fatalf("node %d: %v", id, err)
	}
}

// sampleRSS samples every node's VmRSS every 100 ms until the returned
// function is called, which returns the most seen per node (KiB).
func (m *measureNodes) sampleRSS() func() map[int32]int64 {
	peak := map[int32]int64{}
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			m.mu.Lock()
			procs := map[int32]int{}
			for id, c := range m.procs {
				procs[id] = c.Process.Pid
			}
			m.mu.Unlock()
			for id, pid := range procs {
				if kb := vmRSS(pid); kb > 0 {
					mu.Lock()
					peak[id] = max(peak[id], kb)
					mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return func() map[int32]int64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// vmRSS is a process's resident set size in KiB (0 if unknown).
func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
