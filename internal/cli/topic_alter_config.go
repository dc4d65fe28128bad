package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicAlterConfigCommand(g *globals) *cobra.Command {
	var (
		sets, deletes []string
		dryRun        bool
	)
	cmd := &cobra.Command{
		Use:   "alter-config TOPIC...",
		Short: "Set or delete topic configs",
		Long: `Change topic configs incrementally: --set gives a config a value, --delete
returns it to the broker's default; other configs are left alone. Changes
apply to live partitions at once.`,
		Example: `  samsa topic alter-config orders --set retention.ms=3600000
  samsa topic alter-config orders payments --set cleanup.policy=compact --delete segment.ms`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, topics []string) error {
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
			t := newTable(cmd.OutOrStdout(), "TOPIC", "STATUS")
			failed := 0
			for _, name := range topics {
				err := alterConfigs(ctx, adm, resource{kmsg.ConfigResourceTypeTopic, name}, kv, deletes, dryRun)
				switch {
				case err != nil && len(kv)+len(deletes) == 0:
					return err
				case err != nil:
					failed++
					t.row(name, err)
				case dryRun:
					t.row(name, "valid (dry run)")
				default:
					t.row(name, "altered")
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d topics failed", failed, len(topics))
			}
			return nil
		},
	}
	addAlterFlags(cmd, &sets, &deletes, &dryRun)
	return cmd
}
