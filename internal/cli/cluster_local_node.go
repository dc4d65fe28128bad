package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// localNode is one samsa serve process of `samsa cluster local`.
type localNode struct {
	id      int
	addr    string // Kafka listener, host:port
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited; then err is set
	err     error
}

// nodeExited is a node that exited before it was asked to stop.
type nodeExited struct{ node *localNode }

func (e *nodeExited) Error() string {
	return fmt.Sprintf("node %d exited: %v (log: %s)", e.node.id, e.node.exitReason(), e.node.logPath)
}

func (n *localNode) exitReason() string {
	if n.err == nil {
		return "exit status 0"
	}
	return n.err.Error()
}

// startNode starts exe with args, its output appended to logPath.
func startNode(exe string, id int, addr, logPath string, args []string) (*localNode, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// A process group of its own: a terminal's Ctrl-C reaches only
	// cluster local, which stops the nodes itself and waits for them. If
	// cluster local dies without stopping them (kill -9, a test binary's
	// timeout), the kernel sends each node SIGTERM (Linux's parent-death
	// signal), so no node outlives it holding its ports. (The signal follows the thread that started the node, and Go's runtime
	// ends a thread only when a goroutine locked to it exits, which cluster
	// local never does.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node %d: starting %s: %w", id, exe, err)
	}
	n := &localNode{id: id, addr: addr, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		n.err = cmd.Wait()
		close(n.done)
	}()
	return n, nil
}

func (n *localNode) exited() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}

// waitReady waits until every node answers Metadata listing all the nodes
// as brokers, a node exits (a *nodeExited), ctx ends or timeout passes.
func waitReady(ctx context.Context, nodes []*localNode, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ready := make([]bool, len(nodes))
	last := make([]string, len(nodes)) // what each node last said, for the timeout's message
	for {
		all := true
		for i, n := range nodes {
			if n.exited() {
				return &nodeExited{node: n}
			}
			if ready[i] {
				continue
			}
			brokers, err := metadataBrokers(ctx, n.addr)
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
						return fmt.Errorf("node %d not ready after %v: %s (log: %s)", n.id, timeout, last[i], n.logPath)
					}
				}
			}
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// metadataBrokers asks the broker at addr, and only it, for Metadata and
// returns how many brokers it lists.
func metadataBrokers(ctx context.Context, addr string) (int, error) {
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

// waitAny waits for ctx to end (nil) or for a node to exit (that node).
func waitAny(ctx context.Context, nodes []*localNode) *localNode {
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

// stopNodes sends SIGTERM to every running node, waits up to timeout for
// all of them, then kills the rest. It returns an error naming each node
// that had to be killed or failed its shutdown.
func stopNodes(nodes []*localNode, timeout time.Duration) error {
	for _, n := range nodes {
		if !n.exited() {
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
		}
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
		if expired && !n.exited() {
			_ = n.cmd.Process.Kill()
			<-n.done
			errs = append(errs, fmt.Errorf("node %d did not stop within %v: killed", n.id, timeout))
			continue
		}
		if n.err != nil {
			errs = append(errs, fmt.Errorf("node %d: %v (log: %s)", n.id, n.err, n.logPath))
		}
	}
	return errors.Join(errs...)
}

// logTailLines is how much of a failed node's log is shown.
const logTailLines = 20

// writeLogTail shows the end of a node's log, where samsa serve says why
// it stopped.
func writeLogTail(w io.Writer, n *localNode) {
	data, err := os.ReadFile(n.logPath)
	if err != nil {
		fmt.Fprintf(w, "node %d: reading its log: %v\n", n.id, err)
		return
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	fmt.Fprintf(w, "node %d exited (%s); the end of %s:\n", n.id, n.exitReason(), n.logPath)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}
