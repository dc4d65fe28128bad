package quorum

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// TestPartitionLimits checks Kafka's per-operation cap at the controller,
// whatever the handler did.
func TestPartitionLimits(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	register(t, c, 1)
	_, err := c.CreateTopic(ctx(t), "huge", 1_000_000, 1, nil)
	if !errors.Is(err, ErrTooManyPartitions) || err.Error() != "Excessively large number of partitions per request." {
		t.Fatalf("1,000,000 partitions: %v", err)
	}
	wantKerr(t, err, kerr.PolicyViolation)
	if _, err := c.CreateTopic(ctx(t), "t", 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	err = c.CreatePartitions(ctx(t), "t", 1+MaxPartitionsPerRequest+1)
	if !errors.Is(err, ErrTooLargeBatch) {
		t.Fatalf("CreatePartitions over the limit: %v", err)
	}
	wantKerr(t, err, kerr.PolicyViolation)
	if got := len(c.Image().Topics["t"].Partitions); got != 1 || c.Image().Topics["huge"] != nil {
		t.Fatalf("refused requests changed the image: t has %d partitions", got)
	}
}

// TestLargestRecordWithinLimit measures the record of the largest topic one
// request may create, with three replicas: it must fit maxRecordBytes with
// room to spare.
func TestLargestRecordWithinLimit(t *testing.T) {
	id := metadata.NewTopicID()
	rec := metadata.CreateTopic{
		Name:       strings.Repeat("t", 249),
		ID:         id,
		Partitions: place([]metadata.Broker{{ID: 1000}, {ID: 1001}, {ID: 1002}}, id, 0, MaxPartitionsPerRequest, 3),
	}
	data, err := metadata.EncodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CreateTopic of %d partitions x 3 replicas: %d bytes (limit %d)", MaxPartitionsPerRequest, len(data), maxRecordBytes)
	if len(data) > maxRecordBytes/2 {
		t.Fatalf("%d bytes: the record limit leaves too little room", len(data))
	}
}

// TestOversizedRecordRefused: a record larger than the log can read back is
// refused before raft sees it, the quorum keeps working, and a restart reads
// the log. Before the check, a 92 MB record made every start fail with raft-wal's
// "frame header indicates a record larger than MaxEntrySize".
func TestOversizedRecordRefused(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	register(t, c, 1)
	big := strings.Repeat("x", maxRecordBytes)
	err := c.AlterBrokerConfigs(ctx(t), map[string]string{"huge": big}, nil)
	wantKerr(t, err, kerr.PolicyViolation)
	if !strings.Contains(err.Error(), "larger than the metadata log's limit") {
		t.Fatalf("message %q", err)
	}
	if err := c.AlterBrokerConfigs(ctx(t), map[string]string{"small": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	defer c.Close()
	if cfg := c.Image().BrokerConfigs; cfg["small"] != "1" || cfg["huge"] != "" {
		t.Fatalf("after restart: %v", cfg)
	}
}
