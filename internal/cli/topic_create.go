package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCreateCommand(g *globals) *cobra.Command {
	var (
		partitions  int32
		replication int16
		configs     []string
		dryRun      bool
	)
	cmd := &cobra.Command{
		Use:   "create TOPIC...",
		Short: "Create topics",
		Long: `Create one or more topics. Without -p or -r the broker's num.partitions and
default.replication.factor apply. Prints one row per topic; fails if any
topic could not be created. Returns once every broker's metadata lists the
new topics (or after 10s), so the next command finds them on any broker.`,
		Example: `  samsa topic create greetings
  samsa topic create orders payments -p 6 -r 1
  samsa topic create audit -c retention.ms=604800000 -c cleanup.policy=compact`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, topics []string) error {
			kv, err := parseKeyValues("-c", configs)
			if err != nil {
				return err
			}
			cfg := map[string]*string{}
			for k, v := range kv {
				cfg[k] = &v
			}
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			adm := kadm.NewClient(cl)
			defer adm.Close()
			create := adm.CreateTopics
			if dryRun {
				create = adm.ValidateCreateTopics
			}
			resp, err := create(ctx, partitions, replication, cfg, topics...)
			if err != nil {
				return err
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITIONS", "REPLICAS", "STATUS")
			failed := 0
			for _, name := range topics {
				r := resp[name]
				status := "created"
				if dryRun {
					status = "valid (dry run)"
				}
				if r.Err != nil {
					failed++
					status = errorText(r.Err, r.ErrMessage)
					if errors.Is(r.Err, kerr.InvalidReplicationFactor) && r.ErrMessage == "" {
						// Samsa's message says how many brokers there are.
						status += brokerCount(ctx, adm, replication)
					}
					t.row(name, "-", "-", status)
					continue
				}
				t.row(name, r.NumPartitions, r.ReplicationFactor, status)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if !dryRun {
				var created []string
				for _, name := range topics {
					if resp[name].Err == nil {
						created = append(created, name)
					}
				}
				awaitTopics(ctx, cl, created)
			}
			return itemError(failed, len(topics), "topics")
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "partitions (default: the broker's num.partitions)")
	f.Int16VarP(&replication, "replicas", "r", -1, "replication factor (default: the broker's default.replication.factor)")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config name=value (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "validate only; create nothing")
	return cmd
}

// errorText is a Kafka error with the broker's message, if it sent one.
func errorText(err error, message string) string {
	if message != "" && message != err.Error() {
		return err.Error() + ": " + message
	}
	return err.Error()
}

// brokerCount says, after INVALID_REPLICATION_FACTOR, how many brokers the
// cluster has, which is what the user must compare -r with: " (-r 3; the
// cluster has 1 broker)". It is empty if Metadata cannot say.
func brokerCount(ctx context.Context, adm *kadm.Client, replication int16) string {
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return ""
	}
	rf := "default.replication.factor"
	if replication > 0 {
		rf = fmt.Sprintf("-r %d", replication)
	}
	n := len(meta.Brokers)
	if n == 1 {
		return fmt.Sprintf(" (%s; the cluster has 1 broker)", rf)
	}
	return fmt.Sprintf(" (%s; the cluster has %d brokers)", rf, n)
}

// awaitTopicsTimeout bounds how long topic create waits for every broker
// to know the new topics.
const awaitTopicsTimeout = 10 * time.Second

// awaitTopics waits until every broker's Metadata lists topics, so that the
// next command (describe, produce) finds them whichever broker it asks: the
// controller answers CreateTopics once it committed them, and the other
// brokers learn of them from the metadata log a moment later. After the
// timeout it gives up quietly; the topics exist all the same.
func awaitTopics(ctx context.Context, cl *kgo.Client, topics []string) {
	if len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, awaitTopicsTimeout)
	defer cancel()
	meta, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return
	}
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	for _, b := range meta.Brokers {
		for !brokerKnows(ctx, cl.Broker(int(b.NodeID)), req, len(topics)) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// brokerKnows reports whether b's Metadata answer has all n topics of req,
// each with a leader for every partition.
func brokerKnows(ctx context.Context, b *kgo.Broker, req *kmsg.MetadataRequest, n int) bool {
	kresp, err := b.Request(ctx, req)
	if err != nil {
		return false
	}
	known := 0
	for _, t := range kresp.(*kmsg.MetadataResponse).Topics {
		if t.ErrorCode != 0 || len(t.Partitions) == 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return false
			}
		}
		known++
	}
	return known == n
}
