package broker_test

// Transactions through the clients CI installs (issue 12): each runs the
// same script against a broker — a committed transaction of five records
// c0..c4 and an aborted one of three (a0..a2) to <p>-in, then a
// read-process-write step that consumes <p>-in read_committed as group
// <p>-group, writes each record with "-out" appended to <p>-out and sends
// the consumed offsets to the transaction before committing it — and
// franz-go checks the exact outcome: read_committed sees c0..c4 at 0..4
// in <p>-in and c0-out..c4-out in <p>-out, read_uncommitted also a0..a2
// at 6..8 (5 and 9 are the markers), and the group's committed offset is
// 5, written by the transaction.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnTarget is where a transactional client runs: the bootstrap address
// and a franz-go client option set to check the outcome with.
type txnTarget struct {
	addr string
	adm  *kadm.Client
}

func newTxnTarget(t *testing.T) txnTarget {
	tb := startBroker(t, "", nil)
	return txnTarget{addr: tb.Addr(), adm: tb.admin()}
}

func (tt txnTarget) create(t *testing.T, prefix string) {
	t.Helper()
	for _, topic := range []string{prefix + "-in", prefix + "-out"} {
		createTopic(t, tt.adm, topic, 1, nil)
	}
}

// read returns topic's values and offsets, read from the start to its
// end with the isolation level given.
func (tt txnTarget) read(t *testing.T, topic string, committed bool) (values []string, offsets []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listEnds := tt.adm.ListEndOffsets
	if committed {
		listEnds = tt.adm.ListCommittedOffsets
	}
	ends, err := listEnds(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("%s ends: %v %v", topic, err, ends.Error())
	}
	end := ends[topic][0].Offset
	isolation := kgo.ReadUncommitted()
	if committed {
		isolation = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(tt.addr), kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for next := int64(0); next < end; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: read to %d of %d", topic, next, end)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			if !r.Attrs.IsControl() {
				values = append(values, string(r.Value))
				offsets = append(offsets, r.Offset)
			}
		})
	}
	return values, offsets
}

// check asserts the outcome of a client's script run with prefix.
func (tt txnTarget) check(t *testing.T, prefix string) {
	t.Helper()
	type want struct {
		topic     string
		committed bool
		values    []string
		offsets   []int64
	}
	for _, w := range []want{
		{prefix + "-in", true, []string{"c0", "c1", "c2", "c3", "c4"}, []int64{0, 1, 2, 3, 4}},
		{prefix + "-in", false, []string{"c0", "c1", "c2", "c3", "c4", "a0", "a1", "a2"}, []int64{0, 1, 2, 3, 4, 6, 7, 8}},
		{prefix + "-out", true, []string{"c0-out", "c1-out", "c2-out", "c3-out", "c4-out"}, []int64{0, 1, 2, 3, 4}},
	} {
		values, offsets := tt.read(t, w.topic, w.committed)
		if !slices.Equal(values, w.values) || !slices.Equal(offsets, w.offsets) {
			t.Errorf("%s (read_committed %v): %q at %v, want %q at %v", w.topic, w.committed, values, offsets, w.values, w.offsets)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := tt.adm.FetchOffsets(ctx, prefix+"-group")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(prefix+"-in", 0); !ok || o.Err != nil || o.At != 5 {
		t.Errorf("group %s-group committed %+v, want 5", prefix, o)
	}
}

// TestTransactionsConfluentKafkaPython: init/begin/commit/abort and
// send_offsets_to_transaction through librdkafka.
func TestTransactionsConfluentKafkaPython(t *testing.T) {
	prog := pythonWith(t, "confluent_kafka", "python3-confluent-kafka")
	tt := newTxnTarget(t)
	tt.create(t, "py")
	var res struct{ Client string }
	runClientScript(t, prog, "txn.py", confluentTxn, "", func() {}, &res, tt.addr, "py")
	t.Logf("%s", res.Client)
	tt.check(t, "py")
}

// TestTransactionsKafkaJS: kafkajs transactions and sendOffsets.
func TestTransactionsKafkaJS(t *testing.T) {
	prog := kafkajs(t)
	tt := newTxnTarget(t)
	tt.create(t, "js")
	var res struct{ Client string }
	runClientScript(t, prog, "txn.js", kafkajsPrelude+kafkajsTxn, "", func() {}, &res, tt.addr, "js")
	t.Logf("%s", res.Client)
	tt.check(t, "js")
}

// TestTransactionsSarama: sarama's transactional producer, its
// AddMessageToTxn for the consumed offsets.
func TestTransactionsSarama(t *testing.T) {
	tt := newTxnTarget(t)
	tt.create(t, "sarama")
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Transaction.ID = "sarama-txn"
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Net.MaxOpenRequests = 1
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	p, err := sarama.NewSyncProducer([]string{tt.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	send := func(topic string, values ...string) {
		t.Helper()
		for _, v := range values {
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("send %s: %v", v, err)
			}
		}
	}
	txn := func(end func() error, topic string, values ...string) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		send(topic, values...)
		if err := end(); err != nil {
			t.Fatal(err)
		}
	}
	txn(p.CommitTxn, "sarama-in", "c0", "c1", "c2", "c3", "c4")
	txn(p.AbortTxn, "sarama-in", "a0", "a1", "a2")

	group, err := sarama.NewConsumerGroup([]string{tt.addr}, "sarama-group", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer group.Close()
	h := &saramaTxnHandler{p: p, want: 5, done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{"sarama-in"}, h); err != nil && ctx.Err() == nil {
				h.done <- err
				return
			}
		}
	}()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("sarama group: %d of 5 records", len(h.got))
	}
	cancel()
	tt.check(t, "sarama")
}

