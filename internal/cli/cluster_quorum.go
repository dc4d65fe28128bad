package cli

import (
	"context"
	"fmt"
	"io"
	"time"

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
	q := info.Quorum
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
