package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newGroupDeleteOffsetsCommand(g *globals) *cobra.Command {
	var topics []string
	cmd := &cobra.Command{
		Use:   "delete-offsets GROUP",
		Short: "Delete a group's committed offsets for some partitions",
		Long: `Delete committed offsets (OffsetDelete). The group must not be subscribed to
the topics: Kafka refuses to delete offsets a live member is using.`,
		Example: `  samsa group delete-offsets audit --topic orders
  samsa group delete-offsets audit --topic orders:0,1 --topic payments`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeGroups(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			if len(topics) == 0 {
				return fmt.Errorf("give --topic TOPIC or TOPIC:P,P")
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			set, err := parseTopicPartitions(ctx, adm, topics)
			if err != nil {
				return err
			}
			resp, err := adm.DeleteOffsets(ctx, group, set)
			if err != nil {
				return fmt.Errorf("group %s: %w", group, err)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "STATUS")
			failed, total := 0, 0
			for _, tp := range set.Sorted() {
				for _, p := range tp.Partitions {
					total++
					perr, ok := resp.Lookup(tp.Topic, p)
					switch {
					case !ok:
						failed++
						t.row(tp.Topic, p, "no response")
					case perr != nil:
						failed++
						t.row(tp.Topic, p, perr)
					default:
						t.row(tp.Topic, p, "deleted")
					}
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			return itemError(failed, total, "partitions")
		},
	}
	cmd.Flags().StringArrayVarP(&topics, "topic", "t", nil, "TOPIC or TOPIC:P,P (repeatable)")
	return cmd
}
