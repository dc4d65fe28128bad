// Package localcluster starts and stops real samsa serve processes on
// 127.0.0.1: the process management behind samsa cluster local, samsa
// bench failover and samsa chaos. A Node is one process with its log file;
// the package picks ports, builds a node's command line, waits until the
// nodes answer Metadata, and stops them (SIGTERM, then SIGKILL after a
// bound, reported).
package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Node is one samsa serve process.
type Node struct {
	ID      int
	Addr    string // Kafka listener, host:port
	LogPath string
	Cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited; then err is set
	err     error
}

// Exited is a node that exited before it was asked to stop.
type Exited struct{ Node *Node }

func (e *Exited) Error() string {
	return fmt.Sprintf("node %d exited: %v (log: %s)", e.Node.ID, e.Node.ExitReason(), e.Node.LogPath)
}

// ExitReason says how the process ended (once Done is closed).
func (n *Node) ExitReason() string {
	if n.err == nil {
		return "exit status 0"
	}
	return n.err.Error()
}

// Err is the process's exit error (nil for status 0), once Done is closed.
func (n *Node) Err() error { return n.err }

// Done is closed once the process has exited.
func (n *Node) Done() <-chan struct{} { return n.done }

// Pid is the process ID.
func (n *Node) Pid() int { return n.Cmd.Process.Pid }

// Start starts exe with args as node id, its output appended to logPath.
func Start(exe string, id int, addr, logPath string, args []string) (*Node, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// A process group of its own: a terminal's Ctrl-C reaches only the
	// samsa command that started the node, which stops the nodes itself and
	// waits for them. If that command dies without stopping them (kill -9,
	// a test binary's timeout), the kernel sends each node SIGTERM (Linux's
	// parent-death signal), so no node outlives it holding its ports. (The
	// signal follows the thread that started the node, and Go's runtime
	// ends a thread only when a goroutine locked to it exits, which these
	// commands never do.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %d: starting %s: %w", id, exe, err)
	}
	n := &Node{ID: id, Addr: addr, LogPath: logPath, Cmd: cmd, done: make(chan struct{})}
	go func() {
		n.err = cmd.Wait()
		close(n.done)
	}()
	return n, nil
}

// Exited reports whether the process has exited.
func (n *Node) Exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process unless it has exited.
func (n *Node) Signal(sig syscall.Signal) error {
	if n.Exited() {
		return nil
	}
	return n.Cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits until the process is gone.
func (n *Node) Kill() {
	_ = n.Signal(syscall.SIGKILL)
	<-n.done
}

// Stop sends SIGTERM (and SIGCONT, in case the process is stopped) and
// waits up to timeout for the process to exit, then kills it. killed
// reports that it had to be killed; err is its exit error otherwise.
func (n *Node) Stop(timeout time.Duration) (killed bool, err error) {
	_ = n.Signal(syscall.SIGTERM)
	_ = n.Signal(syscall.SIGCONT)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-n.done:
		return false, n.err
	case <-t.C:
		n.Kill()
		return true, nil
	}
}

// WaitReady waits until every node answers Metadata listing all the nodes
// as brokers, a node exits (an *Exited), ctx ends or timeout passes.
func WaitReady(ctx context.Context, nodes []*Node, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ready := make([]bool, len(nodes))
	last := make([]string, len(nodes)) // what each node last said, for the timeout's message
	for {
		all := true
		for i, n := range nodes {
			if n.Exited() {
				return &Exited{Node: n}
			}
			if ready[i] {
				continue
			}
			brokers, err := MetadataBrokers(ctx, n.Addr)
			switch {
			case err != nil:
				last[i] = err.Error()
			case brokers < len(nodes):
				last[i] = fmt.Sprintf("Metadata lists %d of %d brokers", brokers, len(nodes))
			default:
				ready[i] = true
			}
			all = all && ready[i]
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				for i, n := range nodes {
					if !ready[i] {
						return fmt.Errorf("node %d not ready after %v: %s (log: %s)", n.ID, timeout, last[i], n.LogPath)
					}
				}
			}
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// MetadataBrokers asks the broker at addr, and only it, for Metadata and
// returns how many brokers it lists.
func MetadataBrokers(ctx context.Context, addr string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTimeout(time.Second), kgo.RetryTimeout(time.Second))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return 0, err
	}
	return len(meta.Brokers), nil
}

// WaitAny waits for ctx to end (nil) or for a node to exit (that node).
func WaitAny(ctx context.Context, nodes []*Node) *Node {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, n := range nodes {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.done)})
	}
	i, _, _ := reflect.Select(cases)
	if i == 0 {
		return nil
	}
	return nodes[i-1]
}

