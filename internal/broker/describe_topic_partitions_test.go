package broker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeTopicPartitions pages through topics a (3 partitions), b (2)
// and c (1) as Kafka's DescribeTopicPartitions does: sorted by name, a
// partition limit across topics, a cursor to the first partition left out
// (or to the next topic once a topic fills the limit exactly), named
// topics with errors for unknown and invalid names, and INVALID_REQUEST for
// a cursor outside the named topics. Every partition's replica state is
// checked (one broker: itself leader, replicas and ISR; no eligible leader
// replicas, none offline).
func TestDescribeTopicPartitions(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	for _, tp := range []struct {
		name string
		n    int32
	}{{"b", 2}, {"a", 3}, {"c", 1}} {
		createTopic(t, adm, tp.name, tp.n, nil)
	}
	cl := tb.client()
	ctx := ctxT(t)
	describe := func(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, topics ...string) *kmsg.DescribeTopicPartitionsResponse {
		t.Helper()
		req := kmsg.NewPtrDescribeTopicPartitionsRequest()
		req.ResponsePartitionLimit = limit
		req.Cursor = cursor
		for _, name := range topics {
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = name
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// shape is "topic:partitions/errors ... > cursor".
	shape := func(resp *kmsg.DescribeTopicPartitionsResponse) string {
		var parts []string
		for _, rt := range resp.Topics {
			s := *rt.Topic + ":"
			if rt.ErrorCode != 0 {
				s += kerr.ErrorForCode(rt.ErrorCode).(*kerr.Error).Message
			}
			for _, p := range rt.Partitions {
				s += fmt.Sprint(p.Partition)
				if *rt.Topic == "__consumer_offsets" {
					if !rt.IsInternal {
						t.Errorf("__consumer_offsets not internal")
					}
					continue
				}
				if p.ErrorCode != 0 || p.LeaderID != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) ||
					len(p.EligibleLeaderReplicas) != 0 || len(p.OfflineReplicas) != 0 {
					t.Errorf("%s-%d: %+v", *rt.Topic, p.Partition, p)
				}
			}
			if rt.ErrorCode == 0 && rt.TopicID == [16]byte{} {
				t.Errorf("%s: no topic ID", *rt.Topic)
			}
			parts = append(parts, s)
		}
		out := strings.Join(parts, " ")
		if c := resp.NextCursor; c != nil {
			out += fmt.Sprintf(" > %s/%d", c.Topic, c.Partition)
		}
		return out
	}
	at := func(topic string, partition int32) *kmsg.DescribeTopicPartitionsRequestCursor {
		return &kmsg.DescribeTopicPartitionsRequestCursor{Topic: topic, Partition: partition}
	}
	offsets := "" // __consumer_offsets' 50 partitions
	for i := range 50 {
		offsets += fmt.Sprint(i)
	}
	for _, c := range []struct {
		limit  int32
		cursor *kmsg.DescribeTopicPartitionsRequestCursor
		topics []string
		want   string
	}{
		{2000, nil, nil, "__consumer_offsets:" + offsets + " a:012 b:01 c:0"},
		{51, nil, nil, "__consumer_offsets:" + offsets + " a:0 > a/1"},
		{4, at("a", 0), nil, "a:012 b:0 > b/1"},
		{4, at("b", 1), nil, "b:1 c:0"},
		{3, at("a", 0), nil, "a:012 > b/0"},
		{0, at("a", 0), nil, "a:0 > a/1"}, // at least one
		{2000, at("zz", 0), nil, ""},      // nothing after zz
		{2000, nil, []string{"c", "zz", "a", "bad/name"}, "a:012 bad/name:INVALID_TOPIC_EXCEPTION c:0 zz:UNKNOWN_TOPIC_OR_PARTITION"},
		{2000, at("a", 2), []string{"c", "a"}, "a:2 c:0"},
		{2000, at("b", 0), []string{"c", "a"}, "c:INVALID_REQUEST a:INVALID_REQUEST"},
		{2000, at("a", -1), []string{"a"}, "a:INVALID_REQUEST"},
	} {
		if got := shape(describe(c.limit, c.cursor, c.topics...)); got != c.want {
			t.Errorf("limit %d cursor %+v topics %v: %q, want %q", c.limit, c.cursor, c.topics, got, c.want)
		}
	}
}
