package replication

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// resetOutOfRange handles the partitions the leader answered
// OFFSET_OUT_OF_RANGE (Kafka's handleOutOfRangeError and
// fetchOffsetAndTruncate): it asks the leader for its log end and log
// start (ListOffsets latest and earliest with this node's replica ID, so
// that latest is the log end, not the high watermark) and resets each
// partition as resetOffset says. It reports whether every partition was
// reset (else the fetcher backs off); the ListOffsets round trips run
// without applyMu, so a replica manager removing a partition does not
// wait on them, and a partition removed or in another epoch meanwhile is
// left alone.
func (f *fetcher) resetOutOfRange(cl *kgo.Client, states []fetchState) bool {
	log := f.m.cfg.Logger
	ends, err := f.listOffsets(cl, states, -1)
	if err != nil {
		log.Info("replica fetcher: leader's log end after OFFSET_OUT_OF_RANGE", "leader", f.leader, "err", err)
		return false
	}
	starts, err := f.listOffsets(cl, states, -2)
	if err != nil {
		log.Info("replica fetcher: leader's log start after OFFSET_OUT_OF_RANGE", "leader", f.leader, "err", err)
		return false
	}
	ok := true
	for i, st := range states {
		if ends[i].err != nil || starts[i].err != nil {
			ok = false
			log.Info("replica fetcher: leader's offsets after OFFSET_OUT_OF_RANGE", "topic", st.p.Topic, "partition", st.p.Index,
				"leader", f.leader, "err", ends[i].err, "err-start", starts[i].err)
			continue
		}
		if err := f.reset(st, ends[i].offset, starts[i].offset); err != nil {
			ok = false
			log.Warn("replica fetcher: reset after OFFSET_OUT_OF_RANGE", "topic", st.p.Topic, "partition", st.p.Index,
				"leader", f.leader, "err", err)
		}
	}
	return ok
}

// reset applies resetOffset to one partition, unless it left this fetcher
// or its epoch moved since the fetch, or its log end moved (an answer of
// another fetch took its place).
func (f *fetcher) reset(st fetchState, leaderEnd, leaderStart int64) error {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	p := st.p
	if !f.has(p) || p.LeaderEpoch() != st.epoch || p.LogEndOffset() != st.offset {
		return nil
	}
	end := p.LogEndOffset()
	to, full := resetOffset(end, leaderEnd, leaderStart)
	switch {
	case full:
		f.m.cfg.Logger.Warn("replica fetcher: the leader's log starts past this replica's log end: emptying the log to start at the leader's log start",
			"topic", p.Topic, "partition", p.Index, "leader", f.leader, "log-end", end, "leader-log-start", leaderStart)
		return p.TruncateFullyAndStartAt(to)
	case to < end:
		f.m.cfg.Logger.Warn("replica fetcher: the leader's log ends below this replica's (an unclean election): truncating to it",
			"topic", p.Topic, "partition", p.Index, "leader", f.leader, "log-end", end, "leader-log-end", leaderEnd)
		return p.TruncateTo(to)
	}
	return nil // the leader's range holds the log end again: fetch on
}

// resetOffset is where a follower whose fetch from end was out of the
// leader's range [leaderStart, leaderEnd) goes on (Kafka's
// fetchOffsetAndApplyTruncateAndBuild): a leader whose log ends below end
// (an unclean election made a shorter log the leader's) has it truncated
// to leaderEnd; one whose log starts above end (retention or DeleteRecords
// removed what the follower lacks) has it emptied to start at leaderStart
// (full); otherwise the range moved back over end meanwhile, and the
// follower fetches on from end.
func resetOffset(end, leaderEnd, leaderStart int64) (to int64, full bool) {
	switch {
	case leaderEnd < end:
		return leaderEnd, false
	case leaderStart > end:
		return leaderStart, true
	}
	return end, false
}

type listedOffset struct {
	offset int64
	err    error
}

// listOffsets asks the leader for the offset of timestamp (-1 latest, -2
// earliest) of each partition in states, as replica NodeID in each
// partition's epoch; the answers come in the order of states.
func (f *fetcher) listOffsets(cl *kgo.Client, states []fetchState, timestamp int64) ([]listedOffset, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = f.m.cfg.NodeID
	topics := map[string]int{}
	for _, st := range states {
		i, ok := topics[st.p.Topic]
		if !ok {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = st.p.Topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
			topics[st.p.Topic] = i
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = st.p.Index, st.epoch, timestamp
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	raw, err := cl.SeedBrokers()[0].Request(f.ctx, req)
	if err != nil {
		return nil, err
	}
	type key struct {
		topic     string
		partition int32
	}
	got := map[key]kmsg.ListOffsetsResponseTopicPartition{}
	for _, rt := range raw.(*kmsg.ListOffsetsResponse).Topics {
		for _, rp := range rt.Partitions {
			got[key{rt.Topic, rp.Partition}] = rp
		}
	}
	out := make([]listedOffset, len(states))
	for i, st := range states {
		rp, ok := got[key{st.p.Topic, st.p.Index}]
		switch {
		case !ok:
			out[i].err = fmt.Errorf("no answer for %s-%d", st.p.Topic, st.p.Index)
		case rp.ErrorCode != 0:
			out[i].err = kerr.ErrorForCode(rp.ErrorCode)
		case rp.Offset < 0:
			out[i].err = fmt.Errorf("offset %d for %s-%d", rp.Offset, st.p.Topic, st.p.Index)
		default:
			out[i].offset = rp.Offset
		}
	}
	return out, nil
}
