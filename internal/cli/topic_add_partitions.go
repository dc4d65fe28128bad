package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newTopicAddPartitionsCommand(g *globals) *cobra.Command {
	var add, total int
	cmd := &cobra.Command{
		Use:   "add-partitions TOPIC...",
		Short: "Add partitions to topics",
		Long: `Add partitions to existing topics: -n adds that many to each topic, --to
grows each topic to that many in total. Partitions can never be removed, and
adding them changes which partition a key maps to.`,
		Example: `  samsa topic add-partitions orders -n 2
  samsa topic add-partitions orders payments --to 12`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, topics []string) error {
			if (add > 0) == (total > 0) {
				return fmt.Errorf("give exactly one of -n (partitions to add) or --to (total)")
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			resp, err := adm.CreatePartitions(ctx, add, topics...)
			if total > 0 {
				resp, err = adm.UpdatePartitions(ctx, total, topics...)
			}
			if err != nil {
				return err
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "STATUS")
			failed := 0
			for _, name := range topics {
				r, ok := resp[name]
				switch {
				case !ok:
					failed++
					t.row(name, "no response")
				case r.Err != nil:
					failed++
					t.row(name, errorText(r.Err, r.ErrMessage))
				default:
					t.row(name, "ok")
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			return itemError(failed, len(topics), "topics")
		},
	}
	cmd.Flags().IntVarP(&add, "num", "n", 0, "partitions to add to each topic")
	cmd.Flags().IntVar(&total, "to", 0, "total partitions each topic should have")
	return cmd
}
