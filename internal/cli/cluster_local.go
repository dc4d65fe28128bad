package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/localcluster"
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
	return localcluster.Ports(lc.nodes, lc.basePort)
}

// serveArgs is node id's samsa serve command line (id counts from 1).
func (lc *localCluster) serveArgs(id int, kafka, controller []int) []string {
	return localcluster.ServeArgs(lc.dir, id, kafka, controller, lc.logLevel, lc.sets)
}

// startNode starts node id of the cluster.
func (lc *localCluster) startNode(exe string, id int, kafka, controller []int) (*localcluster.Node, error) {
	return localcluster.Start(exe, id, localcluster.HostPort(kafka[id-1]), localcluster.LogPath(lc.dir, id), lc.serveArgs(id, kafka, controller))
}

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
	var nodes []*localcluster.Node
	defer func() {
		// However run ends, no node outlives it.
		if stopErr := localcluster.StopAll(nodes, lc.stopTimeout); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	for id := 1; id <= lc.nodes; id++ {
		n, err := lc.startNode(exe, id, kafka, controller)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
		fmt.Fprintf(stderr, "node %d: pid %d, kafka %s, data %s, log %s\n", id, n.Pid(), n.Addr, localcluster.DataDir(lc.dir, id), n.LogPath)
	}
	if err := localcluster.WaitReady(ctx, nodes, lc.timeout); err != nil {
		var exited *localcluster.Exited
		if errors.As(err, &exited) {
			localcluster.WriteLogTail(stderr, exited.Node)
		}
		if ctx.Err() != nil {
			return nil // stopped by a signal while starting
		}
		return err
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr
	}
	bootstrap := strings.Join(addrs, ",")
	fmt.Fprintln(stdout, bootstrap)
	fmt.Fprintf(stderr, "cluster of %d ready: export SAMSA_BROKERS=%s; Ctrl-C stops it\n", len(nodes), bootstrap)
	if n := localcluster.WaitAny(ctx, nodes); n != nil {
		localcluster.WriteLogTail(stderr, n)
		return &localcluster.Exited{Node: n}
	}
	fmt.Fprintf(stderr, "stopping %d nodes\n", len(nodes))
	return nil
}
