package cli

import (
	"github.com/spf13/cobra"
)

func newClusterCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster and its controller quorum, move replicas between brokers, or run a local one",
		Example: `  samsa cluster info
  samsa cluster quorum describe
  samsa cluster rebalance --execute
  samsa cluster local --nodes 3`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newClusterInfoCommand(g), newClusterQuorumCommand(g), newClusterLocalCommand())
	cmd.AddCommand(newClusterRebalanceCommand(g), newClusterDecommissionCommand(g))
	return cmd
}
