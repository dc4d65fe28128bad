package metadata

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// snapshotVersion is the version of the snapshot encoding written by EncodeImage.
const snapshotVersion = 1

// ErrCorruptSnapshot is returned by DecodeImage for bytes that are not a valid
// image.
var ErrCorruptSnapshot = errors.New("metadata: corrupt snapshot")

// snapshot is the persisted form of an Image: maps become slices sorted by key
// so equal images give equal bytes.
type snapshot struct {
	Version        int
	ClusterID      string
	Index          uint64
	Brokers        []Broker
	Topics         []*Topic
	BrokerConfigs  map[string]string // encoding/json sorts map keys
	NextProducerID int64
	Scram          []ScramCredential `json:",omitempty"`
	ACLs           []ACL             `json:",omitempty"`
}

// EncodeImage returns the snapshot encoding of img.
func EncodeImage(img *Image) ([]byte, error) {
	s := snapshot{
		Version:        snapshotVersion,
		ClusterID:      img.ClusterID,
		Index:          img.Index,
		BrokerConfigs:  img.BrokerConfigs,
		NextProducerID: img.NextProducerID,
		Scram:          img.ScramCredentials(),
		ACLs:           img.ACLList(),
	}
	for _, b := range img.Brokers {
		s.Brokers = append(s.Brokers, b)
	}
	sort.Slice(s.Brokers, func(i, j int) bool { return s.Brokers[i].ID < s.Brokers[j].ID })
	for _, t := range img.Topics {
		s.Topics = append(s.Topics, t)
	}
	sort.Slice(s.Topics, func(i, j int) bool { return s.Topics[i].Name < s.Topics[j].Name })
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode image: %w", err)
	}
	return b, nil
}

// DecodeImage parses bytes written by EncodeImage and checks the invariants
// Apply maintains. It never panics; bad input yields an error wrapping
// ErrCorruptSnapshot.
func DecodeImage(b []byte) (*Image, error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorruptSnapshot, err)
	}
	corrupt := func(format string, args ...any) (*Image, error) {
		return nil, fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
	}
	if s.Version != snapshotVersion {
		return corrupt("unknown version %d", s.Version)
	}
	if s.NextProducerID < 0 {
		return corrupt("negative next producer ID %d", s.NextProducerID)
	}
	img := EmptyImage()
	img.ClusterID = s.ClusterID
	img.Index = s.Index
	img.NextProducerID = s.NextProducerID
	for k, v := range s.BrokerConfigs {
		if k == "" {
			return corrupt("empty broker config name")
		}
		img.BrokerConfigs[k] = v
	}
	for _, c := range s.Scram {
		if !validScram(c) {
			return corrupt("bad SCRAM credential of %q", c.User)
		}
		if img.Scram == nil {
			img.Scram = map[ScramUser]ScramCredential{}
		}
		if _, dup := img.Scram[c.ScramUser]; dup {
			return corrupt("duplicate SCRAM credential of %q", c.User)
		}
		img.Scram[c.ScramUser] = c
	}
	for _, a := range s.ACLs {
		if !validACL(a) {
			return corrupt("bad ACL %+v", a)
		}
		if img.ACLs == nil {
			img.ACLs = map[ACL]bool{}
		}
		img.ACLs[a] = true
	}
	for _, b := range s.Brokers {
		if _, dup := img.Brokers[b.ID]; dup || b.ID < 0 {
			return corrupt("broker ID %d duplicate or negative", b.ID)
		}
		img.Brokers[b.ID] = b
	}
	for _, t := range s.Topics {
		if t == nil {
			return corrupt("null topic")
		}
		if ValidateTopicName(t.Name) != nil || t.ID.IsZero() {
			return corrupt("topic %q: bad name or zero ID", t.Name)
		}
		if img.Topics[t.Name] != nil || img.TopicsByID[t.ID] != nil {
			return corrupt("topic %q: duplicate name or ID", t.Name)
		}
		if len(t.Partitions) == 0 || validatePartitions(t.Partitions, 0) != nil {
			return corrupt("topic %q: bad partitions", t.Name)
		}
		if t.Configs == nil {
			t.Configs = map[string]string{}
		}
		img.Topics[t.Name] = t
		img.TopicsByID[t.ID] = t
	}
	return img, nil
}
