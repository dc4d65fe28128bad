package cli

import (
	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/bench"
)

// workloadFlags are the flags every `samsa bench MODE` shares.
type workloadFlags struct {
	opts            bench.WorkloadOptions
	size, batch     string
	compare, format string
}

func (f *workloadFlags) add(cmd *cobra.Command, mode string) {
	fs := cmd.Flags()
	fs.IntVarP(&f.opts.Records, "records", "n", 0, "records per run (default: 256 MiB worth, 200,000 to 2,000,000)")
	if mode != bench.ModeConsume {
		fs.DurationVar(&f.opts.Duration, "duration", 0, "produce for this long instead of --records")
		fs.Float64Var(&f.opts.Rate, "rate", 0, "target records/s over all producers (default: as fast as possible)")
	}
	fs.StringVarP(&f.size, "record-size", "s", "100", "record value size (bytes, or with B, KiB, MiB)")
	fs.Int32VarP(&f.opts.Partitions, "partitions", "p", 1, "partitions of the benchmark topic")
	fs.IntVar(&f.opts.Producers, "producers", 1, "concurrent producer clients")
	fs.StringVar(&f.opts.Acks, "acks", "all", "acknowledgements: all, 1 or 0")
	fs.StringVarP(&f.opts.Compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&f.opts.Linger, "linger", 0, "how long a partition's batch waits for more records")
	if mode != bench.ModeConsume {
		fs.IntVar(&f.opts.TxnRecords, "txn-records", 0, "produce transactionally, committing every N records (e2e then reads read_committed)")
	}
	fs.StringVar(&f.batch, "batch-size", "", "largest batch before compression (default: kgo's 1 MB)")
	fs.StringVar(&f.compare, "compare", "", "bootstrap addresses of cluster B: run the same load on both, alternating")
	fs.IntVar(&f.opts.Runs, "runs", 0, "runs per cluster, reported as medians (default 3 with --compare, else 1)")
	addFormatFlag(cmd, &f.format)
	_ = cmd.RegisterFlagCompletionFunc("compression", cobra.FixedCompletions([]string{"none", "gzip", "snappy", "lz4", "zstd"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("acks", cobra.FixedCompletions([]string{"all", "1", "0"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f *workloadFlags) run(g *globals, cmd *cobra.Command, mode string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	o := f.opts
	o.Mode = mode
	o.Brokers = g.seeds()
	o.Compare = splitList(f.compare)
	n, err := bench.ParseSize(f.size)
	if err != nil {
		return err
	}
	o.RecordSize = n
	if f.batch != "" {
		b, err := bench.ParseSize(f.batch)
		if err != nil {
			return err
		}
		o.BatchBytes = int32(b)
	}
	o.Progress = cmd.ErrOrStderr()
	o.Live = g.env.IsTerminal()
	if err := g.reachable(cmd, o.Brokers, o.Compare); err != nil {
		return err
	}
	report, err := bench.RunWorkload(commandContext(cmd), o)
	if err != nil {
		return err
	}
	if f.format == formatJSON {
		return report.WriteJSON(cmd.OutOrStdout())
	}
	return report.WriteTable(cmd.OutOrStdout())
}

func newBenchWorkloadCommand(g *globals, mode, short, long, example string) *cobra.Command {
	var f workloadFlags
	cmd := &cobra.Command{
		Use:     mode,
		Short:   short,
		Long:    long + workloadCommon,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(g, cmd, mode)
		},
	}
	f.add(cmd, mode)
	return cmd
}

const workloadCommon = `

Each run creates a fresh topic with --partitions partitions, runs the load and
deletes the topic. On a terminal a progress line is redrawn twice a second on
stderr; the report goes to stdout: records/s, MB/s (10^6 bytes of record
values) and latency percentiles p50, p95, p99, p99.9 and max. With --compare
every run alternates between the clusters (A, B, A, B, ...) and the report
shows medians of --runs runs for both, side by side, with their ratio A/B.`

func newBenchProduceCommand(g *globals) *cobra.Command {
	return newBenchWorkloadCommand(g, bench.ModeProduce,
		"Measure producer throughput and acknowledgement latency",
		`Produce records from --producers clients, as fast as they are accepted or at
--rate, and measure throughput and the latency from Produce to the
acknowledgement.`,
		`  samsa bench produce -n 1000000 -s 1KiB -p 8 --producers 4
  samsa bench produce --acks 1 -z zstd --linger 5ms --batch-size 256KiB
  samsa bench produce --rate 50000 --duration 30s --format json
  samsa bench produce --compare localhost:9192`)
}

func newBenchConsumeCommand(g *globals) *cobra.Command {
	return newBenchWorkloadCommand(g, bench.ModeConsume,
		"Measure consumer throughput over a filled topic",
		`Fill a topic with --records records (not measured), then read it back from
the start with one consumer and measure its throughput.`,
		`  samsa bench consume -n 2000000 -s 100 -p 8
  samsa bench consume --compare localhost:9192 --runs 5`)
}

func newBenchE2ECommand(g *globals) *cobra.Command {
	return newBenchWorkloadCommand(g, bench.ModeE2E,
		"Measure end-to-end latency: produce and consume at once",
		`Consume while producing: each record carries its send time, and the latency
is its age when the consumer receives it. The acknowledgement latency is
shown as well ("ack" rows). A target --rate below the cluster's capacity
measures latency rather than queueing.`,
		`  samsa bench e2e --rate 10000 --duration 30s
  samsa bench e2e -n 100000 -p 4 --acks all --compare localhost:9192`)
}
