package partition

import (
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Role is what this broker is for a partition.
type Role int8

const (
	// RoleNone: opened but given no role yet (or stopped); it takes no
	// produce and serves no consumer.
	RoleNone Role = iota
	// RoleLeader takes produces and serves consumers and followers.
	RoleLeader
	// RoleFollower copies the leader's log.
	RoleFollower
)

func (r Role) String() string {
	switch r {
	case RoleLeader:
		return "leader"
	case RoleFollower:
		return "follower"
	}
	return "none"
}

// DefaultReplicaLagTimeMaxMs is Kafka's replica.lag.time.max.ms: a follower
// not caught up to the leader's log end for this long leaves the ISR.
const DefaultReplicaLagTimeMaxMs = 30000

// ErrStaleEpoch refuses a role change whose leader or partition epoch is
// older than the one the replica already has (Kafka's makeLeader and
// makeFollower skip such a state change).
var ErrStaleEpoch = errors.New("partition: stale leader or partition epoch")

// FollowerState is what a leader knows of one follower (Kafka's
// ReplicaState). Offsets are -1 and times 0 until the follower fetches
// under this leader.
type FollowerState struct {
	ID                          int32
	LogStartOffset              int64
	LogEndOffset                int64
	LastFetchLeaderLogEndOffset int64 // the leader's log end at the follower's last fetch
	LastFetchTimeMs             int64
	LastCaughtUpTimeMs          int64
	BrokerEpoch                 int64 // -1 until a fetch names one
}

// isCaughtUp is Kafka's ReplicaState.isCaughtUp: at the leader's log end,
// or caught up to it within the last lagMs.
func (f *FollowerState) isCaughtUp(leaderEnd, nowMs, lagMs int64) bool {
	return f.LogEndOffset == leaderEnd || nowMs-f.LastCaughtUpTimeMs <= lagMs
}

// AlterPartition is an ISR change the leader asks of the controller (the
// caller sends it; Kafka's AlterPartition request for one partition).
// Until the answer or a metadata change arrives the change is pending: no
// other change is proposed and the high watermark waits for the larger of
// the two ISRs (the "maximal ISR"), so that it is safe whichever wins.
type AlterPartition struct {
	LeaderEpoch    int32
	PartitionEpoch int32 // the partition epoch the change is based on
	ISR            []int32
	BrokerEpochs   []int64 // by ISR position: the epoch each member fetched with (-1 unknown; KIP-903)
	Expand         bool    // adds a replica (else drops lagging ones)
}

// Effects is what an input changed that the caller must act on.
type Effects struct {
	// HighWatermarkMoved: wake what waits on the high watermark.
	HighWatermarkMoved bool
	// Alter is a new ISR change to send to the controller.
	Alter *AlterPartition
	// EpochsChanged: the leader-epoch cache must be checkpointed.
	EpochsChanged bool
}

// Replica is the deterministic core of a partition replica (the state
// Kafka's Partition keeps besides the log): role, leader and partition
// epochs, replicas and ISR, the pending ISR change, what the leader knows
// of each follower, the leader-epoch cache and the high-watermark rule. It
// does no I/O and reads no clock: every input carries the time it happened
// and every output is returned. It is not safe for concurrent use; the
// partition calls it under its lock.
type Replica struct {
	id             int32 // this broker's node ID
	role           Role
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32         // committed ISR; the leader's only
	pending        *AlterPartition // in flight, or nil
	epochStart     int64           // log end when this leader's epoch began; -1 unless leader
	followers      map[int32]*FollowerState

	logStart, logEnd, hw int64

	epochs EpochCache
	// epochUnwritten: the cache gained the entry of a leader epoch that has
	// no record yet. It is checkpointed with the epoch's first append: lost
	// before that, the entry would be dropped at load anyway (it starts at
	// the log end), so a new leader writes no file until it has data.
	epochUnwritten bool
	lagMs          int64
	minISR         int32   // min.insync.replicas
	fenced         []int32 // brokers that are fenced
}

// NewReplica returns the core of a replica with no role, of a log holding
// [logStart, logEnd) with epochs, whose checkpointed high watermark was hw
// (-1 if none; it is bounded by the log).
func NewReplica(id int32, logStart, logEnd, hw int64, epochs []EpochEntry, lagMs int64) *Replica {
	if lagMs <= 0 {
		lagMs = DefaultReplicaLagTimeMaxMs
	}
	r := &Replica{id: id, leader: -1, leaderEpoch: -1, partitionEpoch: -1, epochStart: -1,
		logStart: logStart, logEnd: logEnd, lagMs: lagMs, minISR: 1}
	for _, e := range epochs {
		r.epochs.Assign(e.Epoch, e.StartOffset)
	}
	// As Kafka at load: the cache covers only the log there is.
	r.epochs.TruncateFromEnd(logEnd)
	r.epochs.TruncateFromStart(logStart)
	r.hw = min(max(hw, logStart), logEnd)
	return r
}

// Role, Leader, LeaderEpoch, PartitionEpoch, HighWatermark, LogEndOffset
// and LogStartOffset report the replica's state.
func (r *Replica) Role() Role               { return r.role }
func (r *Replica) Leader() int32            { return r.leader }
func (r *Replica) LeaderEpoch() int32       { return r.leaderEpoch }
func (r *Replica) PartitionEpoch() int32    { return r.partitionEpoch }
func (r *Replica) HighWatermark() int64     { return r.hw }
func (r *Replica) LogEndOffset() int64      { return r.logEnd }
func (r *Replica) LogStartOffset() int64    { return r.logStart }
func (r *Replica) Epochs() *EpochCache      { return &r.epochs }
func (r *Replica) Replicas() []int32        { return slices.Clone(r.replicas) }
func (r *Replica) ISR() []int32             { return slices.Clone(r.isr) }
func (r *Replica) Pending() *AlterPartition { return r.pending }

// SetMinInsyncReplicas sets min.insync.replicas (a topic config that can
// change at any time).
func (r *Replica) SetMinInsyncReplicas(n int32) { r.minISR = n }

// MaximalISR is the ISR the high watermark waits for: the committed ISR,
// plus the replica a pending expansion adds (a pending shrink drops no one
// until it commits).
func (r *Replica) MaximalISR() []int32 {
	if r.pending != nil && r.pending.Expand {
		return union(r.isr, r.pending.ISR)
	}
	return slices.Clone(r.isr)
}

// Follower returns the leader's view of follower id.
func (r *Replica) Follower(id int32) (FollowerState, bool) {
	f := r.followers[id]
	if f == nil {
		return FollowerState{}, false
	}
	return *f, true
}

// stale reports whether a state change of these epochs is older than the
// replica's (Kafka skips a partition epoch below its own).
func (r *Replica) stale(epoch, partitionEpoch int32) bool {
	return partitionEpoch < r.partitionEpoch || epoch < r.leaderEpoch
}

// BecomeLeader makes this broker the leader of epoch (Kafka's makeLeader).
// A new leader epoch starts at the log end: it is assigned in the epoch
// cache and every follower's state is reset (an ISR member counts as
// caught up now, others never). The same epoch again (a newer partition
// epoch: an ISR or replica change) only takes the new replicas and ISR and
// drops a pending ISR change, which the metadata has overtaken.
func (r *Replica) BecomeLeader(nowMs int64, epoch, partitionEpoch int32, replicas, isr []int32) (Effects, error) {
	var fx Effects
	if r.stale(epoch, partitionEpoch) {
		return fx, fmt.Errorf("%w: become leader of epoch %d (partition epoch %d) at epoch %d (partition epoch %d)",
			ErrStaleEpoch, epoch, partitionEpoch, r.leaderEpoch, r.partitionEpoch)
	}
	newEpoch := r.role != RoleLeader || epoch > r.leaderEpoch
	r.role, r.leader, r.leaderEpoch, r.partitionEpoch = RoleLeader, r.id, epoch, partitionEpoch
	r.replicas, r.isr, r.pending = slices.Clone(replicas), slices.Clone(isr), nil
	old := r.followers
	r.followers = make(map[int32]*FollowerState, len(replicas))
	for _, id := range replicas {
		if id == r.id {
			continue
		}
		if f := old[id]; f != nil && !newEpoch {
			r.followers[id] = f
			continue
		}
		f := &FollowerState{ID: id, LogStartOffset: -1, LogEndOffset: -1, LastFetchLeaderLogEndOffset: -1, BrokerEpoch: -1}
		if slices.Contains(isr, id) {
			f.LastCaughtUpTimeMs = nowMs
		}
		r.followers[id] = f
	}
	if newEpoch {
		r.epochStart = r.logEnd
		r.epochUnwritten = r.epochs.Assign(epoch, r.logEnd) || r.epochUnwritten
	}
	fx.HighWatermarkMoved = r.maybeIncrementHW(nowMs)
	return fx, nil
}

// BecomeFollower makes this broker a follower of leader in epoch (Kafka's
// makeFollower): the ISR, the followers' states and any pending change are
// the leader's business and are dropped. The high watermark stays until
// the leader's arrives with the first fetch.
func (r *Replica) BecomeFollower(epoch, partitionEpoch, leader int32, replicas []int32) error {
	if r.stale(epoch, partitionEpoch) {
		return fmt.Errorf("%w: become follower of epoch %d (partition epoch %d) at epoch %d (partition epoch %d)",
			ErrStaleEpoch, epoch, partitionEpoch, r.leaderEpoch, r.partitionEpoch)
	}
	r.role, r.leader, r.leaderEpoch, r.partitionEpoch = RoleFollower, leader, epoch, partitionEpoch
	r.replicas, r.isr, r.pending, r.followers, r.epochStart = slices.Clone(replicas), nil, nil, nil, -1
	return nil
}

// Stop drops the role (the replica is being closed or moved away).
func (r *Replica) Stop() {
	r.role, r.leader, r.isr, r.pending, r.followers, r.epochStart = RoleNone, -1, nil, nil, nil, -1
}

// CheckAppend is the leader's check before appending a produce with acks:
// NOT_LEADER_OR_FOLLOWER on a non-leader, and for acks=all
// NOT_ENOUGH_REPLICAS while the committed ISR is under min.insync.replicas.
func (r *Replica) CheckAppend(acks int16) int16 {
	switch {
	case r.role != RoleLeader:
		return kerr.NotLeaderForPartition.Code
	case acks == -1 && r.underMinISR():
		return kerr.NotEnoughReplicas.Code
	}
	return 0
}

// effectiveMinISR is min.insync.replicas capped at the replication factor
// (Kafka's effectiveMinIsr): a topic of fewer replicas than the setting
// still takes acks=all.
func (r *Replica) effectiveMinISR() int {
	return min(int(r.minISR), max(len(r.replicas), 1))
}

// underMinISR is Kafka's isUnderMinIsr: the committed ISR is smaller than
// the effective min.insync.replicas.
func (r *Replica) underMinISR() bool { return len(r.isr) < r.effectiveMinISR() }

// AppendAsLeader records a local append at nowMs of records of the
// leader's epoch from firstOffset; logEnd is the log end after it.
func (r *Replica) AppendAsLeader(nowMs, firstOffset, logEnd int64) Effects {
	var fx Effects
	fx.EpochsChanged = r.epochs.Assign(r.leaderEpoch, firstOffset) || r.epochUnwritten
	r.epochUnwritten = false
	r.logEnd = logEnd
	fx.HighWatermarkMoved = r.maybeIncrementHW(nowMs)
	return fx
}

// AppendAsFollower records a follower's append of the leader's batches as
// they are: each batch's partition leader epoch starts at its base offset
// in the epoch cache unless it is already there. logEnd is the log end
// after the append.
func (r *Replica) AppendAsFollower(batches []EpochEntry, logEnd int64) Effects {
	var fx Effects
	for _, b := range batches {
		fx.EpochsChanged = r.epochs.Assign(b.Epoch, b.StartOffset) || fx.EpochsChanged
	}
	r.logEnd = logEnd
	return fx
}

// SetLeaderHighWatermark takes the high watermark a follower learnt from
// the leader's fetch response: the follower's is the smaller of it and its
// own log end (Kafka's updateFollowerHighWatermark), never below its log
// start.
func (r *Replica) SetLeaderHighWatermark(leaderHW int64) Effects {
	hw := max(min(leaderHW, r.logEnd), r.logStart)
	moved := hw != r.hw
	r.hw = hw
	return Effects{HighWatermarkMoved: moved}
}

// TruncateTo records that the log was truncated to offset (a follower
// whose log diverged from the leader's): the epoch cache loses the epochs
// starting there or later, and the high watermark is bounded by the new
// log end.
func (r *Replica) TruncateTo(offset int64) Effects {
	var fx Effects
	if offset >= r.logEnd {
		// Nothing to cut, but an entry at the log end (an epoch this
		// replica led without writing) goes, as Kafka's truncateTo drops
		// it: a last fetched epoch its new leader never had would be
		// answered the same diverging epoch for ever.
		fx.EpochsChanged = r.epochs.TruncateFromEnd(r.logEnd)
		return fx
	}
	r.logEnd = offset
	fx.EpochsChanged = r.epochs.TruncateFromEnd(offset)
	if r.hw > offset {
		r.hw, fx.HighWatermarkMoved = offset, true
	}
	return fx
}

// TruncateFullyAndStartAt records that the log was emptied and starts
// again at offset (a follower whose log end the leader's log start passed:
// Kafka's truncateFullyAndStartAt): log start, log end and high watermark
// are offset, and the epoch cache is empty (clearAndFlush), to be filled
// again by the leader's batches.
func (r *Replica) TruncateFullyAndStartAt(offset int64) Effects {
	var fx Effects
	r.logStart, r.logEnd = offset, offset
	fx.EpochsChanged = r.epochs.Clear()
	if r.hw != offset {
		r.hw, fx.HighWatermarkMoved = offset, true
	}
	return fx
}

// SetLogStartOffset records that the log start moved to offset
// (retention, DeleteRecords): the epoch cache drops what lies below it.
func (r *Replica) SetLogStartOffset(offset int64) Effects {
	var fx Effects
	if offset <= r.logStart {
		return fx
	}
	r.logStart = offset
	fx.EpochsChanged = r.epochs.TruncateFromStart(offset)
	if r.hw < offset {
		r.hw, fx.HighWatermarkMoved = offset, true
	}
	return fx
}

// FollowerFetch records a fetch by follower id (Kafka's
// updateFollowerFetchState): it fetched from fetchOffset, its log starting
// at logStart, with brokerEpoch (-1: not given), at nowMs. The follower's
// log end is the fetch offset; it is caught up when the fetch reaches the
// leader's log end, or the leader's log end at its previous fetch. A
// follower out of the ISR that reached the high watermark and the start
// of the leader's epoch is proposed for the ISR; the high watermark moves
// if the ISR allows. A non-leader, an unknown follower and a stale broker
// epoch get NOT_LEADER_OR_FOLLOWER, an offset below the log start or past
// the log end OFFSET_OUT_OF_RANGE (Kafka's read fails before
// updateFollowerFetchState); neither changes anything.
func (r *Replica) FollowerFetch(nowMs int64, id int32, brokerEpoch, fetchOffset, logStart int64) (Effects, int16) {
	var fx Effects
	f := r.followers[id]
	if r.role != RoleLeader || f == nil || (brokerEpoch >= 0 && brokerEpoch < f.BrokerEpoch) {
		return fx, kerr.NotLeaderForPartition.Code
	}
	if fetchOffset < r.logStart || fetchOffset > r.logEnd {
		// The leader's read answers it too; the follower's state must not
		// take an offset the log does not have.
		return fx, kerr.OffsetOutOfRange.Code
	}
	switch {
	case fetchOffset >= r.logEnd:
		f.LastCaughtUpTimeMs = max(f.LastCaughtUpTimeMs, nowMs)
	case fetchOffset >= f.LastFetchLeaderLogEndOffset && f.LastFetchLeaderLogEndOffset >= 0:
		f.LastCaughtUpTimeMs = max(f.LastCaughtUpTimeMs, f.LastFetchTimeMs)
	}
	moved := fetchOffset != f.LogEndOffset
	f.LogStartOffset, f.LogEndOffset = logStart, fetchOffset
	f.LastFetchLeaderLogEndOffset, f.LastFetchTimeMs = r.logEnd, nowMs
	if brokerEpoch >= 0 {
		f.BrokerEpoch = brokerEpoch
	}
	if r.pending == nil && !slices.Contains(r.isr, id) && fetchOffset >= r.hw && fetchOffset >= r.epochStart {
		isr := append(slices.Clone(r.isr), id)
		slices.Sort(isr)
		r.pending = r.proposal(isr, true)
		fx.Alter = r.pending
	}
	if moved || fx.Alter != nil {
		fx.HighWatermarkMoved = r.maybeIncrementHW(nowMs)
	}
	return fx, 0
}

// Tick checks the ISR at nowMs (Kafka's maybeShrinkIsr, run every
// replica.lag.time.max.ms/2): members other than the leader not caught up
// for replica.lag.time.max.ms are proposed out of it, unless a change is
// pending already.
func (r *Replica) Tick(nowMs int64) Effects {
	var fx Effects
	if r.role != RoleLeader {
		return fx
	}
	// A follower out of the ISR holds the high watermark only while it is
	// caught up (shouldWaitForReplicaToJoinIsr); one that stopped fetching
	// moves no fetch to let go of it, so time does. Kafka lets go at once
	// of a fenced one (isReplicaIsrEligible), which this core is not told.
	fx.HighWatermarkMoved = r.maybeIncrementHW(nowMs)
	if r.pending != nil {
		return fx
	}
	isr := slices.DeleteFunc(slices.Clone(r.isr), func(id int32) bool {
		f := r.followers[id]
		return id != r.id && f != nil && !f.isCaughtUp(r.logEnd, nowMs, r.lagMs)
	})
	if len(isr) == len(r.isr) {
		return fx
	}
	r.pending = r.proposal(isr, false)
	fx.Alter = r.pending
	return fx
}

func (r *Replica) proposal(isr []int32, expand bool) *AlterPartition {
	epochs := make([]int64, len(isr))
	for i, id := range isr {
		epochs[i] = -1
		if f := r.followers[id]; f != nil {
			epochs[i] = f.BrokerEpoch
		}
	}
	return &AlterPartition{LeaderEpoch: r.leaderEpoch, PartitionEpoch: r.partitionEpoch, ISR: isr, BrokerEpochs: epochs, Expand: expand}
}

// AlterPartitionResponse applies the controller's answer to the pending
// change: on success the ISR and partition epoch it committed; for
// OPERATION_NOT_ATTEMPTED and INELIGIBLE_REPLICA the change is dropped (a
// later fetch or tick may propose again); any other error leaves it
// pending until the metadata brings the partition's state (a new epoch
// through BecomeLeader), as Kafka does. An answer for no pending change,
// another leader epoch, or a partition epoch not newer than the replica's
// is ignored.
func (r *Replica) AlterPartitionResponse(nowMs int64, code int16, leaderEpoch, partitionEpoch int32, isr []int32) Effects {
	var fx Effects
	if r.role != RoleLeader || r.pending == nil {
		return fx
	}
	if code != 0 {
		if code == kerr.OperationNotAttempted.Code || code == kerr.IneligibleReplica.Code {
			r.pending = nil
			fx.HighWatermarkMoved = r.maybeIncrementHW(nowMs)
		}
		return fx
	}
	if leaderEpoch != r.leaderEpoch || partitionEpoch <= r.partitionEpoch {
		return fx
	}
	r.isr, r.partitionEpoch, r.pending = slices.Clone(isr), partitionEpoch, nil
	fx.HighWatermarkMoved = r.maybeIncrementHW(nowMs)
	return fx
}

// maybeIncrementHW is Kafka 4's maybeIncrementLeaderHW at nowMs: the high
// watermark is the smallest log end of the maximal ISR (the leader's own
// included; a member whose log end is not known yet holds it) and of the
// followers out of it that are caught up (within replica.lag.time.max.ms:
// they are about to join, and would never catch up with a watermark that
// runs ahead of them). It never goes back, and does not move at all while
// the ISR is under min.insync.replicas (KIP-966).
func (r *Replica) maybeIncrementHW(nowMs int64) bool {
	if r.role != RoleLeader || r.underMinISR() {
		return false
	}
	hw := r.logEnd
	maximal := r.MaximalISR()
	for id, f := range r.followers {
		if f.LogEndOffset < hw && (slices.Contains(maximal, id) || f.isCaughtUp(r.logEnd, nowMs, r.lagMs) && !slices.Contains(r.fenced, id)) {
			hw = f.LogEndOffset
		}
	}
	if hw <= r.hw {
		return false
	}
	r.hw = hw
	return true
}

// SetFenced records which brokers are fenced : a
// caught-up follower out of the ISR is waited for only while its broker is
// live, as Kafka's shouldWaitForReplicaToJoinIsr, so that a dead follower
// fenced out of the ISR does not hold the high watermark until it falls
// replica.lag.time.max.ms behind.
func (r *Replica) SetFenced(nowMs int64, fenced []int32) Effects {
	r.fenced = slices.Clone(fenced)
	return Effects{HighWatermarkMoved: r.maybeIncrementHW(nowMs)}
}

// CheckAcks is Kafka's checkEnoughReplicasReachOffset for an acks=all
// produce whose last offset is requiredOffset-1: done once the high
// watermark reaches requiredOffset, then with
// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the maximal ISR is under
// min.insync.replicas; NOT_LEADER_OR_FOLLOWER once the replica is no
// longer leader.
func (r *Replica) CheckAcks(requiredOffset int64) (bool, int16) {
	switch {
	case r.role != RoleLeader:
		return true, kerr.NotLeaderForPartition.Code
	case r.hw < requiredOffset:
		return false, 0
	case len(r.MaximalISR()) < r.effectiveMinISR():
		return true, kerr.NotEnoughReplicasAfterAppend.Code
	}
	return true, 0
}

// union returns the sorted union of a and b.
func union(a, b []int32) []int32 {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
