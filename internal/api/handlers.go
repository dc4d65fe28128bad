package api

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/txncoord"
)

// Partitions finds this broker's replicas.
type Partitions interface {
	// Get returns the local replica of topic/partition, or nil.
	Get(topic string, index int32) *partition.Partition
	// Sync waits until this broker has followed the latest metadata image
	// (replicas opened, deleted or moved, offsets of deleted topics gone). It
	// is called after a metadata change made by a request so that the
	// response (and the next request) sees its effects.
	Sync()
	// Offline returns why the local replica of topic/partition could not be
	// opened (it answers KAFKA_STORAGE_ERROR), or nil.
	Offline(topic string, index int32) error
	// CheckCapacity returns a Kafka error (with its message) if n more local
	// partitions would not fit this broker's file-descriptor limit.
	CheckCapacity(n int) error
	// AlterPartition sends the ISR change a follower's fetch made p's
	// leader propose to the controller, without waiting for the answer.
	AlterPartition(p *partition.Partition, a *partition.AlterPartition)
}

// Handlers serves every Kafka API this broker supports.
type Handlers struct {
	NodeID      int32
	Controller  Controller
	Config      *config.Broker
	Partitions  Partitions
	ProducerIDs *txn.IDAllocator
	Sessions    *FetchSessions
	Now         func() time.Time
	Logger      *slog.Logger
	LogDir      string
	// Groups coordinates consumer groups and their committed offsets.
	Groups *group.Coordinator
	// CompleteGroupTxn is called by WriteTxnMarkers once the marker ending
	// producerID's transaction is on partitions (of __consumer_offsets,
	// this broker leading them): the group coordinator makes the
	// producer's pending transactional offset commits there visible
	// (commit) or drops them, as Kafka's
	// groupCoordinator.onTransactionCompleted, before the marker is
	// answered. An error (a *kerr.Error says its code) answers those
	// partitions with it, so the transaction coordinator retries. Nil:
	// nothing to complete.
	CompleteGroupTxn func(producerID int64, partitions []int32, commit bool) error
	// Txns coordinates the transactions whose partition of
	// __transaction_state this broker leads; nil: transactional requests
	// answer COORDINATOR_NOT_AVAILABLE.
	Txns *txncoord.Coordinator
	// CreateTxnTopic creates __transaction_state if it does not exist,
	// as Kafka does at the first FindCoordinator of a transactional.id,
	// and waits until this broker follows it; a *kerr.Error says why not.
	CreateTxnTopic func(ctx context.Context) error
	// TxnProduce is the produce path's check of a transactional batch of
	// producer pid at epoch for topic/partition (KIP-890's verification,
	// Kafka's AddPartitionsToTxnManager): with add (Produce v12+,
	// transactions v2) the partition joins the transaction, otherwise it
	// must be in it. It asks the transaction's coordinator, here or over
	// the network, and returns the code the produce answers (0: append).
	TxnProduce func(ctx context.Context, id string, pid int64, epoch int16, topic string, partition int32, add bool) int16

	// Authenticator runs SASL exchanges; nil: no listener uses SASL.
	Authenticator Authenticator

	authFailures failures
	acls         aclFollower
	once         sync.Once
	table        [maxKey + 1]*entry

	topics        atomic.Pointer[groupTopics] // see groupTopics
	topicsVersion atomic.Uint64
	storageErrors storageErrorLog
}

