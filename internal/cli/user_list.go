package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type userCredential struct {
	User       string `json:"user"`
	Mechanism  string `json:"mechanism,omitempty"`
	Iterations int32  `json:"iterations,omitempty"`
	Error      string `json:"error,omitempty"`
}

func newUserListCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list [USER...]",
		Aliases: []string{"ls", "describe"},
		Short:   "List SCRAM users: mechanisms and iterations (DescribeUserScramCredentials)",
		Long: `List every SCRAM user of the cluster, or the named ones, one row per user and
mechanism. A named user that does not exist is shown with Kafka's error and
makes the command fail.`,
		Example: `  samsa user list
  samsa user list alice bob --format json`,
		ValidArgsFunction: completeUsers(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			users := uniqueUsers(args)
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			described, err := adm.DescribeUserSCRAMs(ctx, users...)
			if err != nil {
				return fmt.Errorf("DescribeUserScramCredentials: %w", err)
			}
			rows := []userCredential{}
			failed := 0
			for _, d := range described.Sorted() {
				if d.Err != nil {
					failed++
					rows = append(rows, userCredential{User: d.User, Error: errorText(d.Err, d.ErrMessage)})
					continue
				}
				for _, c := range d.CredInfos {
					rows = append(rows, userCredential{User: d.User, Mechanism: c.Mechanism.String(), Iterations: c.Iterations})
				}
			}
			total := len(described)
			for _, u := range users {
				if _, ok := described[u]; !ok {
					total++
					failed++
					rows = append(rows, userCredential{User: u, Error: "no response"})
				}
			}
			if format == formatJSON {
				if err := writeJSON(cmd.OutOrStdout(), rows); err != nil {
					return err
				}
				return itemError(failed, total, "users")
			}
			// The ERROR column only when there is one to show.
			headers := []string{"USER", "MECHANISM", "ITERATIONS"}
			if failed > 0 {
				headers = append(headers, "ERROR")
			}
			t := newTable(cmd.OutOrStdout(), headers...)
			for _, r := range rows {
				var iterations any
				if r.Iterations > 0 {
					iterations = r.Iterations
				}
				cells := []any{r.User, r.Mechanism, iterations}
				if failed > 0 {
					cells = append(cells, r.Error)
				}
				t.row(cells...)
			}
			if err := t.flush(); err != nil {
				return err
			}
			return itemError(failed, total, "users")
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}
