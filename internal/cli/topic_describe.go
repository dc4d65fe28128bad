package cli

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicDescription is what `samsa topic describe` shows of one topic.
type topicDescription struct {
	Name              string                 `json:"name"`
	ID                string                 `json:"id"`
	Internal          bool                   `json:"internal"`
	ReplicationFactor int                    `json:"replication_factor"`
	SizeBytes         int64                  `json:"size_bytes"`
	Partitions        []partitionDescription `json:"partitions"`
	Configs           []configEntry          `json:"configs"` // not at their defaults
}

type partitionDescription struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	// OfflineReplicas are replicas the controller knows to be unavailable
	// (their broker is down or their log directory failed).
	OfflineReplicas []int32 `json:"offline_replicas"`
	LogStartOffset  int64   `json:"log_start_offset"`
	LogEndOffset    int64   `json:"log_end_offset"`
	SizeBytes       int64   `json:"size_bytes"` // -1 if the leader did not report it
	Error           string  `json:"error,omitempty"`
}

func newTopicDescribeCommand(g *globals) *cobra.Command {
	var (
		format string
		ids    []string
	)
	cmd := &cobra.Command{
		Use:   "describe TOPIC... | --topic-id ID...",
		Short: "Show a topic's partitions, offsets, size and non-default configs",
		Long: `For each topic: its ID and replication factor; per partition the leader and
its epoch, replicas, in-sync replicas (ISR), offline replicas, log start and
end offsets and size on disk (DescribeLogDirs); and the configs that differ
from the defaults. A partition without a leader shows LEADER none: it is
offline, and takes no produces or fetches until a replica is elected.`,
		Example: `  samsa topic describe greetings
  samsa topic describe orders payments --format json
  samsa topic describe --topic-id bCloNBPFSkCvqKYLlr75Ew`,
		Args:              topicsOrIDs(&ids),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, topics []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			byID, err := topicNamesByID(ctx, adm, ids)
			if err != nil {
				return err
			}
			topics = append(topics, byID...)
			var out []topicDescription
			for _, name := range topics {
				d, err := describeTopic(ctx, adm, name)
				if err != nil {
					return err
				}
				out = append(out, d)
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			for i, d := range out {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				if err := writeTopicDescription(cmd.OutOrStdout(), d); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addFormatFlag(cmd, &format)
	addTopicIDFlag(cmd, &ids)
	return cmd
}

func describeTopic(ctx context.Context, adm *kadm.Client, name string) (topicDescription, error) {
	details, err := adm.ListTopicsWithInternal(ctx, name)
	if err != nil {
		return topicDescription{}, err
	}
	td, ok := details[name]
	if !ok {
		return topicDescription{}, fmt.Errorf("topic %s: not in the metadata response", name)
	}
	if td.Err != nil {
		return topicDescription{}, fmt.Errorf("topic %s: %w", name, td.Err)
	}
	d := topicDescription{
		Name:              name,
		ID:                formatTopicID(td.ID),
		Internal:          td.IsInternal,
		ReplicationFactor: td.Partitions.NumReplicas(),
	}
	starts, err := adm.ListStartOffsets(ctx, name)
	if err != nil {
		return d, err
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		return d, err
	}
	sizes := map[int32]int64{}
	// A cluster without DescribeLogDirs still gets the rest of the picture.
	// A topic with no partitions listed asks for none of them.
	set := kadm.TopicsSet{}
	for p := range td.Partitions {
		set.Add(name, p)
	}
	if dirs, err := adm.DescribeAllLogDirs(ctx, set); err == nil {
		dirs.Each(func(dir kadm.DescribedLogDir) {
			for p, dp := range dir.Topics[name] {
				if td.Partitions[p].Leader == dp.Broker {
					sizes[p] += dp.Size
				}
			}
		})
	}
	for _, p := range td.Partitions.Sorted() {
		pd := partitionDescription{
			Partition:       p.Partition,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			Replicas:        nonNil(p.Replicas),
			ISR:             nonNil(p.ISR),
			OfflineReplicas: nonNil(p.OfflineReplicas),
			LogStartOffset:  -1,
			LogEndOffset:    -1,
			SizeBytes:       -1,
		}
		if p.Err != nil {
			pd.Error = p.Err.Error()
		}
		if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
			pd.LogStartOffset = o.Offset
		}
		if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
			pd.LogEndOffset = o.Offset
		}
		if s, ok := sizes[p.Partition]; ok {
			pd.SizeBytes = s
			d.SizeBytes += s
		}
		d.Partitions = append(d.Partitions, pd)
	}
	configs, err := describeConfigs(ctx, adm, resource{kmsg.ConfigResourceTypeTopic, name}, true)
	if err != nil {
		return d, err
	}
	d.Configs = configs
	return d, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	s = append([]int32(nil), s...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

func writeTopicDescription(w io.Writer, d topicDescription) error {
	summary := newTable(w)
	summary.row("NAME", d.Name)
	summary.row("ID", d.ID)
	if d.Internal {
		summary.row("INTERNAL", "true")
	}
	summary.row("PARTITIONS", len(d.Partitions))
	summary.row("REPLICAS", d.ReplicationFactor)
	summary.row("SIZE", humanBytes(d.SizeBytes))
	if err := summary.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	parts := newTable(w, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE", "LOG-START", "LOG-END", "SIZE")
	for _, p := range d.Partitions {
		size := "-"
		if p.SizeBytes >= 0 {
			size = humanBytes(p.SizeBytes)
		}
		// Kafka's kafka-topics says "Leader: none" for a partition with no
		// leader (-1 in Metadata).
		var leader any = p.Leader
		if p.Leader < 0 {
			leader = "none"
		}
		parts.row(p.Partition, leader, p.LeaderEpoch, p.Replicas, p.ISR, p.OfflineReplicas, p.LogStartOffset, p.LogEndOffset, size)
	}
	if err := parts.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(d.Configs) == 0 {
		_, err := fmt.Fprintln(w, "CONFIGS  (all defaults)")
		return err
	}
	configs := newTable(w, "CONFIG", "VALUE", "SOURCE")
	writeConfigTable(configs, d.Configs)
	return configs.flush()
}
