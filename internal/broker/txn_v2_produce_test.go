package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// TestTxnV2ProduceAfterEnd: a transactions-v2 producer's first produce
// of its next transaction, sent the moment EndTxn v5 answers (the
// previous transaction's markers still being written, so the coordinator
// answers the produce's implicit add with CONCURRENT_TRANSACTIONS), is
// retried by the partition leader (add.partitions.to.txn.retry.backoff.ms)
// and appended, as Kafka's ReplicaManager does — not answered with a
// retriable error, which franz-go retries only after a metadata refresh,
// 5 s later. Ten transactions in a row, each produce answered 0.
func TestTxnV2ProduceAfterEnd(t *testing.T) {
	tb := startBroker(t, t.TempDir(), map[string]string{"add.partitions.to.txn.retry.backoff.max.ms": "30000"})
	createTopic(t, tb.admin(), "v2", 1, nil)
	cl := tb.client()
	const id = "v2-txn"
	var pid int64
	var epoch int16
	for deadline := time.Now().Add(30 * time.Second); ; {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
		resp, err := req.RequestWith(ctxT(t), cl)
		if err == nil && resp.ErrorCode == 0 {
			pid, epoch = resp.ProducerID, resp.ProducerEpoch
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("InitProducerId: %v, %+v", err, resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var offsets []int64
	for i := range 10 {
		records := batch.Build(batch.BuildOptions{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 0, Transactional: true},
			[]batch.Record{{Value: []byte{byte('a' + i)}, Timestamp: time.Now().UnixMilli()}})
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.TransactionID, req.Acks, req.TimeoutMillis = 12, kmsg.StringPtr(id), -1, 30000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "v2"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		presp, err := req.RequestWith(ctxT(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if p := presp.Topics[0].Partitions[0]; p.ErrorCode != 0 {
			t.Fatalf("transaction %d: produce v12 at epoch %d right after the previous EndTxn: %v", i, epoch, kerr.ErrorForCode(p.ErrorCode))
		} else {
			offsets = append(offsets, p.BaseOffset)
		}
		end := kmsg.NewPtrEndTxnRequest()
		end.Version, end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = 5, id, pid, epoch, true
		eresp, err := end.RequestWith(ctxT(t), cl)
		if err != nil || eresp.ErrorCode != 0 {
			t.Fatalf("transaction %d: EndTxn v5: %v, %+v", i, err, eresp)
		}
		pid, epoch = eresp.ProducerID, eresp.ProducerEpoch
	}
	for i, o := range offsets {
		if o != int64(2*i) {
			t.Fatalf("base offsets %v, want every other offset (a record, its marker)", offsets)
		}
	}
}
