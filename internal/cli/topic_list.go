package cli

import (
	"sort"

	"github.com/spf13/cobra"
)

// topicSummary is one row of `samsa topic list`.
type topicSummary struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	Internal          bool   `json:"internal"`
}

func newTopicListCommand(g *globals) *cobra.Command {
	var (
		format   string
		internal bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Example: `  samsa topic list
  samsa topic list --internal --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			list := adm.ListTopics
			if internal {
				list = adm.ListTopicsWithInternal
			}
			details, err := list(ctx)
			if err != nil {
				return err
			}
			rows := []topicSummary{}
			for _, d := range details {
				if d.Err != nil {
					continue
				}
				rows = append(rows, topicSummary{
					Name:              d.Topic,
					Partitions:        len(d.Partitions),
					ReplicationFactor: d.Partitions.NumReplicas(),
					Internal:          d.IsInternal,
				})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			t := newTable(cmd.OutOrStdout(), "NAME", "PARTITIONS", "REPLICAS")
			for _, r := range rows {
				t.row(r.Name, r.Partitions, r.ReplicationFactor)
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().BoolVarP(&internal, "internal", "i", false, "include internal topics such as __consumer_offsets")
	return cmd
}
