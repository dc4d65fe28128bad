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
// Goroutines: one per producer client during a run, joined before Run
// returns; the kgo clients' own goroutines end when each run closes them.
package bench