// StopAll sends SIGTERM to every running node, waits up to timeout for
// all of them, then kills the rest. It returns an error naming each node
// that had to be killed or failed its shutdown.
func StopAll(nodes []*Node, timeout time.Duration) error {
	for _, n := range nodes {
		_ = n.Signal(syscall.SIGTERM)
		_ = n.Signal(syscall.SIGCONT)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	expired := false
	var errs []error
	for _, n := range nodes {
		if !expired {
			select {
			case <-n.done:
			case <-deadline.C:
				expired = true
			}
		}
		if expired && !n.Exited() {
			n.Kill()
			errs = append(errs, fmt.Errorf("node %d did not stop within %v: killed", n.ID, timeout))
			continue
		}
		if n.err != nil {
			errs = append(errs, fmt.Errorf("node %d: %v (log: %s)", n.ID, n.err, n.LogPath))
		}
	}
	return errors.Join(errs...)
}

// logTailLines is how much of a failed node's log is shown.
const logTailLines = 20

// WriteLogTail shows the end of a node's log, where samsa serve says why
// it stopped.
func WriteLogTail(w io.Writer, n *Node) {
	data, err := os.ReadFile(n.LogPath)
	if err != nil {
		fmt.Fprintf(w, "node %d: reading its log: %v\n", n.ID, err)
		return
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	fmt.Fprintf(w, "node %d exited (%s); the end of %s:\n", n.ID, n.ExitReason(), n.LogPath)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// HostPort is 127.0.0.1:port.
func HostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Ports returns each of n nodes' Kafka and controller ports: from basePort
// up (Kafka ports first, then controller ports), each checked free, or,
// with basePort 0, free ports chosen by ReservePorts.
func Ports(n, basePort int) (kafka, controller []int, err error) {
	if basePort != 0 {
		for i := range n {
			kafka = append(kafka, basePort+i)
			controller = append(controller, basePort+n+i)
		}
		// A port in use would fail one node after the others started:
		// say so at once, naming it.
		for _, p := range append(append([]int(nil), kafka...), controller...) {
			l, err := net.Listen("tcp", HostPort(p))
			if err != nil {
				return nil, nil, fmt.Errorf("port %d is not free (--base-port 0 picks free ports): %w", p, err)
			}
			l.Close()
		}
		return kafka, controller, nil
	}
	held, err := ReservePorts(2 * n)
	if err != nil {
		return nil, nil, err
	}
	for i, l := range held {
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if i < n {
			kafka = append(kafka, p)
		} else {
			controller = append(controller, p)
		}
	}
	return kafka, controller, nil
}

// ReservePorts binds n free 127.0.0.1 ports, held until the caller closes
// them, for nodes that bind them afterwards and again at every restart. They
// are picked at random outside the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), where nothing but an explicit bind can
// take one: a port the kernel hands out for :0 is also the source port of
// the next outgoing connection of any process on the machine, and a node
// that is down for a while (killed, restarting) found its port taken so —
// in CI, where other packages' tests open thousands of connections, a chaos
// run's node failed at its first start with "address already in use". Where
// the ephemeral range leaves too few ports outside it, the kernel picks.
func ReservePorts(n int) ([]net.Listener, error) {
	lo, hi := nonEphemeralRange()
	var held []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range held {
			l.Close()
		}
		return nil, err
	}
	for range n {
		var l net.Listener
		if hi-lo >= 4*n {
			for try := 0; try < 64 && l == nil; try++ {
				l, _ = net.Listen("tcp", HostPort(lo+rand.IntN(hi-lo)))
			}
		}
		if l == nil {
			var err error
			if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return fail(fmt.Errorf("picking a free port: %w", err))
			}
		}
		held = append(held, l)
	}
	return held, nil
}

// nonEphemeralRange is the larger of the port ranges [10000, first
// ephemeral) and (last ephemeral, 65535], as [lo, hi).
func nonEphemeralRange() (lo, hi int) {
	first, last := 32768, 60999 // Linux's default
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			a, errA := strconv.Atoi(f[0])
			b, errB := strconv.Atoi(f[1])
			if errA == nil && errB == nil && a <= b {
				first, last = a, b
			}
		}
	}
	const floor = 10000
	below := first - floor
	above := 65535 - last
	if below >= above {
		return floor, max(first, floor)
	}
	return last + 1, 65536
}

// DataDir and LogPath are where node id keeps its data and its log under dir.
func DataDir(dir string, id int) string { return filepath.Join(dir, fmt.Sprintf("node-%d", id)) }
func LogPath(dir string, id int) string { return filepath.Join(dir, fmt.Sprintf("node-%d.log", id)) }

// ServeArgs is node id's samsa serve command line (id counts from 1) in a
// cluster with the given ports, its data in DataDir(dir, id): a standalone
// broker for one node, else combined broker,controller nodes, every node a
// voter. Each of sets is a --set name=value.
func ServeArgs(dir string, id int, kafka, controller []int, logLevel string, sets []string) []string {
	args := []string{"serve",
		"--data-dir", DataDir(dir, id),
		"--log-level", logLevel,
		"--set", fmt.Sprintf("node.id=%d", id),
	}
	if len(kafka) == 1 {
		args = append(args, "--listen", HostPort(kafka[0]))
	} else {
		voters := make([]string, len(kafka))
		for i := range voters {
			voters[i] = fmt.Sprintf("%d@%s", i+1, HostPort(controller[i]))
		}
		args = append(args,
			"--set", "process.roles=broker,controller",
			"--set", fmt.Sprintf("listeners=PLAINTEXT://%s,CONTROLLER://%s", HostPort(kafka[id-1]), HostPort(controller[id-1])),
			"--set", "controller.listener.names=CONTROLLER",
			"--set", "controller.quorum.voters="+strings.Join(voters, ","),
		)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}
