package cli

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is a fenced code block of the README marked for a test:
// ```LANG cluster-readme PART.
type readmeBlock struct{ lang, body string }

var readmeBlockRE = regexp.MustCompile("(?ms)^```(\\w+) cluster-readme (\\w+)\\n(.*?)^```")

// readmeBlocks returns the README's blocks marked cluster-readme part, in
// order.
func readmeBlocks(t *testing.T, part string) []readmeBlock {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	for _, m := range readmeBlockRE.FindAllStringSubmatch(string(readme), -1) {
		if m[2] == part {
			out = append(out, readmeBlock{lang: m[1], body: m[3]})
		}
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no block marked cluster-readme %s", part)
	}
	return out
}

// readmeCommands are the sh lines of blocks, split into words.
func readmeCommands(t *testing.T, blocks []readmeBlock) [][]string {
	t.Helper()
	var out [][]string
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		for _, line := range strings.Split(b.body, "\n") {
			words, err := shellWords(line)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if len(words) > 0 {
				out = append(out, words)
			}
		}
	}
	return out
}

// runReadmeSamsa runs one ./samsa line of the README (with printf '...' |
// in front for stdin) in dir, with env added, and returns its output.
func runReadmeSamsa(t *testing.T, bin, dir string, env []string, words []string) string {
	t.Helper()
	stdin := ""
	if words[0] == "printf" {
		if len(words) < 4 || words[2] != "|" {
			t.Fatalf("want printf 'FORMAT' | ./samsa ...: %q", words)
		}
		stdin, words = printfEscapes(words[1]), words[3:]
	}
	if words[0] != "./samsa" {
		t.Fatalf("README line does not run ./samsa: %q", words)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, words[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, append(os.Environ(), env...), strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(words, " "), err, out)
	}
	return string(out)
}

var brokerRow = regexp.MustCompile(`(?m)^\d+\*? +127\.0\.0\.1 +\d+ `)

// checkReadmeOutputs checks what the README's client commands printed
// against a three-broker cluster; replicated runs the commands that write
// to and read the README's topic of three replicas.
func checkReadmeOutputs(t *testing.T, outputs map[string]string, replicated func() map[string]string) {
	t.Helper()
	if n := len(brokerRow.FindAllString(outputs["cluster info"], -1)); n != 3 {
		t.Errorf("cluster info lists %d brokers, want 3:\n%s", n, outputs["cluster info"])
	}
	if d := outputs["topic describe"]; !strings.Contains(d, "REPLICAS    3") {
		t.Errorf("topic describe:\n%s", d)
	}
	t.Run("replicated", func(t *testing.T) {
		if got := replicated()["consume orders"]; got != "a\nb\nc\n" {
			t.Errorf("consume orders: %q", got)
		}
	})
}

