package cli

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newClusterRebalanceCommand(g *globals) *cobra.Command {
	var execute bool
	cmd := &cobra.Command{
		Use:   "rebalance",
		Short: "Spread replicas and preferred leaders evenly over the live brokers",
		Long: `Plan a balanced assignment over the brokers the cluster lists (the live
ones): replicas on brokers that are gone move to the live broker holding
fewest; then replicas move from the broker holding most to the one holding
fewest until no two differ by more than one, and preferred leaders (first
replicas) are spread the same way by reordering replicas. No move puts a
partition on fewer racks (broker.rack) than it is on, so with racks the
counts may stay further apart where evening them would. Shows the plan
and changes nothing unless --execute, which applies it
(AlterPartitionReassignments), waits until every move is done and then
elects the preferred leader of every partition led by another replica.`,
		Example: `  samsa cluster rebalance
  samsa cluster rebalance --execute`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withPlacement(cmd, g, func(cl *kgo.Client, pl placement) error {
				moves, err := planBalance(pl, pl.brokers)
				if err != nil {
					return err
				}
				return applyPlan(cmd, cl, moves, execute, "the cluster is balanced: nothing to move")
			})
		},
	}
	cmd.Flags().BoolVar(&execute, "execute", false, "apply the plan and wait until it is done (default: show it only)")
	return cmd
}

func newClusterDecommissionCommand(g *globals) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "decommission BROKER",
		Short: "Move every replica off a broker before it is retired",
		Long: `Move every replica the broker holds to the other live brokers, each to the
one holding fewest replicas that the partition is not on yet (a preferred
leader's replacement becomes the preferred leader), preferring a broker on
a rack the partition's other replicas are not on, wait until every move
is done, and elect the preferred leader of every partition led by another
replica. The broker holds nothing afterwards and can be stopped. A
partition with as many replicas as there are other brokers cannot move:
nothing is changed.`,
		Example: `  samsa cluster decommission 3
  samsa cluster decommission 3 --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil {
				return fmt.Errorf("broker %q: want a node ID", args[0])
			}
			return withPlacement(cmd, g, func(cl *kgo.Client, pl placement) error {
				others := slices.DeleteFunc(slices.Clone(pl.brokers), func(b int32) bool { return b == int32(id) })
				if len(others) == len(pl.brokers) {
					held := 0
					for _, p := range pl.parts {
						if slices.Contains(p.From, int32(id)) {
							held++
						}
					}
					if held == 0 {
						return fmt.Errorf("broker %d is not in the cluster and holds no replica", id)
					}
				}
				if len(others) == 0 {
					return fmt.Errorf("broker %d is the only broker", id)
				}
				moves, err := planAway(pl, others)
				if err != nil {
					return err
				}
				return applyPlan(cmd, cl, moves, !dryRun, fmt.Sprintf("broker %d holds no replica: nothing to move", id))
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the plan only")
	return cmd
}

// applyPlan prints moves, and with execute applies them, waits, and
// elects the preferred leader of every partition led by another replica.
func applyPlan(cmd *cobra.Command, cl *kgo.Client, moves []move, execute bool, none string) error {
	w := cmd.OutOrStdout()
	if len(moves) == 0 {
		fmt.Fprintln(w, none)
		return nil
	}
	if err := printPlan(w, moves); err != nil {
		return err
	}
	if !execute {
		fmt.Fprintf(w, "%d partition(s) would move (dry run; --execute applies the plan)\n", len(moves))
		return nil
	}
	ctx := commandContext(cmd)
	if err := executeMoves(ctx, w, cl, moves, true, 200*time.Millisecond); err != nil {
		return err
	}
	// Every partition not led by its preferred replica, moved or not:
	// the plan spread the preferred leaders.
	// Asked of one broker directly: kgo answers Metadata from its cache
	// for MetadataMinAge, and the moves changed leaders.
	adm := kadm.NewClient(cl)
	brokers, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	id := brokers.Controller
	if id < 0 && len(brokers.Brokers) > 0 {
		id = brokers.Brokers[0].NodeID
	}
	resp, err := cl.Broker(int(id)).Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		return err
	}
	leaders := kadm.TopicsSet{}
	for _, t := range resp.(*kmsg.MetadataResponse).Topics {
		for _, p := range t.Partitions {
			if t.Topic != nil && len(p.Replicas) > 0 && p.Leader != p.Replicas[0] {
				leaders.Add(*t.Topic, p.Partition)
			}
		}
	}
	if len(leaders) == 0 {
		return nil
	}
	return electLeaders(ctx, cmd, adm, kadm.ElectPreferredReplica, leaders)
}

// withPlacement runs fn with a client of the cluster and its placement.
func withPlacement(cmd *cobra.Command, g *globals, fn func(*kgo.Client, placement) error) error {
	ctx := commandContext(cmd)
	cl, err := g.client(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	pl, err := currentPlacement(ctx, kadm.NewClient(cl))
	if err != nil {
		return err
	}
	return fn(cl, pl)
}
