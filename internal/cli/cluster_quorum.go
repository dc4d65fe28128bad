package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataTopic is the KRaft metadata log, the one partition DescribeQuorum
// describes.
const metadataTopic = "__cluster_metadata"

// quorumInfo is the controller quorum as DescribeQuorum reports it, like
// kafka-metadata-quorum describe --status and --replication.
type quorumInfo struct {
	LeaderID      int32          `json:"leader_id"`
	LeaderEpoch   int32          `json:"leader_epoch"`
	HighWatermark int64          `json:"high_watermark"`
	Voters        []quorumMember `json:"voters"`
	Observers     []quorumMember `json:"observers"`
}

// quorumMember is one voter or observer of the metadata log. Lag is the
// leader's log end offset less this one's, as kafka-metadata-quorum
// computes it.
type quorumMember struct {
	ID                    int32 `json:"id"`
	LogEndOffset          int64 `json:"log_end_offset"`
	Lag                   int64 `json:"lag"`
	LastFetchTimestamp    int64 `json:"last_fetch_timestamp"`     // ms; -1 if unknown
	LastCaughtUpTimestamp int64 `json:"last_caught_up_timestamp"` // ms; -1 if unknown
}

// servesKey reports whether any broker's ApiVersions lists key.
func servesKey(versions kadm.BrokersApiVersions, key int16) bool {
	for _, v := range versions {
		if v.Err != nil {
			continue
		}
		if _, _, ok := v.KeyVersions(key); ok {
			return true
		}
	}
	return false
}

// describeQuorum asks for the metadata quorum; a broker forwards the request
// to the active controller, as Kafka's do.
func describeQuorum(ctx context.Context, cl *kgo.Client) (*quorumInfo, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	topic := kmsg.NewDescribeQuorumRequestTopic()
	topic.Topic = metadataTopic
	part := kmsg.NewDescribeQuorumRequestTopicPartition()
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("DescribeQuorum: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("DescribeQuorum: %s", errorText(err, deref(resp.ErrorMessage)))
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic != metadataTopic || p.Partition != 0 {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("DescribeQuorum: %s", errorText(err, deref(p.ErrorMessage)))
			}
			q := &quorumInfo{LeaderID: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWatermark: p.HighWatermark}
			leaderEnd := int64(-1)
			for _, v := range p.CurrentVoters {
				if v.ReplicaID == p.LeaderID {
					leaderEnd = v.LogEndOffset
				}
			}
			q.Voters = quorumMembers(p.CurrentVoters, leaderEnd)
			q.Observers = quorumMembers(p.Observers, leaderEnd)
			return q, nil
		}
	}
	return nil, fmt.Errorf("DescribeQuorum: no answer for %s-0", metadataTopic)
}

func quorumMembers(states []kmsg.DescribeQuorumResponseTopicPartitionReplicaState, leaderEnd int64) []quorumMember {
	out := []quorumMember{}
	for _, s := range states {
		m := quorumMember{ID: s.ReplicaID, LogEndOffset: s.LogEndOffset, Lag: -1,
			LastFetchTimestamp: s.LastFetchTimestamp, LastCaughtUpTimestamp: s.LastCaughtUpTimestamp}
		if leaderEnd >= 0 && s.LogEndOffset >= 0 {
			m.Lag = max(leaderEnd-s.LogEndOffset, 0)
		}
		out = append(out, m)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeQuorum writes the quorum section of cluster info. now dates the
// timestamps ("1.2s ago").
func writeQuorum(w io.Writer, info clusterInfo, now time.Time) error {
	fmt.Fprintln(w)
	if info.Quorum == nil {
		reason := "not reported by this broker"
		if info.QuorumError != "" {
			reason = info.QuorumError
		}
		_, err := fmt.Fprintln(w, "quorum: "+reason)
		return err
	}
	return writeQuorumTables(w, info.Quorum, now)
}

// writeQuorumTables writes the quorum's summary and its replicas.
func writeQuorumTables(w io.Writer, q *quorumInfo, now time.Time) error {
	summary := newTable(w)
	summary.row("QUORUM-LEADER", q.LeaderID)
	summary.row("LEADER-EPOCH", q.LeaderEpoch)
	summary.row("HIGH-WATERMARK", q.HighWatermark)
	if err := summary.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "NODE", "ROLE", "LOG-END", "LAG", "LAST-FETCH", "LAST-CAUGHT-UP")
	for _, m := range q.Voters {
		role := "voter"
		if m.ID == q.LeaderID {
			role = "leader"
		}
		t.row(m.ID, role, m.LogEndOffset, lag(m.Lag), ago(m.LastFetchTimestamp, now), ago(m.LastCaughtUpTimestamp, now))
	}
	for _, m := range q.Observers {
		t.row(m.ID, "observer", m.LogEndOffset, lag(m.Lag), ago(m.LastFetchTimestamp, now), ago(m.LastCaughtUpTimestamp, now))
	}
	return t.flush()
}

func lag(n int64) any {
	if n < 0 {
		return "-"
	}
	return n
}

// ago renders a timestamp in ms as its age, "-" when unknown (-1).
func ago(ms int64, now time.Time) string {
	if ms < 0 {
		return "-"
	}
	d := max(now.Sub(time.UnixMilli(ms)), 0)
	return d.Round(time.Millisecond).String() + " ago"
}

func newClusterQuorumCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quorum",
		Short: "Describe the controller quorum, add or remove voters",
		Example: `  samsa cluster quorum describe
  samsa cluster quorum add --node-id 4 --controller 10.0.0.4:9093
  samsa cluster quorum remove --node-id 1`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newQuorumDescribeCommand(g), newQuorumAddCommand(g), newQuorumRemoveCommand(g))
	return cmd
}

func newQuorumDescribeCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "describe",
		Short: "Show the quorum's leader, voters and observers (DescribeQuorum)",
		Long: `Show the controller quorum as its leader sees it (DescribeQuorum on the
metadata log, like kafka-metadata-quorum describe --status --replication):
the leader, its epoch and the high watermark, then each voter and observer
with its log end offset, its lag behind the leader and when it last
fetched and was last caught up ("-" where the leader does not know).`,
		Example: `  samsa cluster quorum describe
  samsa cluster quorum describe --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			q, err := describeQuorum(ctx, cl)
			if err != nil {
				return err
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), q)
			}
			return writeQuorumTables(cmd.OutOrStdout(), q, time.Now())
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newQuorumAddCommand(g *globals) *cobra.Command {
	var (
		node       int32
		controller string
		listener   string
	)
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Make a controller a voter of the quorum (AddRaftVoter)",
		Long: `Make a running controller a voter of the metadata quorum (AddRaftVoter,
like kafka-metadata-quorum add-controller). The node must already receive
the metadata log as an observer: start it with process.roles=broker,controller,
its node.id and controller.quorum.bootstrap.servers (instead of
controller.quorum.voters). --controller is its controller listener's
host:port, as it advertises it. The command returns once the new voter set
is committed.`,
		Example: `  samsa cluster quorum add --node-id 4 --controller 10.0.0.4:9093`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, portText, err := net.SplitHostPort(controller)
			port, perr := strconv.ParseUint(portText, 10, 16)
			if err != nil || perr != nil || host == "" {
				return fmt.Errorf("--controller %q is not host:port", controller)
			}
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			req := kmsg.NewPtrAddRaftVoterRequest()
			req.VoterID = node
			l := kmsg.NewAddRaftVoterRequestListener()
			l.Name, l.Host, l.Port = listener, host, uint16(port)
			req.Listeners = append(req.Listeners, l)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return fmt.Errorf("AddRaftVoter: %w", err)
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
				return fmt.Errorf("add voter %d: %s", node, errorText(err, deref(resp.ErrorMessage)))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "voter %d (%s) added to the controller quorum\n", node, controller)
			return err
		},
	}
	cmd.Flags().Int32Var(&node, "node-id", -1, "node.id of the controller to add (required)")
	cmd.Flags().StringVar(&controller, "controller", "", "host:port of its controller listener (required)")
	cmd.Flags().StringVar(&listener, "listener", "CONTROLLER", "name of the controller listener (controller.listener.names)")
	_ = cmd.MarkFlagRequired("node-id")
	_ = cmd.MarkFlagRequired("controller")
	return cmd
}

func newQuorumRemoveCommand(g *globals) *cobra.Command {
	var node int32
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Take a voter out of the quorum (RemoveRaftVoter)",
		Long: `Take a voter out of the metadata quorum (RemoveRaftVoter, like
kafka-metadata-quorum remove-controller). While it runs, the node stays an
observer of the metadata log; a leader removed steps down and another voter
takes over. The last voter cannot be removed. Restarting the removed node
with controller.quorum.voters still naming it is refused: start it with
controller.quorum.bootstrap.servers instead.`,
		Example: `  samsa cluster quorum remove --node-id 1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			req := kmsg.NewPtrRemoveRaftVoterRequest()
			req.VoterID = node
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				return fmt.Errorf("RemoveRaftVoter: %w", err)
			}
			if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
				return fmt.Errorf("remove voter %d: %s", node, errorText(err, deref(resp.ErrorMessage)))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "voter %d removed from the controller quorum\n", node)
			return err
		},
	}
	cmd.Flags().Int32Var(&node, "node-id", -1, "node.id of the voter to remove (required)")
	_ = cmd.MarkFlagRequired("node-id")
	return cmd
}
