package cli

import (
	"github.com/spf13/cobra"
)

func newConfigDescribeCommand(g *globals) *cobra.Command {
	var (
		format  string
		changed bool
	)
	cmd := &cobra.Command{
		Use:   "describe topic NAME | broker [ID]",
		Short: "Show the configs of a topic or a broker",
		Long: `Show every config of a topic or a broker with its value and where the value
comes from (default, static-broker, dynamic-broker, dynamic-cluster,
dynamic-topic). "broker" without an ID shows the cluster-wide dynamic broker
defaults.`,
		Example: `  samsa config describe topic orders
  samsa config describe topic orders --changed --format json
  samsa config describe broker 1
  samsa config describe broker`,
		Args: cobra.RangeArgs(1, 2),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []string{"topic", "broker"}, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			r, err := parseResource(args)
			if err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			entries, err := describeConfigs(ctx, adm, r, changed)
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), entries)
			}
			t := newTable(cmd.OutOrStdout(), "NAME", "VALUE", "SOURCE")
			writeConfigTable(t, entries)
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().BoolVar(&changed, "changed", false, "only configs not at their default")
	return cmd
}
