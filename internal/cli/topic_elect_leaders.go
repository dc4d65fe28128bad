package cli

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func newTopicElectLeadersCommand(g *globals) *cobra.Command {
	var (
		partitions []int32
		unclean    bool
	)
	cmd := &cobra.Command{
		Use:   "elect-leaders [TOPIC...]",
		Short: "Move leadership back to the preferred replicas (ElectLeaders)",
		Long: `Elect each partition's preferred replica (its first) as leader, as
kafka-leader-election --election-type PREFERRED does: a partition whose
preferred replica leads needs nothing ("not needed"), one whose preferred
replica is down or out of sync cannot have it. Without topics, every
partition of the cluster. --unclean instead elects a live replica for
partitions whose leader is down even if it is out of sync, which can lose
acknowledged records.`,
		Example: `  samsa topic elect-leaders
  samsa topic elect-leaders orders --partition 0,1`,
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, topics []string) error {
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			set := kadm.TopicsSet{}
			for _, name := range topics {
				if len(partitions) == 0 {
					md, err := adm.Metadata(ctx, name)
					if err != nil {
						return err
					}
					for _, p := range md.Topics[name].Partitions {
						set.Add(name, p.Partition)
					}
				}
				set.Add(name, partitions...)
			}
			how := kadm.ElectPreferredReplica
			if unclean {
				how = kadm.ElectLiveReplica
			}
			return electLeaders(ctx, cmd, adm, how, set)
		},
	}
	cmd.Flags().Int32SliceVar(&partitions, "partition", nil, "partitions of the topics to elect (default: all)")
	cmd.Flags().BoolVar(&unclean, "unclean", false, "elect an out-of-sync replica where no in-sync one is live (may lose records)")
	return cmd
}

// electLeaders runs ElectLeaders on set (every partition when empty) and
// prints each partition's outcome; a partition that needed no election is
// not a failure.
func electLeaders(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, how kadm.ElectLeadersHow, set kadm.TopicsSet) error {
	res, err := adm.ElectLeaders(ctx, how, set)
	if err != nil {
		return err
	}
	var rows []kadm.ElectLeadersResult
	for _, ps := range res {
		for _, r := range ps {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b kadm.ElectLeadersResult) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "STATUS")
	failed := 0
	for _, r := range rows {
		switch {
		case r.Err == nil:
			t.row(r.Topic, r.Partition, "elected")
		case errors.Is(r.Err, kerr.ElectionNotNeeded):
			t.row(r.Topic, r.Partition, "not needed")
		default:
			failed++
			t.row(r.Topic, r.Partition, errorText(r.Err, r.ErrMessage))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	return itemError(failed, len(rows), "elections")
}
