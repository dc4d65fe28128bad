package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigAlterCommand(g *globals) *cobra.Command {
	var (
		sets, deletes []string
		dryRun        bool
	)
	cmd := &cobra.Command{
		Use:   "alter topic NAME | broker [ID]",
		Short: "Set or delete configs of a topic or a broker",
		Long: `Change configs incrementally (IncrementalAlterConfigs): --set gives a config a
value, --delete returns it to its default; configs not named are left alone.
"broker" without an ID changes the cluster-wide dynamic default.`,
		Example: `  samsa config alter topic orders --set retention.ms=3600000 --set segment.bytes=104857600
  samsa config alter topic orders --delete retention.ms
  samsa config alter broker --set log.retention.hours=24
  samsa config alter broker 1 --set message.max.bytes=2097152 --dry-run`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := parseResource(args)
			if err != nil {
				return err
			}
			kv, err := parseKeyValues("--set", sets)
			if err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			if err := alterConfigs(ctx, adm, r, kv, deletes, dryRun); err != nil {
				return err
			}
			verb := "altered"
			if dryRun {
				verb = "valid (dry run)"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", r, verb)
			return err
		},
	}
	addAlterFlags(cmd, &sets, &deletes, &dryRun)
	return cmd
}

func addAlterFlags(cmd *cobra.Command, sets, deletes *[]string, dryRun *bool) {
	f := cmd.Flags()
	f.StringArrayVarP(sets, "set", "s", nil, "set a config, name=value (repeatable)")
	f.StringArrayVarP(deletes, "delete", "d", nil, "return a config to its default (repeatable)")
	f.BoolVar(dryRun, "dry-run", false, "validate only; change nothing")
}
