package txncoord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/group"
)

// Log is one partition of __transaction_state as the coordinator sees it:
// the same contract as group.Log (the broker serves both with one type).
type Log interface {
	// Append stores recs as one batch without waiting for the followers
	// and returns the offset after it.
	Append(recs []batch.Record) (int64, error)
	// WaitCommitted waits until every record below end is committed,
	// timeout passes or the broker stops leading the partition.
	WaitCommitted(end int64, timeout time.Duration) error
	// Replay calls fn with every record from the log start to its end.
	Replay(fn func(batch.Record) error) error
}

// Partition is a partition of __transaction_state this broker leads.
type Partition struct {
	Log Log
	// Epoch is the partition's leader epoch: the coordinator epoch of the
	// markers of its transactions.
	Epoch int32
}

// Marker is the COMMIT or ABORT of one transaction, to be written to each
// of its partitions.
type Marker struct {
	ProducerID         int64
	ProducerEpoch      int16
	CoordinatorEpoch   int32
	Commit             bool
	TransactionVersion int8
	Partitions         []TopicPartition
}

// Markers writes transaction markers to the partitions' leaders.
type Markers interface {
	// Write sends m to the leader of each of its partitions and returns
	// each partition's error code (0: the marker is on every in-sync
	// replica). A partition missing from the answer is retried.
	Write(ctx context.Context, m Marker) map[TopicPartition]int16
}

// Config is the coordinator's configuration; zero durations take Kafka's
// defaults.
type Config struct {
	MaxTimeout     time.Duration // transaction.max.timeout.ms (15 min)
	IDExpiration   time.Duration // transactional.id.expiration.ms (7 days)
	AbortInterval  time.Duration // transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s)
	ExpiryInterval time.Duration // transaction.remove.expired.transaction.cleanup.interval.ms (1 h)
	WriteTimeout   time.Duration // how long a state change waits for its record to commit (request.timeout.ms, 30 s)
	MarkerRetry    time.Duration // the wait before markers or a completion are retried (Kafka's retry.backoff.ms, 100 ms)
	// EndWait is how long an AddPartitionsToTxn or InitProducerId that
	// finds the transaction's previous end still completing waits for it
	// before answering CONCURRENT_TRANSACTIONS (100 ms; negative: not at
	// all, as Kafka).
	EndWait          time.Duration
	NextProducerID   func(ctx context.Context) (int64, error)
	Markers          Markers
	Now              func() time.Time
	Logger           *slog.Logger
	DisableTimerLoop bool // tests run the timers by hand (AbortTimedOut, ExpireIDs)
}

// Coordinator is the transaction coordinator of one broker.
type Coordinator struct {
	cfg Config

	mu      sync.Mutex
	n       int32                   // partitions of __transaction_state
	parts   map[int32]*txnPartition // loaded
	loading map[int32]bool
	failed  map[int32]error // could not be loaded
	closed  bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// txnPartition is a loaded partition of __transaction_state.
type txnPartition struct {
	index  int32
	log    Log
	epoch  int32
	txns   map[string]*txnMeta
	ctx    context.Context // cancelled at unload: its markers stop
	cancel context.CancelFunc
}

// New returns a coordinator with no partition loaded.
func New(cfg Config) *Coordinator {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MaxTimeout, 15*time.Minute)
	def(&cfg.IDExpiration, 7*24*time.Hour)
	def(&cfg.AbortInterval, 10*time.Second)
	def(&cfg.ExpiryInterval, time.Hour)
	def(&cfg.WriteTimeout, 30*time.Second)
	def(&cfg.MarkerRetry, 100*time.Millisecond)
	if cfg.EndWait == 0 {
		cfg.EndWait = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{cfg: cfg, parts: map[int32]*txnPartition{}, loading: map[int32]bool{}, failed: map[int32]error{}, stop: make(chan struct{})}
	if !cfg.DisableTimerLoop {
		c.wg.Add(1)
		go c.timers()
	}
	return c
}

// Close stops the timers and every marker sender.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	for _, tp := range c.parts {
		tp.cancel()
	}
	c.parts = map[int32]*txnPartition{}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Coordinator) timers() {
	defer c.wg.Done()
	abort := time.NewTicker(c.cfg.AbortInterval)
	expire := time.NewTicker(c.cfg.ExpiryInterval)
	defer abort.Stop()
	defer expire.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-abort.C:
			c.AbortTimedOut()
		case <-expire.C:
			c.ExpireIDs()
		}
	}
}

