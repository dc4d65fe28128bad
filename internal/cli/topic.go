package cli

import (
	"sort"

	"github.com/spf13/cobra"
)

func newTopicCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "topic",
		Aliases: []string{"topics"},
		Short:   "Create, list, describe, delete and alter topics",
		Example: `  samsa topic create orders -p 6 -c retention.ms=86400000
  samsa topic list
  samsa topic describe orders --format json`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newTopicCreateCommand(g),
		newTopicListCommand(g),
		newTopicDescribeCommand(g),
		newTopicDeleteCommand(g),
		newTopicAddPartitionsCommand(g),
		newTopicAlterConfigCommand(g),
		newTopicMoveCommand(g),
		newTopicElectLeadersCommand(g),
	)
	return cmd
}

// completeTopics offers the cluster's topic names for shell completion.
func completeTopics(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		adm, err := g.admin(commandContext(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer adm.Close()
		topics, err := adm.ListTopics(commandContext(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := topics.Names()
		sort.Strings(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
