package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/bench"
)

// newBenchCommand wires `samsa bench` flags to internal/bench.
func newBenchCommand() *cobra.Command {
	var (
		brokers, compare, format string
		sizes, acks              []string
		partitions               []int32
		opts                     bench.Options
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce and consume throughput and latency of a Kafka-compatible cluster",
		Long: `Runs a matrix of record size × partitions × acks against --brokers. Each run
creates a fresh topic, produces records as fast as possible (no linger), consumes
them back from the start, and deletes the topic.

With --compare, every run alternates between the two clusters (A, B, A, B, ...)
and the table shows medians of --runs runs for both, plus the ratios A/B.`,
		Example: `  samsa bench --brokers localhost:9092
  samsa bench --brokers localhost:9092 --compare localhost:9192 --sizes 1KiB --acks all
  samsa bench --brokers localhost:9092 --duration 10s --producers 4 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			opts.Brokers = splitAddrs(brokers)
			opts.Compare = splitAddrs(compare)
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

			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			report, err := bench.Run(ctx, opts)
			if err != nil {
				return err
			}
			if format == "json" {
				return report.WriteJSON(cmd.OutOrStdout())
			}
			return report.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "localhost:9092", "bootstrap addresses of cluster A, comma-separated")
	f.StringVar(&compare, "compare", "", "bootstrap addresses of cluster B to compare with, comma-separated")
	f.StringSliceVar(&sizes, "sizes", []string{"100", "1KiB"}, "record value sizes (bytes, or with B, KiB, MiB)")
	f.Int32SliceVar(&partitions, "partitions", []int32{1, 8}, "partitions per topic")
	f.StringSliceVar(&acks, "acks", []string{"1", "all"}, "acks settings: 1 and/or all")
	f.IntVar(&opts.Records, "records", 0, "records per run (default: 256 MiB worth, 200,000 to 2,000,000)")
	f.DurationVar(&opts.Duration, "duration", 0, "produce for this long per run instead of --records")
	f.IntVar(&opts.Producers, "producers", 1, "concurrent producer clients")
	f.IntVar(&opts.Runs, "runs", 0, "runs per row and cluster, reported as medians (default 3 with --compare, else 1)")
	f.StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
