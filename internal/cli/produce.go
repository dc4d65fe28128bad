package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLine is the longest input line produce accepts; a record's value can
// be this large (the broker's message.max.bytes is smaller by default).
const maxLine = 16 << 20

// jsonRecord is one line of --format json input, and one record of consume's
// JSON output.
type jsonRecord struct {
	Topic     string            `json:"topic,omitempty"`
	Partition *int32            `json:"partition,omitempty"`
	Offset    *int64            `json:"offset,omitempty"`
	Timestamp *int64            `json:"timestamp,omitempty"` // milliseconds since the epoch
	Key       *string           `json:"key"`
	Value     json.RawMessage   `json:"value"` // a JSON string is the value's text; anything else is the value verbatim
	Headers   map[string]string `json:"headers,omitempty"`
}

func newProduceCommand(g *globals) *cobra.Command {
	var (
		file, keySep, format, acks, compression string
		transactionalID                         string
		headers                                 []string
		partition                               int32
		idempotent, verbose                     bool
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records from stdin or a file, one per line",
		Long: `Produce one record per input line, read from stdin or --file. With -K the
text before the first separator is the key (a line without the separator is
all value, with no key). With --format json each line is
an object: {"key": "k", "value": "v", "headers": {"h": "x"}, "partition": 0}
(a value that is not a JSON string is produced as its JSON text; -p wins
over a line's partition). The JSON that consume --format json prints is
valid input.

Idempotence is on by default and needs acks=all; with --acks 1 or 0 it is
turned off. Records are sent as they are read; the command waits for every
acknowledgement and fails if any record failed.

With --transactional-id every record is written in one transaction, committed
once all of them are acknowledged, or aborted (nothing becomes visible to
read_committed consumers) if any failed or the input is bad.`,
		Example: `  printf 'k1:hello\nk2:world\n' | samsa produce greetings -K:
  samsa produce orders --file orders.txt -H source=import -z zstd
  echo '{"key":"a","value":{"n":1}}' | samsa produce events --format json -v
  samsa produce metrics -p 3 --acks 1
  samsa produce payments --transactional-id import-1 --file batch.txt`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if format != "text" && format != formatJSON {
				return fmt.Errorf("--format %q: want text or json", format)
			}
			hdrs, err := parseHeaders(headers)
			if err != nil {
				return err
			}
			// Like kcat and Kafka's console producer, let the broker create a
			// missing topic if auto.create.topics.enable allows it.
			opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.AllowAutoTopicCreation()}
			switch strings.ToLower(acks) {
			case "all", "-1":
				opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
			case "1", "leader":
				opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
			case "0", "none":
				opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
			default:
				return fmt.Errorf("--acks %q: want all, 1 or 0", acks)
			}
			if !idempotent {
				opts = append(opts, kgo.DisableIdempotentWrite())
			}
			if transactionalID != "" {
				if !idempotent || (strings.ToLower(acks) != "all" && acks != "-1") {
					return errors.New("--transactional-id needs --acks all and --idempotent")
				}
				opts = append(opts, kgo.TransactionalID(transactionalID))
			}
			codec, err := parseCompression(compression)
			if err != nil {
				return err
			}
			opts = append(opts, kgo.ProducerBatchCompression(codec))
			if partition >= 0 || format == formatJSON {
				// Records with no partition of their own still go through
				// the default (sticky, key-hashing) partitioner.
				opts = append(opts, kgo.RecordPartitioner(manualOrDefault()))
			}

			in := cmd.InOrStdin()
			if file != "" && file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}

			ctx := commandContext(cmd)
			cl, err := g.client(ctx, opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			txn := transactionalID != ""
			if txn {
				if err := cl.BeginTransaction(); err != nil {
					return err
				}
			}
			// abort ends the transaction, if any, without its records.
			abort := func(cause error) error {
				if txn {
					if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
						return fmt.Errorf("%w (and aborting the transaction: %v)", cause, err)
					}
					return fmt.Errorf("%w: transaction aborted", cause)
				}
				return cause
			}

			var (
				mu       sync.Mutex
				firstErr error
				failed   int
			)
			out := cmd.OutOrStdout()
			promise := func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					return
				}
				if verbose {
					fmt.Fprintf(out, "%s[%d] offset %d\n", r.Topic, r.Partition, r.Offset)
				}
			}
			sc := bufio.NewScanner(in)
			sc.Buffer(make([]byte, 64<<10), maxLine)
			line, sent := 0, 0
			for sc.Scan() {
				line++
				text := sc.Bytes()
				if format == formatJSON && len(bytes.TrimSpace(text)) == 0 {
					continue
				}
				r, err := parseRecord(text, format, keySep)
				if err != nil {
					cl.Flush(ctx)
					return abort(fmt.Errorf("line %d: %w", line, err))
				}
				r.Topic = topic
				r.Headers = append(r.Headers, hdrs...)
				if partition >= 0 {
					r.Partition, r.hasPartition = partition, true
				}
				cl.Produce(ctx, r.record(), promise)
				sent++
			}
			if err := sc.Err(); err != nil {
				cl.Flush(ctx)
				return abort(fmt.Errorf("reading input: %w", err))
			}
			if err := cl.Flush(ctx); err != nil {
				return abort(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if firstErr != nil {
				return abort(fmt.Errorf("%d of %d records failed: %w", failed, sent, firstErr))
			}
			if txn {
				if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
					return fmt.Errorf("committing the transaction: %w", err)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read records from this file instead of stdin")
	f.StringVarP(&keySep, "key-separator", "K", "", "split each line at the first SEP into key and value")
	f.StringArrayVarP(&headers, "header", "H", nil, "add a header name=value to every record (repeatable)")
	f.Int32VarP(&partition, "partition", "p", -1, "produce every record to this partition (default: by key, sticky for no key)")
	f.StringVar(&acks, "acks", "all", "acknowledgements: all, 1 or 0")
	f.StringVarP(&compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.BoolVar(&idempotent, "idempotent", true, "idempotent producer (needs --acks all)")
	f.StringVar(&format, "format", "text", "input format: text (one value per line) or json (one object per line)")
	f.BoolVarP(&verbose, "verbose", "v", false, "print each record's partition and offset")
	f.StringVar(&transactionalID, "transactional-id", "", "write every record in one transaction of this transactional.id")
	_ = cmd.RegisterFlagCompletionFunc("compression", cobra.FixedCompletions([]string{"none", "gzip", "snappy", "lz4", "zstd"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("acks", cobra.FixedCompletions([]string{"all", "1", "0"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// inputRecord is a parsed input line.
type inputRecord struct {
	Topic        string
	Key          []byte
	Value        []byte
	Headers      []kgo.RecordHeader
	Partition    int32
	hasPartition bool
}

func (r inputRecord) record() *kgo.Record {
	rec := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Partition: -1}
	if r.hasPartition {
		rec.Partition = r.Partition
	}
	return rec
}

// parseRecord reads one input line. The line's bytes are copied: the
// scanner reuses its buffer while kgo may still hold the record.
func parseRecord(line []byte, format, keySep string) (inputRecord, error) {
	var r inputRecord
	if format == formatJSON {
		var j jsonRecord
		if err := json.Unmarshal(line, &j); err != nil {
			return r, fmt.Errorf("not a JSON record: %w", err)
		}
		if j.Key != nil {
			r.Key = []byte(*j.Key)
		}
		if len(j.Value) > 0 && string(j.Value) != "null" {
			var s string
			if json.Unmarshal(j.Value, &s) == nil {
				r.Value = []byte(s)
			} else {
				r.Value = append([]byte(nil), j.Value...)
			}
		}
		for _, name := range sortedKeys(j.Headers) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: name, Value: []byte(j.Headers[name])})
		}
		if j.Partition != nil {
			r.Partition, r.hasPartition = *j.Partition, true
		}
		return r, nil
	}
	line = bytes.Clone(line)
	if keySep != "" {
		if k, v, ok := bytes.Cut(line, []byte(keySep)); ok {
			r.Key, r.Value = k, v
			return r, nil
		}
	}
	r.Value = line
	return r, nil
}

func parseHeaders(pairs []string) ([]kgo.RecordHeader, error) {
	var out []kgo.RecordHeader
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-H %q: want name=value", p)
		}
		out = append(out, kgo.RecordHeader{Key: name, Value: []byte(value)})
	}
	return out, nil
}

func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

// manualOrDefault sends a record with a partition set (>= 0) there and
// every other record through kgo's default partitioner.
func manualOrDefault() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		def := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Partition >= 0 {
				return int(r.Partition)
			}
			return def.Partition(r, n)
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
