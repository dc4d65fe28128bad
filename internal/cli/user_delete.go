package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func newUserDeleteCommand(g *globals) *cobra.Command {
	var mechanism string
	cmd := &cobra.Command{
		Use:     "delete USER...",
		Aliases: []string{"rm"},
		Short:   "Delete SCRAM users, or one mechanism's password of them",
		Long: `Delete the SCRAM credentials of the users: every mechanism they have, or only
--mechanism's. Prints one row per user and mechanism; fails if any could not
be deleted (an unknown user is Kafka's RESOURCE_NOT_FOUND). Connections
already logged in stay open until they re-authenticate.`,
		Example: `  samsa user delete alice
  samsa user delete alice bob --mechanism SCRAM-SHA-512`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeUsers(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			users := uniqueUsers(args)
			var only []kadm.ScramMechanism
			if mechanism != "" {
				m, err := parseScramMechanism(mechanism)
				if err != nil {
					return err
				}
				only = []kadm.ScramMechanism{m}
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()

			type row struct{ user, mechanism, status string }
			var rows []row
			byMechanism := map[kadm.ScramMechanism][]string{}
			if only != nil {
				byMechanism[only[0]] = users
			} else {
				// Without --mechanism, whatever each user has; an
				// unknown user's row is the description's error.
				described, err := adm.DescribeUserSCRAMs(ctx, users...)
				if err != nil {
					return fmt.Errorf("DescribeUserScramCredentials: %w", err)
				}
				for _, u := range users {
					d, ok := described[u]
					switch {
					case !ok:
						rows = append(rows, row{u, "", "no response"})
					case d.Err != nil:
						rows = append(rows, row{u, "", errorText(d.Err, d.ErrMessage)})
					default:
						for _, c := range d.CredInfos {
							byMechanism[c.Mechanism] = append(byMechanism[c.Mechanism], u)
						}
					}
				}
			}
			// A request may name a user once: one request per mechanism.
			for _, m := range []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512} {
				names := byMechanism[m]
				if len(names) == 0 {
					continue
				}
				var del []kadm.DeleteSCRAM
				for _, u := range names {
					del = append(del, kadm.DeleteSCRAM{User: u, Mechanism: m})
				}
				altered, err := adm.AlterUserSCRAMs(ctx, del, nil)
				if err != nil {
					return fmt.Errorf("AlterUserScramCredentials: %w", err)
				}
				for _, u := range names {
					r, ok := altered[u]
					switch {
					case !ok:
						rows = append(rows, row{u, m.String(), "no response"})
					case r.Err != nil:
						rows = append(rows, row{u, m.String(), errorText(r.Err, r.ErrMessage)})
					default:
						rows = append(rows, row{u, m.String(), "deleted"})
					}
				}
			}
			// In the order the users were given.
			t := newTable(cmd.OutOrStdout(), "USER", "MECHANISM", "STATUS")
			failed := 0
			for _, u := range users {
				for _, r := range rows {
					if r.user != u {
						continue
					}
					if r.status != "deleted" {
						failed++
					}
					t.row(r.user, r.mechanism, r.status)
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
			return itemError(failed, len(rows), "deletions")
		},
	}
	addMechanismFlag(cmd, &mechanism, "", "delete only this mechanism's password: SCRAM-SHA-256 or SCRAM-SHA-512 (default: every one the user has)")
	return cmd
}
