package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func newGroupCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "group",
		Aliases: []string{"groups"},
		Short:   "List, describe, delete consumer groups and move their offsets",
		Example: `  samsa group list
  samsa group describe audit
  samsa group reset-offsets audit --topic orders --to earliest --execute`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newGroupListCommand(g),
		newGroupDescribeCommand(g),
		newGroupDeleteCommand(g),
		newGroupResetOffsetsCommand(g),
		newGroupDeleteOffsetsCommand(g),
	)
	return cmd
}

// completeGroups offers the cluster's group names for shell completion.
func completeGroups(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		adm, err := g.admin(commandContext(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer adm.Close()
		groups, err := adm.ListGroups(commandContext(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := groups.Groups()
		sort.Strings(names)
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// parseTopicPartitions reads --topic values: "orders" (every partition) or
// "orders:0,2". Topics with no partitions listed get every partition the
// cluster reports.
func parseTopicPartitions(ctx context.Context, adm *kadm.Client, specs []string) (kadm.TopicsSet, error) {
	set := kadm.TopicsSet{}
	var whole []string
	for _, spec := range specs {
		topic, parts, ok := strings.Cut(spec, ":")
		if topic == "" {
			return nil, fmt.Errorf("--topic %q: want TOPIC or TOPIC:P,P", spec)
		}
		if !ok {
			whole = append(whole, topic)
			continue
		}
		for _, p := range splitList(parts) {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--topic %q: partition %q is not a number", spec, p)
			}
			set.Add(topic, int32(n))
		}
	}
	if len(whole) > 0 {
		details, err := adm.ListTopics(ctx, whole...)
		if err != nil {
			return nil, err
		}
		for _, t := range whole {
			d, ok := details[t]
			if !ok || d.Err != nil {
				return nil, fmt.Errorf("topic %s: %v", t, d.Err)
			}
			for p := range d.Partitions {
				set.Add(t, p)
			}
		}
	}
	return set, nil
}
