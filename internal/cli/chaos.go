package cli

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/chaos"
)

func newChaosCommand() *cobra.Command {
	var (
		cfg   chaos.Config
		seed  uint64
		quiet bool
		kinds []string
	)
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run real clients against a local cluster under faults and check the history",
		Long: `Start a local cluster of --nodes real samsa serve processes (as cluster local
does), every connection between two nodes passing through a fault proxy in
this process, and a topic of --partitions partitions with replication factor
3 and min.insync.replicas=2. Run a workload on it for --duration while
injecting --faults faults chosen by the seed:

  kill-node        kill -9 of a random node, restarted after a while
  kill-leader      kill -9 of the leader of a partition under load
  kill-controller  kill -9 of the active controller
  pause            SIGSTOP of a node, SIGCONT after its sessions timed out
  isolate          the leader of a partition cut off from the other nodes
  split            a minority cut off from the majority
  bridge           two halves that both see one node
  one-way          what one node sends to the others is blackholed
  slow             latency on every chunk to and from a node
  rolling-restart  SIGTERM and restart of every node in turn
  crash-all        kill -9 of every node, then all restarted

The workload is idempotent acks=all producers writing unique values to every
partition, consumers reading every partition by assignment, and consumer
group member processes that commit as they go and are killed (SIGKILL) and
restarted. At the end every link is healed, every node runs, everything is
read back, the nodes stop cleanly and their logs are compared byte for byte
below the high watermark, and the history is checked for lost, duplicated
and inconsistent records, non-monotonic or skipping polls, committed offsets
going backwards and replica divergence. The report gives the faults
injected by kind, the records attempted, acknowledged and read, every
anomaly with its records, and the unavailability each kind of fault caused
(fault to the first acknowledged write on a partition it affected, p50 and
max). The history (JSON lines), the plan, the report and every node's data
and log are in --dir.

The seed (printed first; random unless --seed) decides the fault schedule
and the workload's choices: --seed S replays them. Exits 1 on any anomaly
or if the read-back failed.`,
		Example: `  samsa chaos --nodes 3 --faults 100 --duration 10m
  samsa chaos --seed 731260 --faults 40 --duration 2m --dir ./chaos-731260`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("seed") {
				var b [8]byte
				if _, err := rand.Read(b[:]); err != nil {
					return err
				}
				seed = binary.LittleEndian.Uint64(b[:]) % 1_000_000_000
			}
			cfg.Seed = seed
			for _, k := range kinds {
				cfg.Kinds = append(cfg.Kinds, chaos.FaultKind(k))
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the samsa binary: %w", err)
			}
			cfg.Exe = exe
			if cfg.Dir == "" {
				if cfg.Dir, err = os.MkdirTemp("", fmt.Sprintf("samsa-chaos-%d-", seed)); err != nil {
					return err
				}
			}
			if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "samsa chaos --seed %d --nodes %d --faults %d --duration %v (dir %s)\n",
				seed, cfg.Nodes, cfg.Faults, cfg.Duration, cfg.Dir)
			if !quiet {
				cfg.Progress = cmd.ErrOrStderr()
			}
			report, err := chaos.Run(commandContext(cmd), cfg)
			if report != nil {
				report.Write(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if report.Failed() {
				return errors.New("chaos run failed (seed " + fmt.Sprint(seed) + ")")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&cfg.Nodes, "nodes", "n", 3, "number of nodes (at least 3)")
	f.IntVar(&cfg.Faults, "faults", 100, "number of faults to inject")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Minute, "how long the workload runs under faults")
	f.StringVar(&cfg.Dir, "dir", "", "directory for the nodes, the history and the report (default: a new temporary directory, kept)")
	f.Uint64Var(&seed, "seed", 0, "seed of the fault schedule and workload (default: random, printed)")
	f.Int32VarP(&cfg.Partitions, "partitions", "p", 6, "partitions of the topic")
	f.IntVar(&cfg.Rate, "rate", 50, "records per second per partition")
	f.IntVar(&cfg.Members, "members", 3, "consumer group member processes")
	f.IntVar(&cfg.Consumers, "consumers", 2, "consumers reading every partition by assignment")
	f.IntVar(&cfg.Transactions, "transactions", 2, "transactional producers writing beside the idempotent ones")
	f.DurationVar(&cfg.SessionTimeout, "session-timeout", 3*time.Second, "the nodes' broker.session.timeout.ms (pauses outlast it)")
	f.DurationVar(&cfg.StopTimeout, "stop-timeout", 20*time.Second, "how long a node may take to stop on SIGTERM before it is killed (and reported)")
	f.StringSliceVar(&kinds, "kinds", nil, "only these fault kinds, comma-separated (default: every kind)")
	f.StringVar(&cfg.LogLevel, "log-level", "info", "the nodes' --log-level")
	f.StringArrayVar(&cfg.Sets, "set", nil, "a broker config for every node, name=value (repeatable)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the report, not the progress")
	cmd.AddCommand(newChaosMemberCommand())
	return cmd
}

// newChaosMemberCommand is the hidden samsa chaos member: one life of a
// consumer group member, which samsa chaos starts and kills.
func newChaosMemberCommand() *cobra.Command {
	var (
		mc      chaos.MemberConfig
		brokers string
	)
	cmd := &cobra.Command{
		Use:     "member",
		Short:   "One consumer group member of samsa chaos (internal)",
		Hidden:  true,
		Example: `  samsa chaos member --brokers 127.0.0.1:9092 --name group-0.0 --history member-0.jsonl`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mc.Brokers = splitList(brokers)
			if len(mc.Brokers) == 0 || mc.History == "" || mc.Name == "" {
				return errors.New("want --brokers, --history and --name")
			}
			return chaos.RunMember(commandContext(cmd), mc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "", "bootstrap brokers")
	f.StringVar(&mc.Topic, "topic", chaos.Topic, "topic to consume")
	f.StringVar(&mc.Group, "group", chaos.Group, "consumer group")
	f.StringVar(&mc.Name, "name", "", "this life's name in the history")
	f.StringVar(&mc.History, "history", "", "history file to append to")
	return cmd
}
