package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/localcluster"
)

// The runner runs in the test binary (race-built under .ci/run); the
// nodes and group members it starts are a samsa binary built once,
// without -race, as users run it.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func buildSamsa(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "samsa-chaos-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "samsa")
		if out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/samsa").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestLinksCarryInterNodeTraffic shows that the runner's links carry
// raft, the controller RPC and replica fetches between the real
// processes: with every link of the active controller blackholed, the
// other two elect another controller (raft), fence it (its heartbeats no
// longer arrive) and take it out of the ISR (its fetches no longer
// arrive); healed, it is back in every ISR.
func TestLinksCarryInterNodeTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three samsa serve processes")
	}
	dir := t.TempDir()
	c, err := newCluster(buildSamsa(t), dir, 3, "warn", []string{"broker.session.timeout.ms=2000", "broker.heartbeat.interval.ms=300"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.closeLinks()
	defer c.stopAll(10 * time.Second)
	for id := 1; id <= 3; id++ {
		if err := c.start(id); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := c.waitReady(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	adm, cl, err := c.admin()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	minISR := "2"
	if _, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": &minISR}, Topic); err != nil {
		t.Fatal(err)
	}
	if err := waitFullISR(ctx, adm, Topic, 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, ctl, ok := leaders(ctx, adm, Topic)
	if !ok || ctl < 1 {
		t.Fatalf("no controller known: %d", ctl)
	}
	for o := 1; o <= 3; o++ {
		if o != ctl {
			c.cut(1, ctl, o)
			c.cut(1, o, ctl)
		}
	}
	// Ask the other two only: the isolated node still answers with what
	// it believed.
	var others []string
	for id := 1; id <= 3; id++ {
		if id != ctl {
			others = append(others, c.addrs()[id-1])
		}
	}
	ocl, err := kgo.NewClient(kgo.SeedBrokers(others...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ocl.Close()
	oadm := kadm.NewClient(ocl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := oadm.Metadata(ctx, Topic)
		if err == nil && md.Controller != int32(ctl) && md.Controller > 0 {
			out := true
			for _, p := range md.Topics[Topic].Partitions {
				out = out && !slices.Contains(p.ISR, int32(ctl)) && p.Leader != int32(ctl)
			}
			if out {
				t.Logf("node %d cut off: controller %d, node %d out of every ISR", ctl, md.Controller, ctl)
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d cut off for 30s, yet the others still see it as controller or in an ISR: %+v, %v", ctl, md, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.healAll()
	if err := waitFullISR(ctx, adm, Topic, 3, time.Minute); err != nil {
		t.Fatalf("healed: %v", err)
	}
}

// TestStopEscalates: a node that ignores SIGTERM is sent SIGQUIT and
// SIGKILL after the stop timeout, and the run's report names it.
func TestStopEscalates(t *testing.T) {
	dir := t.TempDir()
	n, err := localcluster.Start("/bin/sh", 1, "127.0.0.1:1", filepath.Join(dir, "node-1.log"),
		[]string{"-c", `trap "" TERM QUIT; echo ready; while :; do sleep 0.05; done`})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{nodes: []*localcluster.Node{n}}
	in := &injector{c: c, stopTimeout: 200 * time.Millisecond, logf: t.Logf}
	time.Sleep(100 * time.Millisecond) // the trap is set
	start := time.Now()
	in.stop(1, PlannedFault{ID: 7, Kind: RollingRestart})
	if !n.Exited() {
		t.Fatal("the node still runs")
	}
	if len(in.stuck) != 1 || !strings.Contains(in.stuck[0], "fault 7 (rolling-restart): node 1 did not exit within 200ms of SIGTERM") {
		t.Fatalf("stuck = %q", in.stuck)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("stop took %v", took)
	}
}
