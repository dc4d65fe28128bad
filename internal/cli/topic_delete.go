package cli

import (
	"github.com/spf13/cobra"
)

func newTopicDeleteCommand(g *globals) *cobra.Command {
	var ids []string
	cmd := &cobra.Command{
		Use:     "delete TOPIC... | --topic-id ID...",
		Aliases: []string{"rm"},
		Short:   "Delete topics and all their records",
		Example: `  samsa topic delete greetings
  samsa topic delete orders payments
  samsa topic delete --topic-id bCloNBPFSkCvqKYLlr75Ew`,
		Args:              topicsOrIDs(&ids),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, topics []string) error {
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			byID, err := topicNamesByID(ctx, adm, ids)
			if err != nil {
				return err
			}
			topics = append(topics, byID...)
			resp, err := adm.DeleteTopics(ctx, topics...)
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
					t.row(name, "deleted")
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			return itemError(failed, len(topics), "topics")
		},
	}
	addTopicIDFlag(cmd, &ids)
	return cmd
}
