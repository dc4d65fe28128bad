package broker_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The versions Kafka 4 removed (KIP-896) and Kafka 3.9 still served, each
// sent as raw kmsg requests of exactly that version to a real broker, which
// must answer (an unsupported version closes the connection) and answer
// right: exact offsets, topics, groups and configs.

// kafka39 is Kafka 3.9's version range of every API Samsa serves
// (clients/src/main/resources/common/message/*.json, "validVersions", on
// the 3.9 branch).
var kafka39 = map[int16][2]int16{
	0: {0, 11}, 1: {0, 17}, 2: {0, 9}, 3: {0, 12}, 8: {0, 9}, 9: {0, 9}, 10: {0, 6},
	11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5}, 15: {0, 5}, 16: {0, 5}, 18: {0, 4},
	19: {0, 7}, 20: {0, 6}, 21: {0, 2}, 22: {0, 5}, 23: {0, 4}, 24: {0, 5}, 25: {0, 4}, 26: {0, 4}, 28: {0, 4},
	32: {0, 4}, 33: {0, 2},
	35: {0, 4}, 37: {0, 3}, 42: {0, 2}, 44: {0, 1}, 47: {0, 0}, 60: {0, 1}, 61: {0, 0},
	65: {0, 0}, 66: {0, 1}, 68: {0, 0}, 69: {0, 0},
}

// fetchKey is Fetch, whose v17 (KIP-853: the directory IDs of KRaft
// replicas fetching) is not served yet.
const fetchKey = 1

