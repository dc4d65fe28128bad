package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/bench"
)

// newBenchCommand is `samsa bench`: bare, it runs the matrix of record size
// × partitions × acks; its subcommands run one workload each.
func newBenchCommand(g *globals) *cobra.Command {
	var (
		compare, format string
		sizes, acks     []string
		partitions      []int32
		opts            bench.Options
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency of a Kafka-compatible cluster",
		Long: `Bare, runs a matrix of record size × partitions × acks against --brokers. Each
run creates a fresh topic, produces records as fast as possible (no linger),
consumes them back from the start, and deletes the topic.

With --compare, every run alternates between the two clusters (A, B, A, B, ...)
and the table shows medians of --runs runs for both, plus the ratios A/B.

The subcommands produce, consume and e2e run one workload with every knob
(linger, batch size, compression, target rate) and report latency
percentiles.`,
		Example: `  samsa bench produce -n 1000000 -s 1KiB -p 8
  samsa bench e2e --rate 10000 --duration 30s
  samsa bench --brokers localhost:9092
  samsa bench --brokers localhost:9092 --compare localhost:9192 --sizes 1KiB --acks all
  samsa bench --brokers localhost:9092 --duration 10s --producers 4 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			opts.Brokers = g.seeds()
			opts.Compare = splitList(compare)
			for _, s := range sizes {
				n, err := bench.ParseSize(s)
				if err != nil {
					return err
				}
				opts.Sizes = append(opts.Sizes, n)
			}
			opts.Partitions = partitions
			opts.Acks = acks
			opts.Progress = cmd.ErrOrStderr()
			if err := g.reachable(cmd, opts.Brokers, opts.Compare); err != nil {
				return err
			}
			report, err := bench.Run(commandContext(cmd), opts)
			if err != nil {
				return err
			}
			if format == formatJSON {
				return report.WriteJSON(cmd.OutOrStdout())
			}
			return report.WriteTable(cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(newBenchProduceCommand(g), newBenchConsumeCommand(g), newBenchE2ECommand(g), newBenchFailoverCommand())
	f := cmd.Flags()
	f.StringVar(&compare, "compare", "", "bootstrap addresses of cluster B to compare with, comma-separated")
	f.StringSliceVar(&sizes, "sizes", []string{"100", "1KiB"}, "record value sizes (bytes, or with B, KiB, MiB)")
	f.Int32SliceVar(&partitions, "partitions", []int32{1, 8}, "partitions per topic")
	f.StringSliceVar(&acks, "acks", []string{"1", "all"}, "acks settings: 1 and/or all")
	f.IntVar(&opts.Records, "records", 0, "records per run (default: 256 MiB worth, 200,000 to 2,000,000)")
	f.DurationVar(&opts.Duration, "duration", 0, "produce for this long per run instead of --records")
	f.IntVar(&opts.Producers, "producers", 1, "concurrent producer clients")
	f.IntVar(&opts.Runs, "runs", 0, "runs per row and cluster, reported as medians (default 3 with --compare, else 1)")
	addFormatFlag(cmd, &format)
	return cmd
}

// reachable checks that every cluster a benchmark will use answers, so an
// unreachable one is one line, not a timeout deep inside a run.
func (g *globals) reachable(cmd *cobra.Command, clusters ...[]string) error {
	// The benchmark's clients (internal/bench) dial in plaintext without
	// a login; saying so beats a run that measures another listener.
	sec, err := g.resolveSecurity()
	if err != nil {
		return err
	}
	if sec.tls != nil || sec.sasl != nil {
		return errors.New("samsa bench does not support TLS or SASL yet: drop --tls and --sasl-mechanism (and $SAMSA_TLS, $SAMSA_SASL_MECHANISM) and give a PLAINTEXT listener")
	}
	for _, seeds := range clusters {
		if len(seeds) == 0 {
			continue
		}
		sub := &globals{env: g.env, brokers: joinList(seeds)}
		cl, err := sub.client(commandContext(cmd))
		if err != nil {
			return err
		}
		cl.Close()
	}
	return nil
}

func joinList(s []string) string {
	out := ""
	for i, a := range s {
		if i > 0 {
			out += ","
		}
		out += a
	}
	return out
}