// entry is one row of the handler table.
type entry struct {
	key      int16
	min, max int16
	serve    func(h *Handlers, ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

const maxKey = 100

// handle adapts a typed handler to the table's signature.
func handle[Req kmsg.Request, Resp kmsg.Response](fn func(h *Handlers, ctx context.Context, req Req) (Resp, error)) func(*Handlers, context.Context, kmsg.Request) (kmsg.Response, error) {
	return func(h *Handlers, ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
		resp, err := fn(h, ctx, req.(Req))
		if err != nil {
			return nil, err
		}
		var zero Resp
		if any(resp) == any(zero) {
			return nil, nil
		}
		return resp, nil
	}
}

// table lists every API we serve with the versions we serve. Minimums are
// Kafka 3.9's: Kafka 4 removed many old versions (KIP-896), and the
// tools that still send them (Burrow, old sarama, kafka-python) work
// here. Produce v0-v2 and Fetch v0-v3 carry message formats 0 and 1,
// converted to and from v2 batches as Kafka 3.x did.
func table() []entry {
	return []entry{
		{0, 0, 12, handle(produce)},
		{1, 0, 16, handle(fetch)},
		{2, 0, 9, handle(listOffsets)},
		{3, 0, 12, handle(metadataHandler)},
		{8, 0, 10, handle(offsetCommit)},
		{9, 0, 10, handle(offsetFetch)},
		{10, 0, 6, handle(findCoordinator)},
		{11, 0, 9, handle(joinGroup)},
		{12, 0, 4, handle(heartbeat)},
		{13, 0, 5, handle(leaveGroup)},
		{14, 0, 5, handle(syncGroup)},
		{15, 0, 6, handle(describeGroups)},
		{16, 0, 5, handle(listGroups)},
		{17, 1, 1, handle(saslHandshake)},
		{18, 0, 4, handle(apiVersions)},
		{19, 0, 7, handle(createTopics)},
		{20, 0, 6, handle(deleteTopics)},
		{21, 0, 2, handle(deleteRecords)},
		{22, 0, 5, handle(initProducerID)},
		{23, 0, 4, handle(offsetForLeaderEpoch)},
		{24, 0, 5, handle(addPartitionsToTxn)},
		{25, 0, 4, handle(addOffsetsToTxn)},
		{26, 0, 5, handle(endTxn)},
		{27, 1, 2, handle(writeTxnMarkers)},
		{28, 0, 5, handle(txnOffsetCommit)},
		{29, 0, 3, handle(describeACLs)},
		{30, 0, 3, handle(createACLs)},
		{31, 0, 3, handle(deleteACLs)},
		{32, 0, 4, handle(describeConfigs)},
		{33, 0, 2, handle(alterConfigs)},
		{35, 0, 4, handle(describeLogDirs)},
		{36, 0, 2, handle(saslAuthenticate)},
		{37, 0, 3, handle(createPartitions)},
		{42, 0, 2, handle(deleteGroups)},
		{43, 0, 2, handle(electLeaders)},
		{44, 0, 1, handle(incrementalAlterConfigs)},
		{45, 0, 1, handle(alterPartitionReassignments)},
		{46, 0, 0, handle(listPartitionReassignments)},
		{47, 0, 0, handle(offsetDelete)},
		{50, 0, 0, handle(describeUserScramCredentials)},
		{51, 0, 0, handle(alterUserScramCredentials)},
		{55, 0, 2, handle(describeQuorum)},
		{60, 0, 2, handle(describeCluster)},
		{61, 0, 0, handle(describeProducers)},
		{65, 0, 0, handle(describeTransactions)},
		{66, 0, 1, handle(listTransactions)},
		{68, 0, 1, handle(consumerGroupHeartbeat)},
		{69, 0, 1, handle(consumerGroupDescribe)},
		{75, 0, 0, handle(describeTopicPartitions)},
		{80, 0, 1, handle(addRaftVoter)},
		{81, 0, 0, handle(removeRaftVoter)},
	}
}

func (h *Handlers) init() {
	h.once.Do(func() {
		for _, e := range table() {
			e := e
			h.table[e.key] = &e
		}
		if h.Now == nil {
			h.Now = time.Now
		}
		if h.Logger == nil {
			h.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Serve implements server.Handler.
func (h *Handlers) Serve(ctx context.Context, c *server.Conn, hdr server.Header, body []byte) (kmsg.Response, error) {
	h.init()
	var e *entry
	if hdr.Key >= 0 && hdr.Key <= maxKey {
		e = h.table[hdr.Key]
	}
	if hdr.Key == 18 && (hdr.Version < e.min || hdr.Version > e.max) {
		// KIP-511: answer an ApiVersions we cannot parse with a v0 body that
		// carries UNSUPPORTED_VERSION and the APIs we serve.
		return h.unsupportedAPIVersions(), nil
	}
	if c != nil {
		if err := h.admit(c, hdr.Key); err != nil {
			return nil, err
		}
	}
	if e == nil {
		return nil, fmt.Errorf("api: unsupported key %d", hdr.Key)
	}
	if hdr.Version < e.min || hdr.Version > e.max {
		return nil, fmt.Errorf("api: unsupported version %d of key %d", hdr.Version, hdr.Key)
	}
	req := kmsg.RequestForKey(hdr.Key)
	req.SetVersion(hdr.Version)
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("api: decoding key %d v%d: %w", hdr.Key, hdr.Version, err)
	}
	ctx = withClient(ctx, c, hdr)
	deny, after := h.authorize(ctx, hdr.Key, req)
	resp := deny
	if deny == nil {
		var err error
		if resp, err = e.serve(h, ctx, req); err != nil {
			return nil, err
		}
		if after != nil && resp != nil {
			after(resp)
		}
	}
	if resp == nil {
		return nil, nil
	}
	resp.SetVersion(hdr.Version)
	return resp, nil
}

// image is the latest metadata.
func (h *Handlers) image() *metadata.Image { return h.Controller.Image() }