// oldRequest sends req at version v on a connection of its own and
// decodes the answer. A closed connection (how the broker refuses a
// version it does not serve) fails the test.
func oldRequest(t *testing.T, addr string, req kmsg.Request, v int16) kmsg.Response {
	t.Helper()
	req.SetVersion(v)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("legacy-test")).AppendRequest(nil, req, 1)
	body, err := rawRoundTrip(t, addr, frame)
	if err != nil {
		t.Fatalf("key %d v%d: no answer: %v", req.Key(), v, err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(v)
	body = body[4:] // correlation ID
	if resp.IsFlexible() && req.Key() != 18 {
		body = body[1:] // empty header tags
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("key %d v%d: decoding the answer: %v", req.Key(), v, err)
	}
	return resp
}

func send[R kmsg.Response](t *testing.T, tb *testBroker, req kmsg.Request, v int16) R {
	t.Helper()
	return oldRequest(t, tb.Addr(), req, v).(R)
}

// TestApiVersionsCoversKafka39: ApiVersions (v0, as the oldest clients ask)
// advertises every version Kafka 3.9 served of every API we serve.
func TestApiVersionsCoversKafka39(t *testing.T) {
	tb := startBroker(t, "", nil)
	for _, v := range []int16{0, 3} {
		resp := send[*kmsg.ApiVersionsResponse](t, tb, kmsg.NewPtrApiVersionsRequest(), v)
		if resp.ErrorCode != 0 {
			t.Fatalf("ApiVersions v%d: %v", v, kerr.ErrorForCode(resp.ErrorCode))
		}
		served := map[int16][2]int16{}
		for _, k := range resp.ApiKeys {
			served[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		for key, want := range kafka39 {
			got, ok := served[key]
			if !ok {
				t.Errorf("ApiVersions v%d: key %d not advertised", v, key)
				continue
			}
			if key == fetchKey {
				want[1] = 16
			}
			if got[0] > want[0] || got[1] < want[1] {
				t.Errorf("ApiVersions v%d: key %d (%s) advertised v%d-v%d, Kafka 3.9 served v%d-v%d",
					v, key, kmsg.NameForKey(key), got[0], got[1], want[0], want[1])
			}
		}
	}
}

// produceBatches produces n batches of five records each to one partition,
// one ProduceSync each so that each is its own batch.
func produceBatches(t *testing.T, tb *testBroker, topic string, partition int32, n int) {
	t.Helper()
	cl := tb.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for b := range n {
		var recs []*kgo.Record
		for i := range 5 {
			recs = append(recs, &kgo.Record{Partition: partition, Value: []byte("b" + itoa(b) + "-" + itoa(i))})
		}
		if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListOffsetsV0 is Kafka 3.9's legacyFetchOffsetsBefore: a partition
// whose three batches sit in three segments (base offsets 0, 5, 10; the
// log ends at 15), their files dated an hour apart, answers old_style
// offsets newest first, at most max_num_offsets of them, from that table
// of segment starts and the log end.
func TestListOffsetsV0(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "lo0", 2, map[string]*string{"segment.bytes": strp("100")})
	produceBatches(t, tb, "lo0", 0, 3)
	base := time.UnixMilli(1_600_000_000_000)
	for i, seg := range []int64{0, 5, 10} {
		path := filepath.Join(tb.dir, "lo0-0", segmentFile(seg))
		at := base.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatalf("segment %d: %v", seg, err)
		}
	}
	ms := func(d time.Duration) int64 { return base.Add(d).UnixMilli() }

	ask := func(partition int32, ts int64, max int32) ([]int64, int16) {
		t.Helper()
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "lo0"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.MaxNumOffsets = partition, ts, max
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := send[*kmsg.ListOffsetsResponse](t, tb, req, 0)
		p := resp.Topics[0].Partitions[0]
		return p.OldStyleOffsets, p.ErrorCode
	}
	cases := []struct {
		name      string
		partition int32
		ts        int64
		max       int32
		want      []int64
		code      int16
	}{
		{"latest", 0, -1, 1, []int64{15}, 0},
		{"latest, all", 0, -1, 10, []int64{15, 10, 5, 0}, 0},
		{"latest, two", 0, -1, 2, []int64{15, 10}, 0},
		{"earliest", 0, -2, 1, []int64{0}, 0},
		{"earliest, many", 0, -2, 10, []int64{0}, 0},
		{"before the second segment", 0, ms(time.Hour - 1), 10, []int64{0}, 0},
		{"at the second segment", 0, ms(time.Hour), 10, []int64{5, 0}, 0},
		{"after the last segment", 0, ms(3 * time.Hour), 10, []int64{10, 5, 0}, 0},
		{"before every segment", 0, ms(-time.Hour), 10, []int64{}, 0},
		{"none asked", 0, -1, 0, []int64{}, 0},
		{"negative count", 0, -1, -1, []int64{}, kerr.InvalidRequest.Code},
		{"empty partition, latest", 1, -1, 5, []int64{0}, 0},
		{"empty partition, earliest", 1, -2, 5, []int64{0}, 0},
		{"unknown partition", 7, -1, 1, []int64{}, kerr.UnknownTopicOrPartition.Code},
	}
	for _, c := range cases {
		got, code := ask(c.partition, c.ts, c.max)
		if code != c.code || !slices.Equal(got, c.want) {
			t.Errorf("%s: offsets %v, error %v; want %v, %v", c.name, got, kerr.ErrorForCode(code), c.want, kerr.ErrorForCode(c.code))
		}
	}

	// DeleteRecords to 7 drops the first segment and starts the second at 7.
	del, err := tb.admin().DeleteRecords(ctxT(t), offsetsAt("lo0", 0, 7))
	if err != nil || del.Error() != nil {
		t.Fatalf("delete records: %v %v", err, del.Error())
	}
	if got, _ := ask(0, -1, 10); !slices.Equal(got, []int64{15, 10, 7}) {
		t.Errorf("after DeleteRecords(7): latest offsets %v, want [15 10 7]", got)
	}
	if got, _ := ask(0, -2, 1); !slices.Equal(got, []int64{7}) {
		t.Errorf("after DeleteRecords(7): earliest offsets %v, want [7]", got)
	}
}

func segmentFile(base int64) string {
	s := itoa(int(base))
	for len(s) < 20 {
		s = "0" + s
	}
	return s + ".log"
}

// TestMetadataV0AllTopics: Metadata v0 with an empty topic list describes
// every topic (v1+ says so with null), the internal one too; naming a
// topic gets just that one.
func TestMetadataV0AllTopics(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	for _, name := range []string{"md-a", "md-b", "md-c"} {
		createTopic(t, adm, name, 2, nil)
	}
	resp := send[*kmsg.MetadataResponse](t, tb, kmsg.NewPtrMetadataRequest(), 0)
	var names []string
	for _, mt := range resp.Topics {
		if *mt.Topic == "__consumer_offsets" {
			names = append(names, *mt.Topic)
			continue
		}
		if mt.ErrorCode != 0 || len(mt.Partitions) != 2 {
			t.Fatalf("topic %v: error %v, %d partitions", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
		}
		names = append(names, *mt.Topic)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"__consumer_offsets", "md-a", "md-b", "md-c"}) {
		t.Fatalf("Metadata v0, no topics: %v, want every topic", names)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].Port == 0 {
		t.Fatalf("brokers %+v", resp.Brokers)
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = strp("md-b")
	req.Topics = append(req.Topics, rt)
	resp = send[*kmsg.MetadataResponse](t, tb, req, 0)
	if len(resp.Topics) != 1 || *resp.Topics[0].Topic != "md-b" {
		t.Fatalf("Metadata v0 for md-b: %d topics", len(resp.Topics))
	}
}

func offsetsAt(topic string, partition int32, offset int64) kadm.Offsets {
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset, LeaderEpoch: -1})
	return os
}

// TestOldAdminVersions: CreateTopics v0 and v1 (validate_only), DeleteTopics
// v0, OffsetForLeaderEpoch v0 and v1, DescribeConfigs v0 (is_default, no
// config source) and DescribeLogDirs v0.
func TestOldAdminVersions(t *testing.T) {
	tb := startBroker(t, "", nil)
	create := func(v int16, name string, partitions int32, validateOnly bool, configs map[string]string) kmsg.CreateTopicsResponseTopic {
		t.Helper()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis, req.ValidateOnly = 10_000, validateOnly
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
		for k, v := range configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, strp(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		return send[*kmsg.CreateTopicsResponse](t, tb, req, v).Topics[0]
	}
	partitionsOf := func(name string) int {
		t.Helper()
		details, err := tb.admin().ListTopics(ctxT(t), name) // a fresh client: no cached metadata
		if err != nil {
			t.Fatal(err)
		}
		d, ok := details[name]
		if !ok || d.Err != nil {
			return -1
		}
		return len(d.Partitions)
	}

	if r := create(0, "old-admin", 3, false, map[string]string{"retention.ms": "123456"}); r.ErrorCode != 0 {
		t.Fatalf("CreateTopics v0: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if n := partitionsOf("old-admin"); n != 3 {
		t.Fatalf("after CreateTopics v0: %d partitions, want 3", n)
	}
	if r := create(0, "old-admin", 3, false, nil); r.ErrorCode != kerr.TopicAlreadyExists.Code {
		t.Fatalf("CreateTopics v0 again: %v, want TOPIC_ALREADY_EXISTS", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := create(1, "old-validate", 2, true, nil); r.ErrorCode != 0 {
		t.Fatalf("CreateTopics v1 validate_only: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if n := partitionsOf("old-validate"); n != -1 {
		t.Fatalf("CreateTopics v1 validate_only created the topic (%d partitions)", n)
	}
	if r := create(1, "old-bad", 0, false, nil); r.ErrorCode != kerr.InvalidPartitions.Code || r.ErrorMessage == nil {
		t.Fatalf("CreateTopics v1 with 0 partitions: %v %v, want INVALID_PARTITIONS with a message", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}

	produceBatches(t, tb, "old-admin", 1, 2)
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "old-admin"
		for _, p := range []int32{0, 1, 9} {
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch = p, 0
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		ps := send[*kmsg.OffsetForLeaderEpochResponse](t, tb, req, v).Topics[0].Partitions
		wantEpoch := int32(0)
		if v == 0 {
			wantEpoch = -1 // not in the v0 answer
		}
		if ps[0].ErrorCode != 0 || ps[0].EndOffset != 0 || ps[1].ErrorCode != 0 || ps[1].EndOffset != 10 ||
			ps[1].LeaderEpoch != wantEpoch || ps[2].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("OffsetForLeaderEpoch v%d: %+v", v, ps)
		}
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "old-admin"
	res.ConfigNames = []string{"retention.ms", "cleanup.policy"}
	dc.Resources = append(dc.Resources, res)
	configs := send[*kmsg.DescribeConfigsResponse](t, tb, dc, 0).Resources[0]
	got := map[string]string{}
	for _, c := range configs.Configs {
		got[c.Name] = *c.Value + " default=" + strconv.FormatBool(c.IsDefault)
	}
	if configs.ErrorCode != 0 || got["retention.ms"] != "123456 default=false" || got["cleanup.policy"] != "delete default=true" || len(got) != 2 {
		t.Fatalf("DescribeConfigs v0: %v %v", kerr.ErrorForCode(configs.ErrorCode), got)
	}

	dl := kmsg.NewPtrDescribeLogDirsRequest()
	dt := kmsg.NewDescribeLogDirsRequestTopic()
	dt.Topic, dt.Partitions = "old-admin", []int32{0, 1}
	dl.Topics = append(dl.Topics, dt)
	dirs := send[*kmsg.DescribeLogDirsResponse](t, tb, dl, 0).Dirs
	if len(dirs) != 1 || dirs[0].Dir != tb.dir || len(dirs[0].Topics) != 1 || len(dirs[0].Topics[0].Partitions) != 2 {
		t.Fatalf("DescribeLogDirs v0: %+v", dirs)
	}
	sizes := map[int32]int64{}
	for _, p := range dirs[0].Topics[0].Partitions {
		sizes[p.Partition] = p.Size
	}
	if sizes[0] != 0 || sizes[1] <= 0 {
		t.Fatalf("DescribeLogDirs v0 sizes %v: want 0 for the empty partition and the batches' bytes for partition 1", sizes)
	}

	dreq := kmsg.NewPtrDeleteTopicsRequest()
	dreq.TimeoutMillis, dreq.TopicNames = 10_000, []string{"old-admin", "old-missing"}
	topics := send[*kmsg.DeleteTopicsResponse](t, tb, dreq, 0).Topics
	if len(topics) != 2 || topics[0].ErrorCode != 0 || topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("DeleteTopics v0: %+v", topics)
	}
	if n := partitionsOf("old-admin"); n != -1 {
		t.Fatalf("topic still there after DeleteTopics v0 (%d partitions)", n)
	}
}
