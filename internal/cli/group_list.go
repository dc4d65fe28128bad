package cli

import (
	"github.com/spf13/cobra"
)

type groupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Coordinator  int32  `json:"coordinator"`
}

func newGroupListCommand(g *globals) *cobra.Command {
	var (
		format string
		states []string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List consumer groups",
		Example: `  samsa group list
  samsa group list --state Empty --format json`,
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
			groups, err := adm.ListGroups(ctx, states...)
			if err != nil {
				return err
			}
			rows := []groupSummary{}
			for _, l := range groups.Sorted() {
				rows = append(rows, groupSummary{Group: l.Group, State: l.State, ProtocolType: l.ProtocolType, Coordinator: l.Coordinator})
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			t := newTable(cmd.OutOrStdout(), "GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR")
			for _, r := range rows {
				t.row(r.Group, r.State, r.ProtocolType, r.Coordinator)
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (Stable, Empty, ...)")
	return cmd
}
