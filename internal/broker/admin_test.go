package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicLifecycle(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "orders", 3, map[string]*string{"retention.ms": strp("3600000")})

	if resp, _ := adm.CreateTopic(ctx, 3, 1, nil, "orders"); !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v", resp.Err)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": strp("soon")}, "bad-config"); !errors.Is(resp.Err, kerr.InvalidConfig) || resp.ErrMessage == "" {
		t.Fatalf("bad config: %v %q", resp.Err, resp.ErrMessage)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": strp("1")}, "bad-name"); !errors.Is(resp.Err, kerr.InvalidConfig) {
		t.Fatalf("unknown config: %v", resp.Err)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 3, nil, "too-many-replicas"); !errors.Is(resp.Err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 3 on one broker: %v", resp.Err)
	}
	if resp, _ := adm.CreateTopic(ctx, 1, 1, nil, "bad/name"); !errors.Is(resp.Err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v", resp.Err)
	}
	vresp, err := adm.ValidateCreateTopics(ctx, 2, 1, nil, "validate-only")
	if err != nil || vresp["validate-only"].Err != nil {
		t.Fatalf("validate only: %v %v", err, vresp["validate-only"].Err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("validate-only") || !topics.Has("orders") || len(topics["orders"].Partitions) != 3 {
		t.Fatalf("topics: %v", topics.Names())
	}
	firstID := topics["orders"].ID

	cl := tb.client(kgo.DefaultProduceTopic("orders"))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreatePartitions(ctx, 2, "orders"); err != nil {
		t.Fatal(err)
	}
	// Named: kgo's metadata cache answers a later all-topics listing from
	// what CreatePartitions invalidated.
	if topics, err = adm.ListTopics(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if len(topics["orders"].Partitions) != 5 {
		t.Fatalf("after create partitions: %d partitions (%v) %v", len(topics["orders"].Partitions), topics["orders"].Err, topics.Names())
	}

	dresp, err := adm.DeleteTopics(ctx, "orders")
	if err != nil || dresp["orders"].Err != nil {
		t.Fatalf("delete: %v %v", err, dresp["orders"].Err)
	}
	createTopic(t, adm, "orders", 1, nil)
	topics, _ = tb.admin().ListTopics(ctx, "orders") // a fresh client: no cached metadata
	if topics["orders"].ID == firstID {
		t.Fatal("re-created topic kept its old ID")
	}
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("orders", 0); o.Offset != 0 {
		t.Fatalf("re-created topic has end offset %d, want 0 (old data kept?)", o.Offset)
	}
}

func TestDescribeAndAlterConfigs(t *testing.T) {
	tb := startBroker(t, "", map[string]string{"log.retention.hours": "24"})
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "cfg", 1, map[string]*string{"cleanup.policy": strp("compact")})

	rcs, err := adm.DescribeTopicConfigs(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("cfg", nil)
	byName := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		byName[c.Key] = c
	}
	if c := byName["cleanup.policy"]; c.MaybeValue() != "compact" || c.Source != 1 {
		t.Fatalf("cleanup.policy: %+v", c)
	}
	if c := byName["retention.ms"]; c.MaybeValue() != "86400000" || c.Source != 4 {
		t.Fatalf("retention.ms from static log.retention.hours: %q source %d", c.MaybeValue(), c.Source)
	}
	if c := byName["max.message.bytes"]; c.MaybeValue() != "1048588" || c.Source != 5 {
		t.Fatalf("max.message.bytes: %q source %d", c.MaybeValue(), c.Source)
	}

	// Lowering max.message.bytes applies at once to the live partition.
	cl := tb.client(kgo.DefaultProduceTopic("cfg"), kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerBatchCompression(kgo.NoCompression()))
	big := make([]byte, 2000)
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: big}).FirstErr(); err != nil {
		t.Fatalf("produce before alter: %v", err)
	}
	alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: strp("1000")}}, "cfg")
	if err != nil || alter[0].Err != nil {
		t.Fatalf("alter: %v %v", err, alter)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: big}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce after lowering max.message.bytes: %v, want MESSAGE_TOO_LARGE", err)
	}
	alter, _ = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("forever")}}, "cfg")
	if !errors.Is(alter[0].Err, kerr.InvalidConfig) {
		t.Fatalf("invalid alter: %v", alter[0].Err)
	}

	// Broker-level dynamic config, then describe it.
	balter, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.retention.ms", Value: strp("7200000")}})
	if err != nil || balter[0].Err != nil {
		t.Fatalf("alter broker: %v %v", err, balter)
	}
	rcs, _ = adm.DescribeTopicConfigs(ctx, "cfg")
	rc, _ = rcs.On("cfg", nil)
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && (c.MaybeValue() != "7200000" || c.Source != 3) {
			t.Fatalf("retention.ms after dynamic broker default: %q source %d", c.MaybeValue(), c.Source)
		}
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "times", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("times"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 30 {
		r := &kgo.Record{Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{base.Add(-time.Hour), 0},
		{base, 0},
		{base.Add(10 * time.Second), 10},
		{base.Add(10*time.Second + time.Millisecond), 11},
		{base.Add(29 * time.Second), 29},
		{base.Add(time.Hour), 30}, // Kafka answers -1; kadm turns that into the end offset
	} {
		offs, err := adm.ListOffsetsAfterMilli(ctx, tc.at.UnixMilli(), "times")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := offs.Lookup("times", 0)
		if o.Err != nil || o.Offset != tc.want {
			t.Fatalf("offset after %v: %d (%v), want %d", tc.at, o.Offset, o.Err, tc.want)
		}
	}
	start, _ := adm.ListStartOffsets(ctx, "times")
	end, _ := adm.ListEndOffsets(ctx, "times")
	if s, _ := start.Lookup("times", 0); s.Offset != 0 {
		t.Fatalf("start %d", s.Offset)
	}
	if e, _ := end.Lookup("times", 0); e.Offset != 30 {
		t.Fatalf("end %d", e.Offset)
	}
	maxTS, err := adm.ListMaxTimestampOffsets(ctx, "times")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := maxTS.Lookup("times", 0); m.Offset != 29 || m.Timestamp != base.Add(29*time.Second).UnixMilli() {
		t.Fatalf("max timestamp: offset %d ts %d", m.Offset, m.Timestamp)
	}
}

func TestDeleteRecords(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := ctxT(t)
	createTopic(t, adm, "dr", 1, nil)
	cl := tb.client(kgo.DefaultProduceTopic("dr"))
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 6})
	res, err := adm.DeleteRecords(ctx, offsets)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := res.Lookup("dr", 0); r.Err != nil || r.LowWatermark != 6 {
		t.Fatalf("delete records: %+v", r)
	}
	offsets = kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "dr", Partition: 0, At: 11})
	res, _ = adm.DeleteRecords(ctx, offsets)
	if r, _ := res.Lookup("dr", 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete past the high watermark: %v", r.Err)
	}
	got := consumeAll(t, tb, "dr", 4)
	if got[0].Offset != 6 || got[0].Value[0] != 6 {
		t.Fatalf("first record after delete: offset %d", got[0].Offset)
	}
	tb = tb.restart()
	start, _ := tb.admin().ListStartOffsets(ctxT(t), "dr")
	if s, _ := start.Lookup("dr", 0); s.Offset != 6 {
		t.Fatalf("log start offset after restart: %d", s.Offset)
	}
}

func TestDeleteTopicByID(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "by-id", 2, nil)
	id := topicIDOf(t, tb, "by-id")
	cl := tb.client()
	del := func(id [16]byte) int16 {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.SetVersion(6)
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = id
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 5000
		resp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if c := resp.Topics[0].ErrorCode; c != 0 || resp.Topics[0].Topic == nil {
			return c
		}
		if *resp.Topics[0].Topic != "by-id" {
			t.Fatalf("deleted %q", *resp.Topics[0].Topic)
		}
		return 0
	}
	if code := del(id); code != 0 {
		t.Fatalf("delete by ID: code %d", code)
	}
	if code := del(id); code != kerr.UnknownTopicID.Code {
		t.Fatalf("second delete by ID: code %d, want UNKNOWN_TOPIC_ID", code)
	}
	if _, err := os.Stat(filepath.Join(tb.dir, "by-id-0")); !os.IsNotExist(err) {
		t.Fatalf("partition directory still there: %v", err)
	}
}
