package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Kafka's bounds on SCRAM iterations (ScramMechanism.minIterations and
// maxIterations).
const (
	minScramIterations = 4096
	maxScramIterations = 16384
)

func newUserCreateCommand(g *globals) *cobra.Command {
	var (
		password      string
		passwordStdin bool
		mechanism     string
		iterations    int32
	)
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Create a SCRAM user, or change its password for the mechanism",
		Long: `Create a SCRAM user, or replace its password for --mechanism (the password of
the other mechanism, if any, stays). The salt is drawn here and only the
salted password goes to the cluster. --password-stdin reads the password from
standard input (one trailing newline dropped), which keeps it out of ps and
the shell's history.`,
		Example: `  samsa user create alice --password-stdin < alice.pass
  samsa user create bob --password "$BOB_PASSWORD" --mechanism SCRAM-SHA-512 --iterations 8192
  samsa user create alice --password-stdin --tls --sasl-mechanism PLAIN --sasl-user admin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			user := args[0]
			if user == "" {
				return errors.New("the user name is empty")
			}
			mech, err := parseScramMechanism(mechanism)
			if err != nil {
				return err
			}
			if iterations < minScramIterations || iterations > maxScramIterations {
				return fmt.Errorf("--iterations %d: Kafka accepts %d to %d", iterations, minScramIterations, maxScramIterations)
			}
			passwordGiven := cmd.Flags().Changed("password")
			switch {
			case passwordGiven && passwordStdin:
				return errors.New("--password and --password-stdin: give one")
			case passwordStdin:
				if password, err = readPassword(cmd.InOrStdin()); err != nil {
					return err
				}
			case !passwordGiven:
				return errors.New("no password: give --password or --password-stdin")
			case password == "":
				return errors.New("--password is empty")
			}

			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			// Kafka's answer is the same for a new user and a changed
			// password; the description before says which it is.
			status := "created"
			if before, err := adm.DescribeUserSCRAMs(ctx, user); err == nil {
				for _, c := range before[user].CredInfos {
					if c.Mechanism == mech {
						status = "password changed"
					}
				}
			}
			altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: mech, Iterations: iterations, Password: password}})
			if err != nil {
				return fmt.Errorf("AlterUserScramCredentials: %w", err)
			}
			t := newTable(cmd.OutOrStdout(), "USER", "MECHANISM", "ITERATIONS", "STATUS")
			failed := 0
			r, ok := altered[user]
			switch {
			case !ok:
				failed++
				status = "no response"
			case r.Err != nil:
				failed++
				status = errorText(r.Err, r.ErrMessage)
			}
			t.row(user, mech.String(), iterations, status)
			if err := t.flush(); err != nil {
				return err
			}
			return itemError(failed, 1, "users")
		},
	}
	f := cmd.Flags()
	f.StringVar(&password, "password", "", "the user's password (visible in ps: prefer --password-stdin)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	addMechanismFlag(cmd, &mechanism, mechanismScramSha256, "SCRAM mechanism: SCRAM-SHA-256 or SCRAM-SHA-512")
	f.Int32Var(&iterations, "iterations", minScramIterations, fmt.Sprintf("SCRAM iterations, %d to %d", minScramIterations, maxScramIterations))
	return cmd
}

// maxPassword bounds what --password-stdin reads.
const maxPassword = 64 << 10

// readPassword reads a password from r: all of it, less one trailing
// newline (a file written by echo, or a line typed at a terminal).
func readPassword(r io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPassword+1))
	if err != nil {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	if len(data) > maxPassword {
		return "", fmt.Errorf("--password-stdin: more than %d bytes", maxPassword)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if p == "" {
		return "", errors.New("--password-stdin: standard input is empty")
	}
	return p, nil
}
