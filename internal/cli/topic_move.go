package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// reassignmentPlan is kafka-reassign-partitions' JSON plan
// (--reassignment-json-file): {"version":1,"partitions":[{"topic":"t",
// "partition":0,"replicas":[2,3]}]}.
type reassignmentPlan struct {
	Version    int `json:"version"`
	Partitions []struct {
		Topic     string  `json:"topic"`
		Partition int32   `json:"partition"`
		Replicas  []int32 `json:"replicas"`
	} `json:"partitions"`
}

func newTopicMoveCommand(g *globals) *cobra.Command {
	var (
		partition int32
		replicas  string
		planFile  string
		noWait    bool
		cancel    bool
	)
	cmd := &cobra.Command{
		Use:   "move [TOPIC --partition P --replicas IDS | TOPIC --partition P --cancel | --plan FILE]",
		Short: "Move partitions to other brokers (partition reassignment)",
		Long: `Reassign a partition to new replicas (AlterPartitionReassignments): the new
replicas copy the partition while producers keep writing, join the in-sync
replicas, and then the old ones are dropped and their data deleted; the
first replica becomes the preferred leader. --plan reads many moves from a
kafka-reassign-partitions JSON file ({"version":1,"partitions":[{"topic":
"orders","partition":0,"replicas":[2,3]}]}). The command waits until every
move is done (ListPartitionReassignments) unless --no-wait. --cancel stops
a move in progress: the partition goes back to its replicas before, the
added ones deleted.`,
		Example: `  samsa topic move orders --partition 0 --replicas 2,3
  samsa topic move orders --partition 0 --cancel
  samsa topic move --plan reassignment.json`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			var moves []move
			switch {
			case planFile != "" && len(args) == 0 && replicas == "":
				b, err := os.ReadFile(planFile)
				if err != nil {
					return err
				}
				var plan reassignmentPlan
				if err := json.Unmarshal(b, &plan); err != nil {
					return fmt.Errorf("--plan %s: %w", planFile, err)
				}
				if plan.Version != 1 || len(plan.Partitions) == 0 {
					return fmt.Errorf("--plan %s: want version 1 and at least one partition", planFile)
				}
				for _, p := range plan.Partitions {
					if len(p.Replicas) == 0 {
						return fmt.Errorf("--plan %s: %s-%d has no replicas", planFile, p.Topic, p.Partition)
					}
					moves = append(moves, move{Topic: p.Topic, Partition: p.Partition, Replicas: p.Replicas})
				}
			case planFile == "" && len(args) == 1 && cancel && replicas == "" && cmd.Flags().Changed("partition"):
				moves = []move{{Topic: args[0], Partition: partition}}
			case planFile == "" && len(args) == 1 && !cancel && replicas != "" && cmd.Flags().Changed("partition"):
				var ids []int32
				for _, s := range splitList(replicas) {
					id, err := strconv.ParseInt(s, 10, 32)
					if err != nil || id < 0 {
						return fmt.Errorf("--replicas %q: want broker IDs separated by commas", replicas)
					}
					ids = append(ids, int32(id))
				}
				if len(ids) == 0 {
					return fmt.Errorf("--replicas %q: want broker IDs separated by commas", replicas)
				}
				moves = []move{{Topic: args[0], Partition: partition, Replicas: ids}}
			default:
				return fmt.Errorf("give TOPIC with --partition and --replicas (or --cancel), or --plan FILE")
			}
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			defer cl.Close()
			return executeMoves(ctx, cmd.OutOrStdout(), cl, moves, !noWait, 200*time.Millisecond)
		},
	}
	cmd.Flags().Int32Var(&partition, "partition", 0, "the partition to move")
	cmd.Flags().StringVar(&replicas, "replicas", "", "the new replicas, broker IDs separated by commas, the preferred leader first")
	cmd.Flags().StringVar(&planFile, "plan", "", "a kafka-reassign-partitions JSON plan of many moves")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the moves are started")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the partition's move in progress")
	return cmd
}
