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
//   - Security: --tls with --tls-ca/--tls-cert/--tls-key/--tls-server-name
//     (or --tls-insecure-skip-verify), and --sasl-mechanism PLAIN,
//     SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER with --sasl-user and
//     --sasl-password or --sasl-token, each also from $SAMSA_TLS* and
//     $SAMSA_SASL_* (flags win). They are checked together before any dial
//     (security.go), and a failed handshake or login is one line saying which
//     flag is likely wrong (security_errors.go). Passwords and tokens are
//     never printed. samsa bench refuses them: its clients are plaintext.
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