// PartitionFor is the partition of __transaction_state holding id, as
// Kafka's partitionFor: Utils.abs(id.hashCode) % partitions.
func PartitionFor(id string, partitions int32) int32 { return group.PartitionFor(id, partitions) }

// Sync makes led the partitions of __transaction_state (of n) this broker
// coordinates: the others are unloaded (their transactions answer
// NOT_COORDINATOR, their marker senders stop), a new one, or one led at a
// new epoch, is read back from its log, and its prepared transactions'
// markers are sent. It returns the partitions that could not be read.
func (c *Coordinator) Sync(n int32, led map[int32]Partition) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.n = n
	var load []int32
	for i, tp := range c.parts {
		if p, ok := led[i]; !ok || p.Epoch != tp.epoch || p.Log != tp.log {
			tp.cancel()
			delete(c.parts, i)
		}
	}
	for i := range c.failed {
		if _, ok := led[i]; !ok {
			delete(c.failed, i)
		}
	}
	for i := range led {
		if c.parts[i] == nil {
			load = append(load, i)
			c.loading[i] = true
			delete(c.failed, i)
		}
	}
	c.mu.Unlock()
	sort.Slice(load, func(a, b int) bool { return load[a] < load[b] })
	var errs []error
	for _, i := range load {
		txns, err := replay(led[i].Log)
		c.mu.Lock()
		delete(c.loading, i)
		if err != nil {
			c.failed[i] = err
			c.mu.Unlock()
			errs = append(errs, fmt.Errorf("txncoord: loading partition %d: %w", i, err))
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		tp := &txnPartition{index: i, log: led[i].Log, epoch: led[i].Epoch, txns: txns, ctx: ctx, cancel: cancel}
		c.parts[i] = tp
		for _, m := range txns {
			if m.state == PrepareCommit || m.state == PrepareAbort {
				c.complete(tp, m)
			}
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// replay reads a partition's transactions: the last record of each
// transactional.id wins, a tombstone forgets it.
func replay(l Log) (map[string]*txnMeta, error) {
	txns := map[string]*txnMeta{}
	err := l.Replay(func(r batch.Record) error {
		id, m, err := decodeRecord(r.Key, r.Value)
		switch {
		case errors.Is(err, errSkip):
			return nil
		case err != nil:
			return fmt.Errorf("offset %d: %w", r.Offset, err)
		case m == nil:
			delete(txns, id)
		default:
			txns[id] = m
		}
		return nil
	})
	return txns, err
}

// lookup finds the loaded partition coordinating id. c.mu is held.
func (c *Coordinator) lookup(id string) (*txnPartition, int16) {
	if c.n == 0 {
		return nil, kerr.NotCoordinator.Code
	}
	i := PartitionFor(id, c.n)
	if tp := c.parts[i]; tp != nil {
		return tp, 0
	}
	if c.loading[i] {
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	if c.failed[i] != nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return nil, kerr.NotCoordinator.Code
}

// write appends next as m's state and waits for it to commit, then makes
// it m's state. c.mu is held and is let go while waiting; m is pending
// meanwhile. A partition unloaded meanwhile is NOT_COORDINATOR, and m is
// left as it was, as Kafka's appendTransactionToLog.
func (c *Coordinator) write(tp *txnPartition, m, next *txnMeta) int16 {
	return c.writeRecord(tp, m, encodeValue(next), func() {
		p, sending, changed := m.pending, m.sending, m.changed
		*m = *next
		m.pending, m.sending, m.changed = p, sending, changed
	})
}

func (c *Coordinator) writeRecord(tp *txnPartition, m *txnMeta, value []byte, apply func()) int16 {
	rec := batch.Record{Timestamp: c.cfg.Now().UnixMilli(), Key: encodeKey(m.id), Value: value}
	end, err := tp.log.Append([]batch.Record{rec})
	if err != nil {
		return appendError(err)
	}
	m.pending = true
	c.mu.Unlock()
	err = tp.log.WaitCommitted(end, c.cfg.WriteTimeout)
	c.mu.Lock()
	m.pending = false
	defer m.wake()
	if c.parts[tp.index] != tp {
		return kerr.NotCoordinator.Code
	}
	if err != nil {
		return appendError(err)
	}
	apply()
	return 0
}

// settle waits, with c.mu let go meanwhile, until id's transaction is
// neither pending nor between its end and its completion, for up to
// EndWait, ctx or the partition's unloading: an add or InitProducerId
// sent the moment EndTxn answered — which it does before the markers, as
// Kafka's — then goes on once they are written instead of answering
// CONCURRENT_TRANSACTIONS, which clients retry only after a backoff
// (franz-go and the leader's add of a v2 produce 20 ms or more), so one
// transaction after another is not held to one per backoff. c.mu is held.
func (c *Coordinator) settle(ctx context.Context, id string) {
	if c.cfg.EndWait < 0 {
		return
	}
	var timeout <-chan time.Time
	for {
		tp, code := c.lookup(id)
		if code != 0 {
			return
		}
		m := tp.txns[id]
		ending := m != nil && (m.state == PrepareCommit || m.state == PrepareAbort) && m.sending
		if m == nil || !(m.pending || ending) {
			return
		}
		if timeout == nil {
			t := time.NewTimer(c.cfg.EndWait)
			defer t.Stop()
			timeout = t.C
		}
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		changed := m.changed
		c.mu.Unlock()
		select {
		case <-changed:
			c.mu.Lock()
		case <-timeout:
			c.mu.Lock()
			return
		case <-ctx.Done():
			c.mu.Lock()
			return
		case <-tp.ctx.Done():
			c.mu.Lock()
			return
		}
	}
}

// appendError is the code a failed state write answers, as Kafka's
// appendTransactionToLog maps them: the leadership gone is
// NOT_COORDINATOR (the client looks the coordinator up again), anything
// else COORDINATOR_NOT_AVAILABLE (it retries).
func appendError(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke.Code {
		case kerr.NotLeaderForPartition.Code, kerr.KafkaStorageError.Code, kerr.NotCoordinator.Code:
			return kerr.NotCoordinator.Code
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// InitResult is InitProducerId's answer.
type InitResult struct {
	ProducerID int64
	Epoch      int16
	Code       int16
}

// InitProducerID serves InitProducerId for a transactional.id, as Kafka's
// handleInitProducerId: a new ID gets a producer ID at epoch 0, a known
// one its epoch bumped (fencing the producer before it: an open
// transaction of that producer is aborted first, and this call answers
// CONCURRENT_TRANSACTIONS for the client to retry), a new producer ID
// once the epoch is exhausted. pid/epoch (-1 if not given) are the
// caller's own, to bump after an error (KIP-360).
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, pid int64, epoch int16) InitResult {
	fail := func(code int16) InitResult { return InitResult{-1, -1, code} }
	if id == "" {
		return fail(kerr.InvalidRequest.Code)
	}
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.cfg.MaxTimeout {
		return fail(kerr.InvalidTransactionTimeout.Code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tp, code := c.lookup(id)
	if code != 0 {
		return fail(code)
	}
	m := tp.txns[id]
	if m == nil {
		newID, code := c.newProducerID(ctx)
		if code != 0 {
			return fail(code)
		}
		if tp, code = c.lookup(id); code != 0 {
			return fail(code)
		}
		if m = tp.txns[id]; m == nil {
			now := c.cfg.Now().UnixMilli()
			m = &txnMeta{id: id, producerID: newID, prevProducerID: -1, nextProducerID: -1, epoch: -1, lastEpoch: -1,
				timeoutMs: timeoutMs, state: Empty, partitions: map[TopicPartition]struct{}{}, startMs: -1, updateMs: now}
			tp.txns[id] = m
		}
	}
	c.settle(ctx, id)
	if tp, code = c.lookup(id); code != 0 {
		return fail(code)
	}
	if m = tp.txns[id]; m == nil {
		return fail(kerr.ConcurrentTransactions.Code)
	}
	expected := pid != -1
	switch {
	case m.pending:
		return fail(kerr.ConcurrentTransactions.Code)
	case expected && !m.validProducer(pid, epoch):
		return fail(kerr.ProducerFenced.Code)
	}
	now := c.cfg.Now().UnixMilli()
	switch m.state {
	case PrepareCommit, PrepareAbort:
		return fail(kerr.ConcurrentTransactions.Code)
	case Ongoing:
		// Fence the producer of the open transaction and abort it; the
		// caller retries once it is complete.
		next := m.clone()
		if !epochExhausted(m.epoch) {
			next.epoch++
		}
		next.state, next.updateMs = PrepareAbort, now
		if code := c.write(tp, m, next); code != 0 {
			return fail(code)
		}
		c.complete(tp, m)
		return fail(kerr.ConcurrentTransactions.Code)
	case Empty, CompleteCommit, CompleteAbort:
	default:
		return fail(kerr.InvalidTxnState.Code)
	}
	if expected && pid != m.producerID && pid == m.prevProducerID && m.state == Empty {
		// A retry of the rotation below whose answer was lost.
		return InitResult{m.producerID, m.epoch, 0}
	}
	next := m.clone()
	if epochExhausted(m.epoch) && (!expected || epoch == m.epoch) {
		state := m.state
		newID, code := c.newProducerID(ctx)
		if code != 0 {
			return fail(code)
		}
		if c.parts[tp.index] != tp || m.pending || m.state != state {
			return fail(kerr.ConcurrentTransactions.Code)
		}
		next = m.clone()
		next.prevProducerID = -1
		if expected {
			next.prevProducerID = m.producerID
		}
		next.producerID, next.epoch, next.lastEpoch = newID, 0, -1
	} else {
		switch {
		case !expected:
			next.epoch, next.lastEpoch = m.epoch+1, -1
		case m.epoch == -1 || epoch == m.epoch:
			next.epoch, next.lastEpoch = m.epoch+1, m.epoch
		case epoch == m.lastEpoch:
			// A retry of the bump that already happened.
		default:
			return fail(kerr.ProducerFenced.Code)
		}
	}
	next.timeoutMs, next.state, next.startMs, next.updateMs = timeoutMs, Empty, -1, now
	next.partitions = map[TopicPartition]struct{}{}
	if code := c.write(tp, m, next); code != 0 {
		return fail(code)
	}
	return InitResult{m.producerID, m.epoch, 0}
}

// newProducerID draws a producer ID with c.mu let go meanwhile.
func (c *Coordinator) newProducerID(ctx context.Context) (int64, int16) {
	c.mu.Unlock()
	id, err := c.cfg.NextProducerID(ctx)
	c.mu.Lock()
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return 0, ke.Code
		}
		return 0, kerr.CoordinatorNotAvailable.Code
	}
	return id, 0
}

// check is the common part of AddPartitions, Verify and EndTxn: id's
// transaction, if the caller is its producer at its epoch.
func (c *Coordinator) check(id string, pid int64, epoch int16) (*txnPartition, *txnMeta, int16) {
	tp, code := c.lookup(id)
	if code != 0 {
		return nil, nil, code
	}
	m := tp.txns[id]
	switch {
	case m != nil && m.nextProducerID >= 0 && pid == m.nextProducerID && epoch == 0:
		// The producer ID a v2 end rotates to, before the end completes.
		return nil, nil, kerr.ConcurrentTransactions.Code
	case m == nil || m.producerID != pid:
		return nil, nil, kerr.InvalidProducerIDMapping.Code
	case m.epoch != epoch:
		return nil, nil, kerr.ProducerFenced.Code
	case m.pending, m.state == PrepareCommit, m.state == PrepareAbort:
		return nil, nil, kerr.ConcurrentTransactions.Code
	}
	return tp, m, 0
}

// AddPartitions adds parts to id's transaction, beginning it if none is
// open, as Kafka's handleAddPartitionsToTransaction (once the previous
// transaction's end has completed: settle).
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, parts []TopicPartition) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle(ctx, id)
	tp, m, code := c.check(id, pid, epoch)
	if code != 0 {
		return code
	}
	switch m.state {
	case Ongoing:
		if m.has(parts) {
			return 0
		}
	case Empty, CompleteCommit, CompleteAbort:
	default:
		return kerr.InvalidTxnState.Code
	}
	next := m.clone()
	now := c.cfg.Now().UnixMilli()
	if m.state != Ongoing {
		next.partitions = map[TopicPartition]struct{}{}
		next.startMs = now
	}
	next.state, next.updateMs = Ongoing, now
	for _, p := range parts {
		next.partitions[p] = struct{}{}
	}
	return c.write(tp, m, next)
}

// Verify is AddPartitionsToTxn's verify-only path (KIP-890, v4+): a
// partition's leader asks whether each of parts is in id's open
// transaction before it appends a transactional batch. Each partition not
// in it is INVALID_TXN_STATE; an error about the transaction itself
// answers every partition.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, parts []TopicPartition) map[TopicPartition]int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[TopicPartition]int16, len(parts))
	_, m, code := c.check(id, pid, epoch)
	for _, p := range parts {
		switch {
		case code != 0:
			out[p] = code
		case m.state == Ongoing && m.has([]TopicPartition{p}):
			out[p] = 0
		default:
			out[p] = kerr.InvalidTxnState.Code
		}
	}
	return out
}

// EndResult is EndTxn's answer: the producer ID and epoch the client goes
// on with (v5: bumped by each end).
type EndResult struct {
	ProducerID int64
	Epoch      int16
	Code       int16
}

// EndTxn commits or aborts id's transaction, as Kafka's
// handleEndTransaction: the prepare state is written and answered, the
// markers and the completion follow. v2 (EndTxn v5, KIP-890) bumps the
// producer epoch with each end, and a retry of an end already done (at
// the epoch before) succeeds.
func (c *Coordinator) EndTxn(id string, pid int64, epoch int16, commit, v2 bool) EndResult {
	fail := func(code int16) EndResult { return EndResult{-1, -1, code} }
	c.mu.Lock()
	defer c.mu.Unlock()
	tp, code := c.lookup(id)
	if code != 0 {
		return fail(code)
	}
	m := tp.txns[id]
	if m == nil || m.producerID != pid {
		return fail(kerr.InvalidProducerIDMapping.Code)
	}
	retry := v2 && epoch == m.epoch-1 && (m.state == CompleteCommit || m.state == CompleteAbort || m.state == PrepareCommit || m.state == PrepareAbort)
	if epoch != m.epoch && !retry {
		return fail(kerr.ProducerFenced.Code)
	}
	if m.pending {
		return fail(kerr.ConcurrentTransactions.Code)
	}
	done, prepared := CompleteAbort, PrepareAbort
	if commit {
		done, prepared = CompleteCommit, PrepareCommit
	}
	ok := EndResult{m.producerID, m.epoch, 0}
	switch m.state {
	case Ongoing:
	case done:
		return ok
	case prepared:
		if retry {
			return ok
		}
		return fail(kerr.ConcurrentTransactions.Code)
	case Empty, CompleteCommit, CompleteAbort:
		// v2 lets a producer abort with nothing open (its epoch is bumped).
		if !(v2 && !commit) || retry {
			return fail(kerr.InvalidTxnState.Code)
		}
	default:
		return fail(kerr.InvalidTxnState.Code)
	}
	next := m.clone()
	if v2 && epochExhausted(m.epoch) {
		// KIP-890: the markers take the last epoch and the producer goes on
		// with a new producer ID at epoch 0 once the transaction completes.
		state := m.state
		newID, code := c.newProducerID(context.Background())
		if code != 0 {
			return fail(code)
		}
		if c.parts[tp.index] != tp || m.pending || m.state != state || m.producerID != pid {
			return fail(kerr.ConcurrentTransactions.Code)
		}
		next = m.clone()
		next.nextProducerID = newID
	}
	// The end's version is this transaction's: a producer of the same
	// transactional.id may end with v1 after one that ended with v2.
	next.state, next.updateMs, next.version = prepared, c.cfg.Now().UnixMilli(), 0
	if v2 {
		next.version = 2
		next.epoch = m.epoch + 1
	}
	if code := c.write(tp, m, next); code != 0 {
		return fail(code)
	}
	c.complete(tp, m)
	if m.nextProducerID >= 0 {
		return EndResult{m.nextProducerID, 0, 0}
	}
	return EndResult{m.producerID, m.epoch, 0}
}

// AbortTimedOut aborts every open transaction older than its timeout,
// fencing its producer's epoch, as Kafka's abortTimedOutTransactions (run
// every transaction.abort.timed.out.transaction.cleanup.interval.ms).
func (c *Coordinator) AbortTimedOut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now().UnixMilli()
	cands := c.selectTxns(func(m *txnMeta) bool { return m.state == Ongoing && !m.pending && m.startMs+int64(m.timeoutMs) < now })
	for _, x := range cands {
		if c.parts[x.tp.index] != x.tp || x.m.pending || x.m.state != Ongoing {
			continue
		}
		next := x.m.clone()
		if !epochExhausted(x.m.epoch) {
			next.epoch++
		}
		next.state, next.updateMs = PrepareAbort, now
		c.cfg.Logger.Info("aborting a timed out transaction", "transactional.id", x.m.id, "producer-id", x.m.producerID, "timeout-ms", x.m.timeoutMs)
		if code := c.write(x.tp, x.m, next); code == 0 {
			c.complete(x.tp, x.m)
		}
	}
}

// ExpireIDs forgets (writes a tombstone for) every transactional.id with
// no transaction open that was not used for transactional.id.expiration.ms,
// as Kafka's removeExpiredTransactionalIds.
func (c *Coordinator) ExpireIDs() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now().UnixMilli()
	limit := now - c.cfg.IDExpiration.Milliseconds()
	cands := c.selectTxns(func(m *txnMeta) bool { return expirable(m, limit) })
	for _, x := range cands {
		if c.parts[x.tp.index] != x.tp || x.tp.txns[x.m.id] != x.m || !expirable(x.m, limit) {
			continue
		}
		tp, m := x.tp, x.m
		c.writeRecord(tp, m, nil, func() {
			m.state = Dead
			delete(tp.txns, m.id)
		})
	}
}

func expirable(m *txnMeta, limit int64) bool {
	return !m.pending && (m.state == Empty || m.state == CompleteCommit || m.state == CompleteAbort) && m.updateMs <= limit
}

// candidate is a transaction a timer acts on.
type candidate struct {
	tp *txnPartition
	m  *txnMeta
}

// selectTxns lists the loaded transactions keep selects. c.mu is held;
// the timers let go of it for each write, so they check each again.
func (c *Coordinator) selectTxns(keep func(*txnMeta) bool) []candidate {
	var out []candidate
	for _, tp := range c.parts {
		for _, m := range tp.txns {
			if keep(m) {
				out = append(out, candidate{tp, m})
			}
		}
	}
	return out
}
