package cli

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newTransactionCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "transaction",
		Aliases: []string{"transactions", "txn"},
		Short:   "List and describe transactional producers",
		Example: `  samsa transaction list
  samsa transaction list --state Ongoing
  samsa transaction describe payments-1`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTransactionListCommand(g), newTransactionDescribeCommand(g))
	return cmd
}

type transactionSummary struct {
	TransactionalID string `json:"transactional_id"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
	Coordinator     int32  `json:"coordinator"`
}

func newTransactionListCommand(g *globals) *cobra.Command {
	var (
		format      string
		states      []string
		producerIDs []int64
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the transactional IDs the coordinators know (ListTransactions)",
		Example: `  samsa transaction list
  samsa transaction list --state Ongoing,PrepareCommit --format json
  samsa transaction list --producer-id 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			listed, err := adm.ListTransactions(ctx, producerIDs, states)
			if err != nil {
				return err
			}
			rows := []transactionSummary{}
			for _, l := range listed.Sorted() {
				rows = append(rows, transactionSummary{TransactionalID: l.TxnID, ProducerID: l.ProducerID, State: l.State, Coordinator: l.Coordinator})
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			t := newTable(cmd.OutOrStdout(), "TRANSACTIONAL-ID", "PRODUCER-ID", "STATE", "COORDINATOR")
			for _, r := range rows {
				t.row(r.TransactionalID, r.ProducerID, r.State, r.Coordinator)
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format)
	f := cmd.Flags()
	f.StringSliceVar(&states, "state", nil, "only transactions in these states (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort, ...)")
	f.Int64SliceVar(&producerIDs, "producer-id", nil, "only these producer IDs")
	return cmd
}

type transactionDetail struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	State           string `json:"state"`
	ProducerID      int64  `json:"producer_id"`
	ProducerEpoch   int16  `json:"producer_epoch"`
	TimeoutMs       int32  `json:"timeout_ms"`
	// StartTimestamp is when the ongoing transaction began (-1: none).
	StartTimestamp int64    `json:"start_timestamp_ms"`
	Partitions     []string `json:"partitions"`
	Error          string   `json:"error,omitempty"`
}

func newTransactionDescribeCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "describe [TRANSACTIONAL-ID ...]",
		Short: "Describe transactional IDs: state, producer ID and epoch, timeout, partitions (DescribeTransactions)",
		Long: `Describe the named transactional IDs, or every one the coordinators know.
PARTITIONS are those of the transaction in progress; STARTED is when it began.`,
		Example: `  samsa transaction describe payments-1
  samsa transaction describe --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			described, err := adm.DescribeTransactions(ctx, args...)
			if err != nil {
				return err
			}
			rows := []transactionDetail{}
			for _, d := range described {
				r := transactionDetail{TransactionalID: d.TxnID, Coordinator: d.Coordinator, State: d.State, ProducerID: d.ProducerID,
					ProducerEpoch: d.ProducerEpoch, TimeoutMs: d.TimeoutMillis, StartTimestamp: d.StartTimestamp, Partitions: []string{}}
				d.Topics.Each(func(topic string, p int32) {
					r.Partitions = append(r.Partitions, fmt.Sprintf("%s/%d", topic, p))
				})
				slices.Sort(r.Partitions)
				if d.Err != nil {
					r.Error = d.Err.Error()
				}
				rows = append(rows, r)
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].TransactionalID < rows[j].TransactionalID })
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			t := newTable(cmd.OutOrStdout(), "TRANSACTIONAL-ID", "STATE", "PRODUCER-ID", "EPOCH", "TIMEOUT", "STARTED", "PARTITIONS", "COORDINATOR", "ERROR")
			for _, r := range rows {
				started := "-"
				if r.StartTimestamp >= 0 {
					started = time.UnixMilli(r.StartTimestamp).UTC().Format(time.RFC3339)
				}
				partitions := strings.Join(r.Partitions, ",")
				if partitions == "" {
					partitions = "-"
				}
				t.row(r.TransactionalID, r.State, r.ProducerID, r.ProducerEpoch, time.Duration(r.TimeoutMs)*time.Millisecond,
					started, partitions, r.Coordinator, r.Error)
			}
			return t.flush()
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}
