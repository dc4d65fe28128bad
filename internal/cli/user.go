package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// newUserCommand is `samsa user`: the cluster's SCRAM credentials, kept
// by the controllers and changed with AlterUserScramCredentials. PLAIN
// users live in the brokers' JAAS configs and are not listed here.
func newUserCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users"},
		Short:   "Create, list and delete SCRAM users (AlterUserScramCredentials)",
		Long: `SCRAM users are stored by the cluster and log in with --sasl-mechanism
SCRAM-SHA-256 or SCRAM-SHA-512. A user may have a password for each mechanism.
PLAIN users are those of the listener's JAAS config and are not shown here.`,
		Example: `  samsa user create alice --password-stdin < alice.pass
  samsa user list
  samsa user delete alice`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newUserCreateCommand(g), newUserListCommand(g), newUserDeleteCommand(g))
	return cmd
}

// scramMechanisms are the SCRAM mechanisms Kafka stores credentials for.
var scramMechanisms = []string{mechanismScramSha256, mechanismScramSha512}

// parseScramMechanism reads --mechanism, in any case.
func parseScramMechanism(s string) (kadm.ScramMechanism, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case mechanismScramSha256:
		return kadm.ScramSha256, nil
	case mechanismScramSha512:
		return kadm.ScramSha512, nil
	}
	return 0, fmt.Errorf("--mechanism %s: want %s", s, orList(scramMechanisms))
}

func addMechanismFlag(cmd *cobra.Command, p *string, def, usage string) {
	cmd.Flags().StringVar(p, "mechanism", def, usage)
	_ = cmd.RegisterFlagCompletionFunc("mechanism", cobra.FixedCompletions(scramMechanisms, cobra.ShellCompDirectiveNoFileComp))
}

// completeUsers offers the cluster's SCRAM users for shell completion.
func completeUsers(g *globals) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		adm, err := g.admin(commandContext(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer adm.Close()
		described, err := adm.DescribeUserSCRAMs(commandContext(cmd))
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, d := range described.Sorted() {
			names = append(names, d.User)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// uniqueUsers drops repeated names, keeping the first; Kafka refuses a
// request naming a user twice.
func uniqueUsers(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
