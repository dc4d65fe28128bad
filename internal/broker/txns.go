package broker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/api"
	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/txncoord"
)

// newTxns builds the transaction coordinator, with no partition of
// __transaction_state loaded: the metadata deltas load them (followTxns).
func (b *Broker) newTxns(s config.Static, ids *txn.IDAllocator) *txncoord.Coordinator {
	t := s.Txn
	return txncoord.New(txncoord.Config{
		MaxTimeout:     t.MaxTimeout,
		IDExpiration:   t.IDExpiration,
		AbortInterval:  t.AbortInterval,
		ExpiryInterval: t.ExpiryInterval,
		NextProducerID: ids.Next,
		Markers:        markerSender{b},
		Logger:         b.logger,
	})
}

// createTxnTopic creates __transaction_state (Handlers.CreateTxnTopic):
// transaction.state.log.num.partitions partitions, compacted, of
// transaction.state.log.replication.factor replicas (fewer in a cluster of
// fewer brokers, as __consumer_offsets) with min.insync.replicas
// transaction.state.log.min.isr (at most the replicas), as Kafka's
// TransactionStateManager.transactionTopicConfigs. Too few live brokers
// answer COORDINATOR_NOT_AVAILABLE, which clients retry.
func (b *Broker) createTxnTopic(ctx context.Context) error {
	b.txnTopicMu.Lock()
	defer b.txnTopicMu.Unlock()
	if b.controller.Image().Topics[api.TxnTopic] != nil {
		return nil
	}
	s := b.handlers.Config.Static()
	rf, ok := b.internalReplicationFactor(s, api.TxnTopic, "transaction.state.log.replication.factor", s.Txn.TopicReplicationFactor)
	if !ok {
		return fmt.Errorf("broker: creating %s: transaction.state.log.replication.factor is %d, but only %d brokers are live: %w",
			api.TxnTopic, s.Txn.TopicReplicationFactor, len(b.controller.Image().LiveBrokers()), kerr.CoordinatorNotAvailable)
	}
	configs := map[string]string{
		"cleanup.policy":      "compact",
		"segment.bytes":       strconv.Itoa(int(s.Txn.TopicSegmentBytes)),
		"min.insync.replicas": strconv.Itoa(int(min(s.Txn.TopicMinISR, int32(rf)))),
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := b.controller.CreateTopic(ctx, api.TxnTopic, s.Txn.TopicNumPartitions, rf, configs); err != nil &&
		!kerr.IsRetriable(err) && b.controller.Image().Topics[api.TxnTopic] == nil {
		if ke, ok := err.(*kerr.Error); !ok || ke != kerr.TopicAlreadyExists {
			return fmt.Errorf("broker: creating %s: %w", api.TxnTopic, err)
		}
	}
	b.partitions.Sync()
	return nil
}

// followTxns is the transaction coordinator's part of following a
// metadata delta: it loads the __transaction_state partitions this broker
// now leads (at their leader epoch) and unloads the others.
func (b *Broker) followTxns(d metadata.Delta, next *metadata.Image) {
	if d.Touches(api.TxnTopic) {
		if err := b.syncTxns(next); err != nil {
			b.logger.Error("loading transaction coordinator state", "err", err)
		}
	}
}

// syncTxns hands the coordinator the __transaction_state partitions this
// broker leads in img.
func (b *Broker) syncTxns(img *metadata.Image) error {
	t := img.Topics[api.TxnTopic]
	if t == nil {
		return b.txns.Sync(0, nil)
	}
	led := make(map[int32]txncoord.Partition)
	for i, mp := range t.Partitions {
		if mp.Leader != b.partitions.nodeID {
			continue
		}
		if p := b.partitions.Get(api.TxnTopic, int32(i)); p != nil {
			led[int32(i)] = txncoord.Partition{Log: txnStateLog{offsetsLog{p}}, Epoch: mp.LeaderEpoch}
		}
	}
	return b.txns.Sync(int32(len(t.Partitions)), led)
}

// txnStateLog is a __transaction_state partition as the transaction
// coordinator sees it: offsetsLog's appends and waits, and a replay of
// its records alone (the topic holds no producer's batches).
type txnStateLog struct{ offsetsLog }

func (l txnStateLog) Replay(fn func(batch.Record) error) error {
	return l.offsetsLog.Replay(func(r batch.Record, info group.BatchInfo) error {
		if info.Control {
			return nil
		}
		return fn(r)
	})
}

// markerSender sends WriteTxnMarkers requests to the partitions' leaders
// over the Kafka protocol, this broker included, as Kafka's
// TransactionMarkerChannelManager: one request per leader.
type markerSender struct{ b *Broker }

// markerRequestTimeout bounds one WriteTxnMarkers request; the leader
// waits up to 30 s for its ISR.
const markerRequestTimeout = 40 * time.Second

func (s markerSender) Write(ctx context.Context, m txncoord.Marker) map[txncoord.TopicPartition]int16 {
	img := s.b.controller.Image()
	out := make(map[txncoord.TopicPartition]int16, len(m.Partitions))
	byLeader := map[int32][]txncoord.TopicPartition{}
	for _, p := range m.Partitions {
		t := img.Topics[p.Topic]
		if t == nil || p.Partition < 0 || int(p.Partition) >= len(t.Partitions) {
			// The topic was deleted: nothing is left to mark, as Kafka's
			// coordinator drops the markers of a partition with no topic.
			s.b.logger.Info("dropping the transaction marker of a deleted partition", "topic", p.Topic, "partition", p.Partition, "producer-id", m.ProducerID)
			out[p] = 0
			continue
		}
		if l := t.Partitions[p.Partition].Leader; l >= 0 {
			byLeader[l] = append(byLeader[l], p)
		}
	}
	for leader, parts := range byLeader {
		br, ok := img.Brokers[leader]
		if !ok {
			continue
		}
		req := kmsg.NewPtrWriteTxnMarkersRequest()
		rm := kmsg.NewWriteTxnMarkersRequestMarker()
		rm.ProducerID, rm.ProducerEpoch, rm.Committed = m.ProducerID, m.ProducerEpoch, m.Commit
		rm.CoordinatorEpoch, rm.TransactionVersion = m.CoordinatorEpoch, m.TransactionVersion
		for _, p := range parts {
			if n := len(rm.Topics); n > 0 && rm.Topics[n-1].Topic == p.Topic {
				rm.Topics[n-1].Partitions = append(rm.Topics[n-1].Partitions, p.Partition)
				continue
			}
			rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			rt.Topic, rt.Partitions = p.Topic, []int32{p.Partition}
			rm.Topics = append(rm.Topics, rt)
		}
		req.Markers = append(req.Markers, rm)
		rctx, cancel := context.WithTimeout(ctx, markerRequestTimeout)
		resp, err := s.b.peers.request(rctx, net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))), req)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.b.logger.Debug("sending transaction markers", "leader", leader, "err", err)
			}
			continue
		}
		for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
			for _, rt := range rm.Topics {
				for _, rp := range rt.Partitions {
					out[txncoord.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = rp.ErrorCode
				}
			}
		}
	}
	return out
}

