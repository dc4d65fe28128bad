package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// localCluster is what `samsa cluster local` runs: the options and the
// nodes.
type localCluster struct {
	nodes       int
	dir         string
	basePort    int
	logLevel    string
	timeout     time.Duration
	stopTimeout time.Duration
	sets        []string
}

func newClusterLocalCommand() *cobra.Command {
	var (
		lc   localCluster
		keep bool
	)
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a cluster of local samsa serve processes for development",
		Long: `Start a cluster of real samsa serve processes on 127.0.0.1, for development
and tests (like rpk container start -n 3, without containers), print the
bootstrap list on standard output and keep running until Ctrl-C or SIGTERM,
which stops every node cleanly (SIGTERM, then SIGKILL after --stop-timeout)
and exits 0.

Node i (1..N) has node.id=i and, in a cluster of more than one node,
process.roles=broker,controller, listeners
PLAINTEXT://127.0.0.1:<kafka port>,CONTROLLER://127.0.0.1:<controller port>,
controller.listener.names=CONTROLLER and controller.quorum.voters naming
every node; --nodes 1 runs one standalone broker (the one-voter quorum of a
bare samsa serve). Kafka ports are --base-port, --base-port+1, ...;
controller ports follow them (--base-port+N, ...); --base-port 0 picks free
ports. Node i keeps its data in D/node-i and its log in D/node-i.log. Without
--dir, D is a new temporary directory, removed when the cluster stops cleanly
(unless --keep) and kept when a node fails; a --dir is always kept.

The bootstrap list is printed once every node answers Metadata listing all
N brokers (within --timeout). If a node exits early, its log's last lines
are shown, the others are stopped, and the command exits 1.`,
		Example: `  samsa cluster local --nodes 3
  samsa cluster local --nodes 3 --dir ./dev-cluster --base-port 19092
  samsa cluster local --nodes 1 --base-port 0 --set num.partitions=3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if lc.nodes < 1 {
				return fmt.Errorf("--nodes %d: want at least 1", lc.nodes)
			}
			if lc.basePort < 0 || lc.basePort+2*lc.nodes > 65536 {
				return fmt.Errorf("--base-port %d: want 0 or a port with room for %d ports above it", lc.basePort, 2*lc.nodes)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the samsa binary: %w", err)
			}
			temp := lc.dir == ""
			if temp {
				if lc.dir, err = os.MkdirTemp("", "samsa-cluster-"); err != nil {
					return err
				}
			}
			// The paths printed (and given to the nodes) work from anywhere.
			if lc.dir, err = filepath.Abs(lc.dir); err != nil {
				return err
			}
			err = lc.run(commandContext(cmd), exe, cmd.OutOrStdout(), cmd.ErrOrStderr())
			switch {
			case temp && err == nil && !keep:
				return os.RemoveAll(lc.dir)
			case temp:
				fmt.Fprintf(cmd.ErrOrStderr(), "data and logs kept in %s\n", lc.dir)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVarP(&lc.nodes, "nodes", "n", 3, "number of nodes")
	f.StringVar(&lc.dir, "dir", "", "directory for the nodes' data and logs (default: a new temporary directory)")
	f.IntVar(&lc.basePort, "base-port", 9092, "first Kafka port; 0 picks free ports")
	f.BoolVar(&keep, "keep", false, "keep the temporary directory after a clean stop")
	f.StringVar(&lc.logLevel, "log-level", "info", "the nodes' --log-level")
	f.DurationVar(&lc.timeout, "timeout", time.Minute, "how long to wait for the cluster to be ready")
	f.DurationVar(&lc.stopTimeout, "stop-timeout", 30*time.Second, "how long a node may take to stop before it is killed")
	f.StringArrayVar(&lc.sets, "set", nil, "a broker config for every node, name=value (repeatable)")
	return cmd
}

// ports returns each node's Kafka and controller ports.
func (lc *localCluster) ports() (kafka, controller []int, err error) {
	n := lc.nodes
	if lc.basePort != 0 {
		for i := range n {
			kafka = append(kafka, lc.basePort+i)
			controller = append(controller, lc.basePort+n+i)
		}
		// A port in use would fail one node after the others started:
		// say so at once, naming it.
		for _, p := range append(append([]int(nil), kafka...), controller...) {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				return nil, nil, fmt.Errorf("port %d is not free (--base-port 0 picks free ports): %w", p, err)
			}
			l.Close()
		}
		return kafka, controller, nil
	}
	// Hold every port until all are chosen, so no two nodes get the same.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 2 * n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("picking a free port: %w", err)
		}
		held = append(held, l)
	}
	for i, l := range held {
		p := l.Addr().(*net.TCPAddr).Port
		if i < n {
			kafka = append(kafka, p)
		} else {
			controller = append(controller, p)
		}
	}
	return kafka, controller, nil
}

// serveArgs is node id's samsa serve command line (id counts from 1).
func (lc *localCluster) serveArgs(id int, kafka, controller []int) []string {
	args := []string{"serve",
		"--data-dir", filepath.Join(lc.dir, fmt.Sprintf("node-%d", id)),
		"--log-level", lc.logLevel,
		"--set", fmt.Sprintf("node.id=%d", id),
	}
	if lc.nodes == 1 {
		args = append(args, "--listen", hostPort(kafka[0]))
	} else {
		voters := make([]string, lc.nodes)
		for i := range voters {
			voters[i] = fmt.Sprintf("%d@%s", i+1, hostPort(controller[i]))
		}
		args = append(args,
			"--set", "process.roles=broker,controller",
			"--set", fmt.Sprintf("listeners=PLAINTEXT://%s,CONTROLLER://%s", hostPort(kafka[id-1]), hostPort(controller[id-1])),
			"--set", "controller.listener.names=CONTROLLER",
			"--set", "controller.quorum.voters="+strings.Join(voters, ","),
		)
	}
	for _, s := range lc.sets {
		args = append(args, "--set", s)
	}
	return args
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// run starts the nodes, waits until they are ready, prints the bootstrap
// list and waits for ctx (the signals) or a node's early exit; every node
// has stopped when it returns.
func (lc *localCluster) run(ctx context.Context, exe string, stdout, stderr io.Writer) error {
	kafka, controller, err := lc.ports()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(lc.dir, 0o755); err != nil {
		return err
	}
	var nodes []*localNode
	defer func() {
		// However run ends, no node outlives it.
		if stopErr := stopNodes(nodes, lc.stopTimeout); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	for id := 1; id <= lc.nodes; id++ {
		n, err := startNode(exe, id, hostPort(kafka[id-1]), filepath.Join(lc.dir, fmt.Sprintf("node-%d.log", id)), lc.serveArgs(id, kafka, controller))
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		fmt.Fprintf(stderr, "node %d: pid %d, kafka %s, data %s, log %s\n", id, n.cmd.Process.Pid, n.addr, filepath.Join(lc.dir, fmt.Sprintf("node-%d", id)), n.logPath)
	}
	if err := waitReady(ctx, nodes, lc.timeout); err != nil {
		var exited *nodeExited
		if errors.As(err, &exited) {
			writeLogTail(stderr, exited.node)
		}
		if ctx.Err() != nil {
			return nil // stopped by a signal while starting
		}
		return err
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
	}
	bootstrap := strings.Join(addrs, ",")
	fmt.Fprintln(stdout, bootstrap)
	fmt.Fprintf(stderr, "cluster of %d ready: export SAMSA_BROKERS=%s; Ctrl-C stops it\n", len(nodes), bootstrap)
	if n := waitAny(ctx, nodes); n != nil {
		writeLogTail(stderr, n)
		return &nodeExited{node: n}
	}
	fmt.Fprintf(stderr, "stopping %d nodes\n", len(nodes))
	return nil
}
