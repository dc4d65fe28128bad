package cli

import (
	"os"

	"github.com/spf13/cobra"
)

// Env is the world the commands see, injected so tests can replace it.
type Env struct {
	// Getenv reads environment variables (SAMSA_BROKERS, SAMSA_TLS_*,
	// SAMSA_SASL_*); nil means os.Getenv.
	Getenv func(string) string
	// IsTerminal reports whether the progress output is a terminal; nil means
	// a check of os.Stderr. Live progress lines are drawn only on terminals.
	IsTerminal func() bool
}

// Commands returns the client commands, ready to be added to the root
// command next to `samsa serve`.
func Commands(env Env) []*cobra.Command {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func() bool { return isTerminal(os.Stderr) }
	}
	g := &globals{env: env}
	cmds := []*cobra.Command{
		newTopicCommand(g),
		newProduceCommand(g),
		newConsumeCommand(g),
		newGroupCommand(g),
		newTransactionCommand(g),
		newClusterCommand(g),
		newConfigCommand(g),
		newUserCommand(g),
		newBenchCommand(g),
	}
	for _, c := range cmds {
		g.addConnectionFlags(c)
	}
	// samsa chaos starts its own cluster and samsa tls writes files: no
	// connection flags.
	return append(cmds, newChaosCommand(), newTLSCommand())
}

// isTerminal reports whether f is a character device, which is how a
// terminal looks to a process (no dependency on x/term for one bit).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