// txnProduce is Handlers.TxnProduce: the transaction's coordinator checks
// (or, add, adds) the partition, here if this broker coordinates it, else
// over AddPartitionsToTxn v5, as Kafka's AddPartitionsToTxnManager. Its
// answer maps to the produce's as Kafka's: PRODUCER_FENCED is
// INVALID_PRODUCER_EPOCH (what older producers expect), and a coordinator
// that is moving or busy NOT_ENOUGH_REPLICAS, which the producer retries.
// An add (transactions v2) that meets CONCURRENT_TRANSACTIONS — the
// producer's previous transaction still writing its markers, as it does
// right after EndTxn answered — is asked again every
// add.partitions.to.txn.retry.backoff.ms for up to
// add.partitions.to.txn.retry.backoff.max.ms, as Kafka's ReplicaManager:
// answered NOT_ENOUGH_REPLICAS at once, franz-go retries the batch only
// after a metadata refresh, which its metadata.max.age bounds to one per
// 5 s, and every transaction that follows another stalled that long.
func (b *Broker) txnProduce(ctx context.Context, id string, pid int64, epoch int16, topic string, partition int32, add bool) int16 {
	tp := txncoord.TopicPartition{Topic: topic, Partition: partition}
	deadline := time.Now().Add(b.txnAdd.max)
	for {
		code := b.txnProduceOnce(ctx, id, pid, epoch, tp, add)
		if code != kerr.ConcurrentTransactions.Code || !add || b.txnAdd.backoff <= 0 || time.Now().Add(b.txnAdd.backoff).After(deadline) {
			return produceTxnCode(code)
		}
		select {
		case <-ctx.Done():
			return produceTxnCode(code)
		case <-time.After(b.txnAdd.backoff):
		}
	}
}

