package metadata

import (
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Result is what applying one record returns to its proposer.
type Result struct {
	// Err is the Kafka error that rejected the record, or nil. A rejected
	// record leaves the image unchanged.
	Err *kerr.Error
	// FirstProducerID is the first ID of the block reserved by an
	// AllocateProducerIDs record.
	FirstProducerID int64
	// BrokerEpoch is the epoch of the broker a RegisterBroker record
	// registered.
	BrokerEpoch int64
	// Index is the Raft index the record was applied at: set by the
	// quorum that proposed it, not by Apply.
	Index uint64
}

// Apply returns the image after applying r at Raft index index, and the result
// for the proposer. It is deterministic (see the package doc) and never mutates
// img: when r is rejected, or changes nothing, it returns img itself.
func (img *Image) Apply(index uint64, r Record) (*Image, Result) {
	switch r := r.(type) {
	case SetClusterID:
		return img.applySetClusterID(index, r)
	case RegisterBroker:
		return img.applyRegisterBroker(index, r)
	case CreateTopic:
		return img.applyCreateTopic(index, r)
	case DeleteTopic:
		return img.applyDeleteTopic(index, r)
	case CreatePartitions:
		return img.applyCreatePartitions(index, r)
	case AlterTopicConfigs:
		return img.applyAlterTopicConfigs(index, r)
	case AlterBrokerConfigs:
		return img.applyAlterBrokerConfigs(index, r)
	case AllocateProducerIDs:
		return img.applyAllocateProducerIDs(index, r)
	case FenceBroker:
		return img.applyFence(index, r.ID, r.Epoch, true)
	case UnfenceBroker:
		return img.applyFence(index, r.ID, r.Epoch, false)
	case AlterPartition:
		return img.applyAlterPartition(index, r)
	case AlterPartitionReassignment:
		return img.applyAlterPartitionReassignment(index, r)
	case ElectLeader:
		return img.applyElectLeader(index, r)
	case RecoverLeader:
		return img.applyRecoverLeader(index, r)
	case OfflineReplicas:
		return img.applyOfflineReplicas(index, r)
	case AlterScramCredentials:
		return img.applyAlterScramCredentials(index, r)
	case AlterACLs:
		return img.applyAlterACLs(index, r)
	default:
		return img, reject(kerr.InvalidRequest)
	}
}

func reject(err *kerr.Error) Result { return Result{Err: err} }

func (img *Image) next(index uint64) *Image {
	n := img.shallowCopy()
	n.Index = index
	return n
}

func (img *Image) applySetClusterID(index uint64, r SetClusterID) (*Image, Result) {
	switch {
	case r.ClusterID == "":
		return img, reject(kerr.InvalidRequest)
	case img.ClusterID == r.ClusterID:
		return img, Result{}
	case img.ClusterID != "":
		return img, reject(kerr.InconsistentClusterID)
	}
	n := img.next(index)
	n.ClusterID = r.ClusterID
	return n, Result{}
}

func (img *Image) applyCreateTopic(index uint64, r CreateTopic) (*Image, Result) {
	if ValidateTopicName(r.Name) != nil {
		return img, reject(kerr.InvalidTopicException)
	}
	if r.ID.IsZero() || r.ID == metadataTopicID {
		return img, reject(kerr.InvalidRequest)
	}
	if img.Topics[r.Name] != nil || img.TopicsByID[r.ID] != nil {
		return img, reject(kerr.TopicAlreadyExists)
	}
	collides := collisionName(r.Name)
	for name := range img.Topics { // order does not matter: the answer is a boolean
		if collisionName(name) == collides {
			return img, reject(kerr.InvalidTopicException)
		}
	}
	if len(r.Partitions) == 0 {
		return img, reject(kerr.InvalidPartitions)
	}
	if err := validatePartitions(r.Partitions, 0); err != nil {
		return img, reject(err)
	}
	t := &Topic{Name: r.Name, ID: r.ID, Configs: cloneStrings(r.Configs)}
	t.Partitions = make([]Partition, len(r.Partitions))
	for i, p := range r.Partitions {
		t.Partitions[i] = p.clone()
	}
	n := img.next(index)
	n.Topics = make(map[string]*Topic, len(img.Topics)+1)
	n.TopicsByID = make(map[TopicID]*Topic, len(img.TopicsByID)+1)
	for name, old := range img.Topics {
		n.Topics[name] = old
		n.TopicsByID[old.ID] = old
	}
	n.Topics[t.Name] = t
	n.TopicsByID[t.ID] = t
	return n, Result{}
}

// validatePartitions checks that ps are numbered first, first+1, ... and that
// each has a sane replica set: non-empty, no duplicates, leader and ISR among
// the replicas.
func validatePartitions(ps []Partition, first int) *kerr.Error {
	for i, p := range ps {
		if int(p.Partition) != first+i {
			return kerr.InvalidPartitions
		}
		if len(p.Replicas) == 0 || p.LeaderEpoch < 0 || p.PartitionEpoch < 0 {
			return kerr.InvalidReplicaAssignment
		}
		seen := make(map[int32]bool, len(p.Replicas))
		for _, b := range p.Replicas {
			if b < 0 || seen[b] {
				return kerr.InvalidReplicaAssignment
			}
			seen[b] = true
		}
		if p.Leader != -1 && !seen[p.Leader] {
			return kerr.InvalidReplicaAssignment
		}
		inISR := make(map[int32]bool, len(p.ISR))
		for _, b := range p.ISR {
			if !seen[b] || inISR[b] {
				return kerr.InvalidReplicaAssignment
			}
			inISR[b] = true
		}
		if !validReassignment(p, seen) || !validLastKnown(p, seen, inISR) {
			return kerr.InvalidReplicaAssignment
		}
		for i, b := range p.Offline {
			if !seen[b] || slices.Index(p.Offline, b) != i {
				return kerr.InvalidReplicaAssignment
			}
		}
	}
	return nil
}

func (img *Image) applyDeleteTopic(index uint64, r DeleteTopic) (*Image, Result) {
	t := img.TopicsByID[r.ID]
	if t == nil {
		return img, reject(kerr.UnknownTopicID)
	}
	n := img.next(index)
	n.Topics = make(map[string]*Topic, len(img.Topics))
	n.TopicsByID = make(map[TopicID]*Topic, len(img.TopicsByID))
	for name, old := range img.Topics {
		if old != t {
			n.Topics[name] = old
			n.TopicsByID[old.ID] = old
		}
	}
	return n, Result{}
}

// replaceTopic returns a copy of img in which t replaces the topic of the same
// ID (and name).
func (img *Image) replaceTopic(index uint64, t *Topic) *Image {
	n := img.next(index)
	n.Topics = make(map[string]*Topic, len(img.Topics))
	n.TopicsByID = make(map[TopicID]*Topic, len(img.TopicsByID))
	for name, old := range img.Topics {
		n.Topics[name] = old
		n.TopicsByID[old.ID] = old
	}
	n.Topics[t.Name] = t
	n.TopicsByID[t.ID] = t
	return n
}

func (img *Image) applyCreatePartitions(index uint64, r CreatePartitions) (*Image, Result) {
	old := img.TopicsByID[r.TopicID]
	if old == nil {
		return img, reject(kerr.UnknownTopicID)
	}
	if len(r.New) == 0 {
		return img, reject(kerr.InvalidPartitions)
	}
	if err := validatePartitions(r.New, len(old.Partitions)); err != nil {
		return img, reject(err)
	}
	t := old.clone()
	for _, p := range r.New {
		t.Partitions = append(t.Partitions, p.clone())
	}
	return img.replaceTopic(index, t), Result{}
}

// alterConfigs returns a copy of m with set applied, then del.
func alterConfigs(m, set map[string]string, del []string) (map[string]string, *kerr.Error) {
	for k := range set {
		if k == "" {
			return nil, kerr.InvalidConfig
		}
	}
	c := cloneStrings(m)
	for k, v := range set {
		c[k] = v
	}
	for _, k := range del {
		delete(c, k)
	}
	return c, nil
}

func (img *Image) applyAlterTopicConfigs(index uint64, r AlterTopicConfigs) (*Image, Result) {
	old := img.Topics[r.Name]
	if old == nil {
		return img, reject(kerr.UnknownTopicOrPartition)
	}
	configs, err := alterConfigs(old.Configs, r.Set, r.Delete)
	if err != nil {
		return img, reject(err)
	}
	t := old.clone()
	t.Configs = configs
	return img.replaceTopic(index, t), Result{}
}

func (img *Image) applyAlterBrokerConfigs(index uint64, r AlterBrokerConfigs) (*Image, Result) {
	configs, err := alterConfigs(img.BrokerConfigs, r.Set, r.Delete)
	if err != nil {
		return img, reject(err)
	}
	n := img.next(index)
	n.BrokerConfigs = configs
	return n, Result{}
}

func (img *Image) applyAllocateProducerIDs(index uint64, r AllocateProducerIDs) (*Image, Result) {
	if r.BlockSize <= 0 {
		return img, reject(kerr.InvalidRequest)
	}
	if img.NextProducerID > math.MaxInt64-r.BlockSize {
		return img, reject(kerr.UnknownServerError) // the ID space is exhausted
	}
	n := img.next(index)
	n.NextProducerID = img.NextProducerID + r.BlockSize
	return n, Result{FirstProducerID: img.NextProducerID}
}

// validLastKnown checks p.LastKnownISR against its replicas (seen) and ISR
// (inISR): sorted replicas, none twice, none in the ISR.
func validLastKnown(p Partition, seen, inISR map[int32]bool) bool {
	for i, id := range p.LastKnownISR {
		if !seen[id] || inISR[id] || i > 0 && p.LastKnownISR[i-1] >= id {
			return false
		}
	}
	return true
}
