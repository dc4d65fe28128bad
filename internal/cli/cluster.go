package cli

import (
	"github.com/spf13/cobra"
)

func newClusterCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster, or run a local one",
		Example: `  samsa cluster info
  samsa cluster local --nodes 3`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newClusterInfoCommand(g), newClusterLocalCommand())
	return cmd
}
