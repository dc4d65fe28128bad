// Package bench is a load generator for any Kafka-compatible cluster, built on
// franz-go's kgo and kadm clients; `samsa bench` wires it to flags.
//
// Run walks a matrix of record size × partitions × acks. Each run of a row
// creates a fresh topic (random suffix), produces a fixed number of records
// (or for a fixed time) as fast as the clients accept them, consumes the
// topic back from the start without a group, checks that every record came
// back, and deletes the topic. Producing uses no linger, no compression (every
// record carries the same value buffer, which would compress to nothing),
// kgo's default batch size and sticky partitioner, and idempotence only with
// acks=all, where kgo requires it; acks=1 disables it.
//
// Measured per run: produce records/s and MB/s (record value bytes, 10^6 per
// MB) from the first Produce call to the last promise; the p50 and p99 of
// per-record latency, the time from Produce to its promise; consume records/s
// and MB/s from creating the consumer to the last record.
//
// With a second cluster (Options.Compare) every run alternates between the
// two, A then B, so both see the same machine load, and each row reports
// medians of Options.Runs runs per cluster plus the ratios A/B. On a shared
// machine a ratio says more than an absolute figure.
//
// RunWorkload runs one workload instead (`samsa bench produce|consume|e2e`),
// with every producer knob (acks, compression, linger, batch size, a target
// rate that paces each producer against its start time): produce measures
// acknowledgement latency; consume fills a topic unmeasured and times one
// consumer reading it back; e2e consumes while it produces, each value
// starting with its send time in Unix nanoseconds (big-endian), and measures
// each record's age on arrival. Latency is reported as p50, p95, p99, p99.9
// (quantiles clamped to the exact maximum, which is reported too). A live
// progress line, redrawn twice a second, is for terminals only.
//
// Goroutines: one per producer client during a run (plus, for e2e, the
// consumer, and with a live progress line its ticker), joined before Run
// returns; the kgo clients' own goroutines end when each run closes them.
package bench