// TestReadmeClusterLocal runs the README's `samsa cluster local` commands
// as written, but for the ports: --base-port 0 instead of 9092, and the
// client commands get the bootstrap list it printed in $SAMSA_BROKERS
// instead of the default localhost:9092. Ctrl-C (SIGINT) stops it.
func TestReadmeClusterLocal(t *testing.T) {
	cmds := readmeCommands(t, readmeBlocks(t, "local"))
	dir := t.TempDir()
	var (
		bin     string
		c       *clusterLocal
		outputs = map[string]string{}
		later   [][]string // lines that produce to or consume the RF 3 topic
	)
	for _, words := range cmds {
		line := strings.Join(words, " ")
		switch {
		case line == "go build ./cmd/samsa":
			bin = buildSamsa(t)
		case bin == "":
			t.Fatalf("%s: before go build ./cmd/samsa", line)
		case len(words) > 2 && words[1] == "cluster" && words[2] == "local":
			cmd := exec.Command(bin, append(words[1:], "--base-port", "0")...)
			cmd.Dir = dir
			c = startClusterLocal(t, cmd)
			if c.bootstrap == "" {
				logs, _ := filepath.Glob(filepath.Join(dir, "samsa-cluster", "*.log"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					t.Logf("%s:\n%s", l, b)
				}
				t.Fatalf("%s: exited: %v\n%s", line, c.cmd.ProcessState, c.stderr)
			}
		case c == nil:
			t.Fatalf("%s: before samsa cluster local", line)
		default:
			// Outputs by command and first argument: "consume orders".
			i := slices.Index(words, "./samsa")
			if i < 0 || i+3 > len(words) {
				t.Fatalf("README line does not run ./samsa with a command: %s", line)
			}
			key := strings.Join(words[i+1:i+3], " ")
			if key == "produce orders" || key == "consume orders" {
				later = append(later, words)
				continue
			}
			outputs[key] += runReadmeSamsa(t, bin, dir, []string{"SAMSA_BROKERS=" + c.bootstrap}, words)
		}
	}
	if c == nil {
		t.Fatal("the README runs no samsa cluster local")
	}
	checkReadmeOutputs(t, outputs, func() map[string]string {
		out := map[string]string{}
		for _, words := range later {
			i := slices.Index(words, "./samsa")
			out[strings.Join(words[i+1:i+3], " ")] += runReadmeSamsa(t, bin, dir, []string{"SAMSA_BROKERS=" + c.bootstrap}, words)
		}
		return out
	})
	pids := c.pids(t)
	if err := c.stop(t, os.Interrupt); err != nil {
		t.Fatalf("after Ctrl-C: %v, want exit status 0; stderr:\n%s", err, c.stderr)
	}
	assertGone(t, pids)
	if _, err := os.Stat(filepath.Join(dir, "samsa-cluster", "node-3.log")); err != nil {
		t.Errorf("--dir ./samsa-cluster: %v", err)
	}
}

// machineHeader opens each machine's server.properties in the README.
var machineHeader = regexp.MustCompile(`(?m)^# (\S+): server\.properties\n`)

// TestReadmeClusterMachines runs the README's three-machine cluster on
// this one: each machine's server.properties as written, but with every
// host:port of the README moved to a free port of 127.0.0.1, and the
// README's samsa serve line for each node with its own file and data
// directory.
func TestReadmeClusterMachines(t *testing.T) {
	blocks := readmeBlocks(t, "machines")
	var props string
	for _, b := range blocks {
		if b.lang == "properties" {
			props += b.body
		}
	}
	heads := machineHeader.FindAllStringSubmatchIndex(props, -1)
	if len(heads) != 3 {
		t.Fatalf("%d machines' server.properties in the README, want 3", len(heads))
	}
	// Every host:port the README names gets a port of its own here.
	addrs := map[string]string{}
	for _, a := range regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+`).FindAllString(props, -1) {
		if _, ok := addrs[a]; !ok {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addrs[a] = l.Addr().String()
			l.Close()
		}
	}
	local := func(s string) string {
		for from, to := range addrs {
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	bin := buildSamsa(t)
	dir := t.TempDir()
	cmds := readmeCommands(t, blocks)
	if len(cmds) != 2 || cmds[0][1] != "serve" || cmds[1][1] != "cluster" {
		t.Fatalf("want a samsa serve line and a samsa cluster info line: %q", cmds)
	}
	var (
		nodes  []*exec.Cmd
		logs   []*lockedBuffer
		done   []chan struct{} // closed once node i has been waited for
		exited = make(chan int, 3)
	)
	t.Cleanup(func() {
		for i, n := range nodes {
			_ = n.Process.Kill() // fails harmlessly on a process gone
			<-done[i]
		}
	})
	for i, h := range heads {
		end := len(props)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		nodeDir := filepath.Join(dir, props[h[2]:h[3]])
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(nodeDir, "server.properties")
		if err := os.WriteFile(file, []byte(local(props[h[1]:end])), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append([]string(nil), cmds[0][1:]...)
		for j, a := range args {
			switch {
			case a == "server.properties":
				args[j] = file
			case strings.HasPrefix(a, "/var/lib/"):
				args[j] = filepath.Join(nodeDir, "data")
			}
		}
		cmd := exec.Command(bin, args...)
		dieWithTest(cmd)
		log := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		d := make(chan struct{})
		nodes, logs, done = append(nodes, cmd), append(logs, log), append(done, d)
		go func() {
			_ = cmd.Wait()
			close(d)
			exited <- i
		}()
	}
	// Wait for the cluster info line (with its addresses moved) to list
	// three brokers, or for a node to stop.
	info := append([]string{"./samsa"}, strings.Fields(local(strings.Join(cmds[1][1:], " ")))...)
	deadline := time.After(time.Minute)
	for {
		select {
		case i := <-exited:
			t.Fatalf("node %d exited: %v\n%s", i+1, nodes[i].ProcessState, logs[i])
		case <-deadline:
			t.Fatalf("no three brokers after 1m")
		case <-time.After(500 * time.Millisecond):
		}
		cmd := exec.Command(bin, info[1:]...)
		out, err := cmd.CombinedOutput()
		if err == nil && len(brokerRow.FindAllString(string(out), -1)) == 3 {
			break
		}
	}
	seeds := local(cmds[1][len(cmds[1])-1])
	produceConsume(t, seeds, "dev", 1)
	t.Run("replicated", func(t *testing.T) {
		produceConsume(t, seeds, "replicated", 3)
	})
	for _, n := range nodes {
		_ = n.Process.Signal(syscall.SIGTERM)
	}
	for range nodes {
		i := <-exited
		if code := nodes[i].ProcessState.ExitCode(); code != 0 {
			t.Errorf("node %d: exit status %d after SIGTERM:\n%s", i+1, code, logs[i])
		}
	}
}