// saramaTxnHandler is the read-process-write step: it collects want
// records, then writes them to sarama-out in one transaction with the
// consumed offsets.
type saramaTxnHandler struct {
	p    sarama.SyncProducer
	want int
	got  []*sarama.ConsumerMessage
	done chan error
}

func (h *saramaTxnHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaTxnHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaTxnHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.got = append(h.got, m)
		if len(h.got) < h.want {
			continue
		}
		err := h.p.BeginTxn()
		for _, g := range h.got {
			if err == nil {
				_, _, err = h.p.SendMessage(&sarama.ProducerMessage{Topic: "sarama-out", Partition: 0, Value: sarama.StringEncoder(string(g.Value) + "-out")})
			}
		}
		if err == nil {
			err = h.p.AddMessageToTxn(h.got[len(h.got)-1], "sarama-group", nil)
		}
		if err == nil {
			err = h.p.CommitTxn()
		}
		if err != nil {
			err = fmt.Errorf("read-process-write transaction: %w", err)
		}
		h.done <- err
		return nil
	}
	return nil
}

// confluentTxn is the script for confluent-kafka-python (argv: bootstrap,
// prefix).
const confluentTxn = `
import json, sys
from confluent_kafka import Producer, Consumer, TopicPartition, version, libversion
bootstrap, prefix = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": bootstrap, "transactional.id": prefix + "-txn", "linger.ms": 0})
p.init_transactions(30)
for values, commit in ((["c%d" % i for i in range(5)], True), (["a%d" % i for i in range(3)], False)):
    p.begin_transaction()
    for v in values:
        p.produce(prefix + "-in", value=v.encode(), partition=0)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)

c = Consumer({"bootstrap.servers": bootstrap, "group.id": prefix + "-group", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "isolation.level": "read_committed"})
c.subscribe([prefix + "-in"])
got = []
while len(got) < 5:
    m = c.poll(10)
    if m is None:
        continue
    if m.error():
        raise Exception(m.error())
    got.append(m)
p.begin_transaction()
for m in got:
    p.produce(prefix + "-out", value=m.value() + b"-out", partition=0)
p.send_offsets_to_transaction([TopicPartition(prefix + "-in", 0, got[-1].offset() + 1)], c.consumer_group_metadata(), 30)
p.commit_transaction(30)
c.close()
print(json.dumps({"client": "confluent-kafka-python %s, librdkafka %s" % (version()[0], libversion()[0])}), flush=True)
`

// kafkajsTxn is the script for kafkajs (argv: bootstrap, prefix).
const kafkajsTxn = `
const [bootstrap, prefix] = process.argv.slice(2)
const main = async () => {
  const kafka = newKafka(bootstrap)
  const producer = kafka.producer({ transactionalId: prefix + '-txn', idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  for (const [values, commit] of [[[0, 1, 2, 3, 4].map(i => 'c' + i), true], [[0, 1, 2].map(i => 'a' + i), false]]) {
    const tx = await producer.transaction()
    await tx.send({ topic: prefix + '-in', messages: values.map(value => ({ value, partition: 0 })) })
    await (commit ? tx.commit() : tx.abort())
  }
  const consumer = kafka.consumer({ groupId: prefix + '-group', readUncommitted: false })
  await consumer.connect()
  await consumer.subscribe({ topic: prefix + '-in', fromBeginning: true })
  const got = []
  await new Promise((resolve, reject) => {
    consumer.run({ autoCommit: false, eachMessage: async ({ message }) => {
      got.push(message)
      if (got.length === 5) resolve()
    } }).catch(reject)
  })
  await consumer.stop()
  const tx = await producer.transaction()
  await tx.send({ topic: prefix + '-out', messages: got.map(m => ({ value: m.value.toString() + '-out', partition: 0 })) })
  await tx.sendOffsets({ consumerGroupId: prefix + '-group',
    topics: [{ topic: prefix + '-in', partitions: [{ partition: 0, offset: String(Number(got[4].offset) + 1) }] }] })
  await tx.commit()
  await consumer.disconnect()
  await producer.disconnect()
  console.log(JSON.stringify({ client }))
}
main().catch(fail)
`
