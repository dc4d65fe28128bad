package cli

import (
	"github.com/spf13/cobra"
)

func newGroupDeleteCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete consumer groups and their committed offsets",
		Long:  `Delete groups that have no active members, with all their committed offsets.`,
		Example: `  samsa group delete audit
  samsa group delete old-etl old-audit`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeGroups(g),
		RunE: func(cmd *cobra.Command, groups []string) error {
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			resp, err := adm.DeleteGroups(ctx, groups...)
			if err != nil {
				return err
			}
			t := newTable(cmd.OutOrStdout(), "GROUP", "STATUS")
			failed := 0
			for _, name := range groups {
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
			return itemError(failed, len(groups), "groups")
		},
	}
	return cmd
}