func (b *Broker) txnProduceOnce(ctx context.Context, id string, pid int64, epoch int16, tp txncoord.TopicPartition, add bool) int16 {
	var code int16
	if add {
		code = b.txns.AddPartitions(ctx, id, pid, epoch, []txncoord.TopicPartition{tp})
	} else {
		code = b.txns.Verify(id, pid, epoch, []txncoord.TopicPartition{tp})[tp]
	}
	if code == kerr.NotCoordinator.Code {
		code = b.remoteTxnProduce(ctx, id, pid, epoch, tp, add)
	}
	return code
}

// produceTxnCode is the coordinator's answer as the produce's.
func produceTxnCode(code int16) int16 {
	switch code {
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch.Code
	case kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code:
		return kerr.NotEnoughReplicas.Code
	}
	return code
}

// remoteTxnProduce asks the leader of the transaction's partition of
// __transaction_state.
func (b *Broker) remoteTxnProduce(ctx context.Context, id string, pid int64, epoch int16, tp txncoord.TopicPartition, add bool) int16 {
	img := b.controller.Image()
	t := img.Topics[api.TxnTopic]
	if t == nil || len(t.Partitions) == 0 {
		return kerr.CoordinatorNotAvailable.Code
	}
	leader := t.Partitions[txncoord.PartitionFor(id, int32(len(t.Partitions)))].Leader
	br, ok := img.Brokers[leader]
	if !ok || leader == b.partitions.nodeID {
		return kerr.CoordinatorNotAvailable.Code
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = id, pid, epoch, !add
	rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
	tx.Topics = append(tx.Topics, rt)
	req.Transactions = append(req.Transactions, tx)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := b.peers.request(rctx, net.JoinHostPort(br.Host, strconv.Itoa(int(br.Port))), req)
	if err != nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	r := resp.(*kmsg.AddPartitionsToTxnResponse)
	if r.ErrorCode != 0 {
		return r.ErrorCode
	}
	for _, rtx := range r.Transactions {
		for _, rt := range rtx.Topics {
			for _, rp := range rt.Partitions {
				if rt.Topic == tp.Topic && rp.Partition == tp.Partition {
					return rp.ErrorCode
				}
			}
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// peerClients are this broker's Kafka clients of other brokers (and of
// itself), one per address, for the coordinator's inter-broker requests.
type peerClients struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	opts    []kgo.Opt // the inter-broker SASL login
	mu      sync.Mutex
	clients map[string]*kgo.Client
	closed  bool
}

func (p *peerClients) request(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("broker: peer clients closed")
	}
	cl := p.clients[addr]
	if cl == nil {
		opts := append([]kgo.Opt{kgo.SeedBrokers(addr)}, p.opts...)
		if p.dial != nil {
			opts = append(opts, kgo.Dialer(p.dial))
		}
		var err error
		if cl, err = kgo.NewClient(opts...); err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("broker: client of %s: %w", addr, err)
		}
		if p.clients == nil {
			p.clients = map[string]*kgo.Client{}
		}
		p.clients[addr] = cl
	}
	p.mu.Unlock()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

func (p *peerClients) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, cl := range p.clients {
		cl.Close()
	}
	p.clients = nil
}
