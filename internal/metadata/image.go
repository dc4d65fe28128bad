package metadata

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// TopicID is a topic's 16-byte UUID, as in Kafka. A topic that is deleted and
// created again under the same name gets a new ID.
type TopicID [16]byte

// String returns the ID the way Kafka prints it: unpadded URL-safe base64.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero UUID, which Kafka reserves for "no ID".
func (id TopicID) IsZero() bool { return id == TopicID{} }

// MarshalText encodes the ID as String does, so that JSON carries readable IDs.
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes an ID printed by String.
func (id *TopicID) UnmarshalText(b []byte) error {
	parsed, err := ParseTopicID(string(b))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// ParseTopicID parses the form printed by TopicID.String.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	if base64.RawURLEncoding.DecodedLen(len(s)) != len(id) {
		return id, fmt.Errorf("metadata: topic ID %q: wrong length", s)
	}
	n, err := base64.RawURLEncoding.Decode(id[:], []byte(s))
	if err != nil || n != len(id) {
		return TopicID{}, fmt.Errorf("metadata: topic ID %q: not base64url", s)
	}
	return id, nil
}

// NewTopicID returns a random version-4 UUID. Like Kafka, it never returns the
// zero ID, the reserved metadata-topic ID, or an ID whose string starts with
// '-' (which command lines would take for a flag). Call it when proposing, never
// while applying.
func NewTopicID() TopicID {
	for {
		var id TopicID
		_, _ = rand.Read(id[:]) // crypto/rand.Read never fails since Go 1.24.
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if !id.IsZero() && id != metadataTopicID && !strings.HasPrefix(id.String(), "-") {
			return id
		}
	}
}

// metadataTopicID is Kafka's Uuid.METADATA_TOPIC_ID (0...01), reserved.
var metadataTopicID = TopicID{15: 1}

// Partition is one partition's replica assignment and leadership.
type Partition struct {
	Partition      int32
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	// AddingReplicas and RemovingReplicas are set while a reassignment is
	// in progress (Kafka's addingReplicas and removingReplicas): Replicas
	// is then the target replicas followed by the removing ones, and the
	// adding ones are the targets not replicas before. See reassign.go.
	AddingReplicas   []int32 `json:",omitempty"`
	RemovingReplicas []int32 `json:",omitempty"`
	// LastKnownISR is Kafka's LastKnownELR (KIP-966) adapted to our ISR:
	// the replicas that left the ISR in the change that took it below two
	// members or since, while it stayed below two, sorted (noteISR keeps
	// it). With min.insync.replicas of at least two nothing is
	// acknowledged while the ISR is below two, so these replicas, with
	// the ISR, hold every acknowledged record; once the ISR is empty
	// (its last member restarted uncleanly) they are the candidates of
	// the recovery election (RecoverLeader, recover.go). Omitted when
	// empty: records and snapshots written before it existed decode
	// with none.
	LastKnownISR []int32 `json:",omitempty"`
	// Offline are the replicas whose brokers reported their logs failed
	// (OfflineReplicas, offline.go), until those brokers register again.
	Offline []int32 `json:",omitempty"`
}

func (p Partition) clone() Partition {
	p.Replicas = append([]int32(nil), p.Replicas...)
	p.ISR = append([]int32(nil), p.ISR...)
	p.AddingReplicas = cloneIDs(p.AddingReplicas)
	p.RemovingReplicas = cloneIDs(p.RemovingReplicas)
	p.LastKnownISR = cloneIDs(p.LastKnownISR)
	p.Offline = cloneIDs(p.Offline)
	return p
}

// Reassigning reports whether a reassignment of p is in progress.
func (p Partition) Reassigning() bool {
	return len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0
}

// TargetReplicas is where a reassignment in progress takes p: Replicas
// without the removing ones (Replicas itself when none is in progress).
func (p Partition) TargetReplicas() []int32 {
	if len(p.RemovingReplicas) == 0 {
		return p.Replicas
	}
	out := make([]int32, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		if !slices.Contains(p.RemovingReplicas, r) {
			out = append(out, r)
		}
	}
	return out
}

// cloneIDs copies ids, keeping nil as nil (so that JSON omits it).
func cloneIDs(ids []int32) []int32 {
	if len(ids) == 0 {
		return nil
	}
	return slices.Clone(ids)
}

// Topic is a topic with its partitions (indexed by partition number) and its
// dynamic topic configs. A *Topic reachable from an Image is never mutated.
type Topic struct {
	Name       string
	ID         TopicID
	Partitions []Partition
	Configs    map[string]string
}

// clone deep-copies t, so the copy can be changed before it is published.
func (t *Topic) clone() *Topic {
	c := *t
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		c.Partitions[i] = p.clone()
	}
	c.Configs = cloneStrings(t.Configs)
	return &c
}

