package cli

import (
	"github.com/spf13/cobra"
)

func newClusterCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "cluster",
		Short:   "Inspect the cluster",
		Example: `  samsa cluster info`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newClusterInfoCommand(g))
	return cmd
}
