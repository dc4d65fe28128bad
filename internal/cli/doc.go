// Package cli is samsa's client command line: nouns and verbs in the style of
// Redpanda's rpk (`samsa topic create`, `samsa group describe`), one file per
// verb, built on franz-go's kgo and kadm so that every command works against
// any Kafka-compatible cluster, not only Samsa.
//
// Conventions every command follows:
//
//   - Connection: --brokers host:port,... (persistent on every noun), else
//     $SAMSA_BROKERS, else localhost:9092. A cluster that cannot be reached
//     gives one line, "cannot reach localhost:9092: connection refused", and
//     a non-zero exit; never a stack trace or a retry loop of minutes.
//   - Output: read commands print aligned tables for people and take
//     --format json for scripts; JSON output is one indented document whose
//     field names are snake_case and stable.
//   - Errors are returned, not printed: cmd/samsa prints the one line and
//     sets the exit code. Per-item failures (one of three topics failed to
//     create) are shown in the table's STATUS column and make the command
//     fail after printing.
//
// Goroutines: none of its own beyond what a command needs while it runs (the
// bench producers, the consume loop); every kgo client is closed before a
// command returns.
package cli
