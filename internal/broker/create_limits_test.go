package broker_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCreateMillionPartitionsRefused is issue 9's brick: one CreateTopics
// (or CreatePartitions) asking for 1,000,000 partitions used to create
// directories until the descriptors ran out and write a 92 MB metadata record
// that no later start could read. Kafka's controller refuses the request up
// front; so must we, and the broker must keep serving and restart.
func TestCreateMillionPartitionsRefused(t *testing.T) {
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	ctx := ctxT(t)

	resp, _ := adm.CreateTopic(ctx, 1_000_000, 1, nil, "huge") // the error is resp.Err
	if !errors.Is(resp.Err, kerr.PolicyViolation) || resp.ErrMessage != "Excessively large number of partitions per request." {
		t.Fatalf("1,000,000 partitions: %v %q", resp.Err, resp.ErrMessage)
	}

	// The limit is on the request, not the topic: 5,000 + 5,001 is refused
	// for both topics, a repeated name keeps its own error.
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10_000
	for _, tc := range []struct {
		name string
		n    int32
	}{{"half-a", 5000}, {"half-b", 5001}, {"twice", 1}, {"twice", 1}} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.name, tc.n, 1
		req.Topics = append(req.Topics, rt)
	}
	cresp, err := req.RequestWith(ctx, tb.client())
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range cresp.Topics {
		want := kerr.PolicyViolation.Code
		if st.Topic == "twice" {
			want = kerr.InvalidRequest.Code
		}
		if st.ErrorCode != want {
			t.Errorf("topic %d %s: error %d, want %d", i, st.Topic, st.ErrorCode, want)
		}
	}

	// Exactly the limit passes validation (creating 10,000 partitions here
	// would only measure the disk).
	vresp, err := adm.ValidateCreateTopics(ctx, 10_000, 1, nil, "edge")
	if err != nil || vresp["edge"].Err != nil {
		t.Fatalf("validate 10,000: %v %v", err, vresp["edge"].Err)
	}
	if vresp, _ = adm.ValidateCreateTopics(ctx, 10_001, 1, nil, "edge"); !errors.Is(vresp["edge"].Err, kerr.PolicyViolation) {
		t.Fatalf("validate 10,001: %v", vresp["edge"].Err)
	}

	createTopic(t, adm, "small", 2, nil)
	presp, err := adm.UpdatePartitions(ctx, 1_000_000, "small")
	if err != nil {
		t.Fatal(err)
	}
	if r := presp["small"]; !errors.Is(r.Err, kerr.PolicyViolation) || r.ErrMessage != "Unable to perform excessively large batch operation." {
		t.Fatalf("CreatePartitions to 1,000,000: %v %q", r.Err, r.ErrMessage)
	}
	if presp, err = adm.UpdatePartitions(ctx, 3, "small"); err != nil || presp["small"].Err != nil {
		t.Fatalf("CreatePartitions to 3: %v %v", err, presp["small"].Err)
	}

	// Nothing of the refused requests reached the disk or the metadata.
	for _, name := range []string{"huge", "half-a", "half-b", "edge"} {
		if dirs, _ := filepath.Glob(filepath.Join(tb.dir, name+"-*")); len(dirs) != 0 {
			t.Errorf("%s: %d partition directories on disk", name, len(dirs))
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join(tb.dir, "small-*")); len(dirs) != 3 {
		t.Errorf("small: %d partition directories, want 3", len(dirs))
	}

	// Still serving, and after a restart too.
	produceAndRead := func(tb *testBroker, value string, n int) {
		t.Helper()
		cl := tb.client(kgo.DefaultProduceTopic("small"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 2, Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs := consumeAll(t, tb, "small", n)
		if got := string(recs[n-1].Value); got != value {
			t.Fatalf("last record %q, want %q", got, value)
		}
	}
	produceAndRead(tb, "before", 1)
	tb = tb.restart()
	topics, err := tb.admin().ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics["small"].Partitions) != 3 || topics.Has("huge") || topics.Has("half-a") {
		t.Fatalf("after restart: %v, small has %d partitions", topics.Names(), len(topics["small"].Partitions))
	}
	produceAndRead(tb, "after", 2)
	if _, err := os.Stat(filepath.Join(tb.dir, "__metadata")); err != nil {
		t.Fatal(err)
	}
}