// Broker is a registered broker and the address clients reach it at.
type Broker struct {
	ID int32
	// Host and Port are where other brokers reach it: its advertised
	// inter-broker listener.
	Host string
	Port int32
	Rack string
	// Listeners are its advertised listeners, where the clients of each
	// listener reach it. Empty in registrations written before several
	// listeners were served: Host and Port then serve every listener.
	Listeners []Endpoint `json:",omitempty"`
	// Incarnation is a random UUID drawn at each process start (Kafka's
	// incarnation ID), so a restarted broker is never taken for its
	// previous life. Zero in registrations written before it existed.
	Incarnation TopicID `json:",omitzero"`
	// MetadataAddr is where a broker that is not a controller voter
	// receives the metadata log (raft's non-voter transport); "" for
	// voters.
	MetadataAddr string `json:",omitempty"`
	// Epoch is the broker epoch: the Raft index of its registration
	// record, set by apply.
	Epoch int64 `json:",omitempty"`
	// Fenced brokers are left out of Metadata responses and placement.
	Fenced bool `json:",omitempty"`
}

// Endpoint is one advertised listener of a broker.
type Endpoint struct {
	Name string // the listener name, upper case
	Host string
	Port int32
}

// Endpoint returns where the clients of listener reach the broker.
func (b Broker) Endpoint(listener string) (Endpoint, bool) {
	if len(b.Listeners) == 0 {
		return Endpoint{Name: listener, Host: b.Host, Port: b.Port}, true
	}
	for _, e := range b.Listeners {
		if e.Name == listener {
			return e, true
		}
	}
	return Endpoint{}, false
}

// sameRegistration reports whether a and b are the same registration.
func sameRegistration(a, b Broker) bool {
	return a.ID == b.ID && a.Host == b.Host && a.Port == b.Port && a.Rack == b.Rack &&
		slices.Equal(a.Listeners, b.Listeners) && a.Incarnation == b.Incarnation &&
		a.MetadataAddr == b.MetadataAddr && a.Epoch == b.Epoch && a.Fenced == b.Fenced
}

// LiveBrokers returns the unfenced brokers in ascending ID order.
func (img *Image) LiveBrokers() []Broker {
	out := make([]Broker, 0, len(img.Brokers))
	for _, b := range img.Brokers {
		if !b.Fenced {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Image is an immutable view of the cluster metadata after the record at
// Index was applied (Index is the Raft index of the last record that changed
// the image; 0 for the empty image). Never mutate an Image or anything it
// points to: use Apply.
type Image struct {
	ClusterID      string
	Index          uint64
	Brokers        map[int32]Broker
	Topics         map[string]*Topic
	TopicsByID     map[TopicID]*Topic
	BrokerConfigs  map[string]string // dynamic cluster-wide broker configs
	NextProducerID int64             // first producer ID of the next block
	// Scram holds the SCRAM credentials (scram.go); nil when there are none.
	Scram map[ScramUser]ScramCredential
	// ACLs are the access control entries (acl.go); nil when there are none.
	ACLs map[ACL]bool
}

// EmptyImage returns the image before the first record: all maps empty, not nil.
func EmptyImage() *Image {
	return &Image{
		Brokers:       map[int32]Broker{},
		Topics:        map[string]*Topic{},
		TopicsByID:    map[TopicID]*Topic{},
		BrokerConfigs: map[string]string{},
	}
}

// Topic returns the topic named name, or nil.
func (img *Image) Topic(name string) *Topic { return img.Topics[name] }

// TopicByID returns the topic with the given ID, or nil.
func (img *Image) TopicByID(id TopicID) *Topic { return img.TopicsByID[id] }

// shallowCopy returns a copy of img sharing every map with it; callers replace
// the maps they change (copy on write).
func (img *Image) shallowCopy() *Image {
	c := *img
	return &c
}

func cloneStrings(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// MaxTopicNameLength is Kafka's limit on topic names.
const MaxTopicNameLength = 249

var errInvalidTopicName = errors.New("metadata: invalid topic name")

// ValidateTopicName applies Kafka's rule: 1 to 249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..".
func ValidateTopicName(name string) error {
	if name == "" || len(name) > MaxTopicNameLength || name == "." || name == ".." {
		return fmt.Errorf("%w %q", errInvalidTopicName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w %q: character %q not in [a-zA-Z0-9._-]", errInvalidTopicName, name, c)
		}
	}
	return nil
}

// collisionName maps '.' to '_': Kafka refuses two topics whose names differ
// only there, because they would collide in metric names.
func collisionName(name string) string { return strings.ReplaceAll(name, ".", "_") }
