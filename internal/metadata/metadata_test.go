package metadata

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestValidateTopicName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"foo", true},
		{"a.b_c-D9", true},
		{"...", true},
		{strings.Repeat("x", 249), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", 250), false},
		{"a b", false},
		{"a/b", false},
		{"ü", false},
	} {
		if err := ValidateTopicName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateTopicName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestTopicIDString(t *testing.T) {
	for _, tc := range []struct {
		id   TopicID
		want string
	}{
		{TopicID{}, "AAAAAAAAAAAAAAAAAAAAAA"},
		{TopicID{15: 1}, "AAAAAAAAAAAAAAAAAAAAAQ"},
		{TopicID{0: 0xfb, 1: 0xff}, "-_8AAAAAAAAAAAAAAAAAAA"},
	} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		back, err := ParseTopicID(tc.want)
		if err != nil || back != tc.id {
			t.Errorf("ParseTopicID(%q) = %v, %v", tc.want, back, err)
		}
	}
	for _, bad := range []string{"", "AAAA", "AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAA!", "AAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := ParseTopicID(bad); err == nil {
			t.Errorf("ParseTopicID(%q) succeeded", bad)
		}
	}
	seen := map[TopicID]bool{}
	for range 1000 {
		id := NewTopicID()
		if id.IsZero() || seen[id] || strings.HasPrefix(id.String(), "-") {
			t.Fatalf("NewTopicID() = %v", id)
		}
		seen[id] = true
	}
}

// TestApplyCopiesOnWrite checks that Apply never changes a published image.
func TestApplyCopiesOnWrite(t *testing.T) {
	img := EmptyImage()
	img, _ = img.Apply(1, CreateTopic{Name: "t", ID: TopicID{1}, Configs: map[string]string{"a": "1"},
		Partitions: []Partition{{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}}})
	before, _ := EncodeImage(img)
	topic := img.Topics["t"]
	steps := []Record{
		AlterTopicConfigs{Name: "t", Set: map[string]string{"a": "2", "b": "3"}},
		CreatePartitions{TopicID: TopicID{1}, New: []Partition{{Partition: 1, Leader: 1, Replicas: []int32{1}}}},
		AlterBrokerConfigs{Set: map[string]string{"x": "y"}},
		RegisterBroker{Broker: Broker{ID: 1}},
		AllocateProducerIDs{BlockSize: 5},
		DeleteTopic{ID: TopicID{1}},
	}
	for i, r := range steps {
		next, res := img.Apply(uint64(i+2), r)
		if res.Err != nil {
			t.Fatalf("%T: %v", r, res.Err)
		}
		after, _ := EncodeImage(img)
		if !bytes.Equal(before, after) || img.Topics["t"] != topic || len(topic.Partitions) != 1 || topic.Configs["a"] != "1" {
			t.Fatalf("%T mutated the previous image", r)
		}
		if next.Index != uint64(i+2) {
			t.Fatalf("%T: index %d", r, next.Index)
		}
	}
}

// TestApplyErrors checks the Kafka error of each rejection.
func TestApplyErrors(t *testing.T) {
	base := EmptyImage()
	p0 := []Partition{{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}}
	base, _ = base.Apply(1, CreateTopic{Name: "t", ID: TopicID{1}, Partitions: p0})
	for _, tc := range []struct {
		r    Record
		want *kerr.Error
	}{
		{CreateTopic{Name: "t", ID: TopicID{2}, Partitions: p0}, kerr.TopicAlreadyExists},
		{CreateTopic{Name: "u", ID: TopicID{1}, Partitions: p0}, kerr.TopicAlreadyExists},
		{CreateTopic{Name: "u", ID: TopicID{2}}, kerr.InvalidPartitions},
		{CreateTopic{Name: "u", ID: TopicID{2}, Partitions: []Partition{{Partition: 1, Replicas: []int32{1}}}}, kerr.InvalidPartitions},
		{CreateTopic{Name: "u", ID: TopicID{2}, Partitions: []Partition{{Partition: 0, Leader: 2, Replicas: []int32{1}}}}, kerr.InvalidReplicaAssignment},
		{CreateTopic{Name: "u", ID: TopicID{2}, Partitions: []Partition{{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{3}}}}, kerr.InvalidReplicaAssignment},
		{CreateTopic{Name: "u", ID: TopicID{15: 1}, Partitions: p0}, kerr.InvalidRequest},
		{CreateTopic{Name: "u u", ID: TopicID{2}, Partitions: p0}, kerr.InvalidTopicException},
		{DeleteTopic{ID: TopicID{9}}, kerr.UnknownTopicID},
		{CreatePartitions{TopicID: TopicID{9}, New: p0}, kerr.UnknownTopicID},
		{CreatePartitions{TopicID: TopicID{1}, New: p0}, kerr.InvalidPartitions},
		{AlterTopicConfigs{Name: "nope"}, kerr.UnknownTopicOrPartition},
		{AlterTopicConfigs{Name: "t", Set: map[string]string{"": "x"}}, kerr.InvalidConfig},
		{AlterBrokerConfigs{Set: map[string]string{"": "x"}}, kerr.InvalidConfig},
		{AllocateProducerIDs{BlockSize: -1}, kerr.InvalidRequest},
		{RegisterBroker{Broker: Broker{ID: -1}}, kerr.InvalidRequest},
		{SetClusterID{}, kerr.InvalidRequest},
	} {
		next, res := base.Apply(2, tc.r)
		if !errors.Is(res.Err, tc.want) || next != base {
			t.Errorf("%#v: got %v, want %v", tc.r, res.Err, tc.want)
		}
	}
	full := base.shallowCopy()
	full.NextProducerID = 1<<63 - 10
	if _, res := full.Apply(3, AllocateProducerIDs{BlockSize: 11}); res.Err == nil {
		t.Error("producer ID overflow accepted")
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {200, '{', '}'}, {byte(TypeCreateTopic), '{'}, {byte(TypeDeleteTopic), '"'}} {
		if _, err := DecodeRecord(b); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("DecodeRecord(%q) = %v", b, err)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []Record{
		CreateTopic{Name: "t", ID: TopicID{1}, Partitions: []Partition{{Replicas: []int32{0}}}, Configs: map[string]string{"a": "b"}},
		DeleteTopic{ID: TopicID{1}}, AllocateProducerIDs{BlockSize: 1}, SetClusterID{ClusterID: "x"},
		CreatePartitions{TopicID: TopicID{1}, New: []Partition{{Partition: 1, Replicas: []int32{0}}}},
		AlterTopicConfigs{Name: "t", Delete: []string{"a"}}, AlterBrokerConfigs{}, RegisterBroker{},
		RegisterBroker{Broker: Broker{ID: 1, Host: "h", Port: 1, Incarnation: TopicID{2}, MetadataAddr: "h:2"}},
		FenceBroker{ID: 1, Epoch: 2}, UnfenceBroker{ID: 1, Epoch: 2},
		AlterPartition{BrokerID: 0, BrokerEpoch: 1, TopicID: TopicID{1}, ISR: []int32{0}, BrokerEpochs: []int64{-1}},
		AlterPartitionReassignment{TopicID: TopicID{1}, Replicas: []int32{0}}, AlterPartitionReassignment{TopicID: TopicID{1}},
		ElectLeader{TopicID: TopicID{1}}, ElectLeader{TopicID: TopicID{1}, Unclean: true},
		RecoverLeader{TopicID: TopicID{1}, PartitionEpoch: 1, Leader: 0, BrokerEpochs: []int64{1}},
		CreateTopic{Name: "u", ID: TopicID{2}, Partitions: []Partition{{Leader: -1, Replicas: []int32{0, 1}, LastKnownISR: []int32{0, 1}}}},
		OfflineReplicas{BrokerID: 0, Replicas: []PartitionRef{{TopicID: TopicID{1}}, {TopicID: TopicID{2}, Partition: -1}}},
		AlterScramCredentials{Upsert: []ScramCredential{{ScramUser: ScramUser{"alice", "SCRAM-SHA-256"}, Salt: []byte{1}, StoredKey: []byte{2}, ServerKey: []byte{3}, Iterations: 4096}}},
		AlterScramCredentials{Delete: []ScramUser{{"alice", "SCRAM-SHA-512"}}},
		AlterACLs{Create: []ACL{{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3}}},
		AlterACLs{Delete: []ACL{{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 3, Permission: 3}}},
		RegisterBroker{Broker: Broker{ID: 2, Host: "h", Port: 1, Listeners: []Endpoint{{Name: "SSL", Host: "h", Port: 2}}}},
	} {
		b, _ := EncodeRecord(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		img := EmptyImage()
		img, _ = img.Apply(1, CreateTopic{Name: "t", ID: TopicID{1}, Partitions: []Partition{{Replicas: []int32{0}}}})
		next, _ := img.Apply(2, r)
		b, err = EncodeImage(next)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeImage(b); err != nil {
			t.Fatalf("apply of %#v broke an invariant: %v", r, err)
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	img := EmptyImage()
	img, _ = img.Apply(1, CreateTopic{Name: "t", ID: TopicID{1}, Partitions: []Partition{{Leader: 0, Replicas: []int32{0}, ISR: []int32{0}}}})
	img, _ = img.Apply(2, RegisterBroker{Broker: Broker{ID: 0, Host: "h", Port: 1}})
	img, _ = img.Apply(3, AlterBrokerConfigs{Set: map[string]string{"a": "b"}})
	img, _ = img.Apply(4, AlterScramCredentials{Upsert: []ScramCredential{{ScramUser: ScramUser{"alice", "SCRAM-SHA-256"}, Salt: []byte{1}, StoredKey: []byte{2}, ServerKey: []byte{3}, Iterations: 4096}}})
	img, _ = img.Apply(5, AlterACLs{Create: []ACL{{ResourceType: 2, ResourceName: "t", PatternType: 4, Principal: "User:a", Host: "*", Operation: 4, Permission: 2}}})
	seed, _ := EncodeImage(img)
	f.Add(seed)
	f.Add([]byte(`{"Version":1,"Topics":[null]}`))
	f.Add([]byte(`{"Version":1,"Topics":[{"Name":"t","ID":"AQAAAAAAAAAAAAAAAAAAAA","Partitions":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage(b)
		if err != nil {
			return
		}
		again, err := EncodeImage(img)
		if err != nil {
			t.Fatal(err)
		}
		img2, err := DecodeImage(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		again2, _ := EncodeImage(img2)
		if !bytes.Equal(again, again2) {
			t.Fatal("encoding not stable")
		}
	})
}

// TestScramCredentials: credentials are upserted and deleted as a whole
// record, survive a snapshot, and a bad record changes nothing.
func TestScramCredentials(t *testing.T) {
	alice := ScramCredential{ScramUser: ScramUser{"alice", "SCRAM-SHA-256"}, Salt: []byte("s"), StoredKey: []byte("k"), ServerKey: []byte("v"), Iterations: 4096}
	bob := alice
	bob.ScramUser = ScramUser{"bob", "SCRAM-SHA-512"}
	img, res := EmptyImage().Apply(1, AlterScramCredentials{Upsert: []ScramCredential{alice, bob}})
	if res.Err != nil || len(img.ScramCredentials()) != 2 {
		t.Fatalf("upsert: %v, %v", res.Err, img.ScramCredentials())
	}
	same, res := img.Apply(2, AlterScramCredentials{Delete: []ScramUser{{"carol", "SCRAM-SHA-256"}}, Upsert: []ScramCredential{alice}})
	if !errors.Is(res.Err, kerr.ResourceNotFound) || same != img {
		t.Fatalf("delete of a missing credential: %v", res.Err)
	}
	bad := alice
	bad.Mechanism = "PLAIN"
	if _, res := img.Apply(2, AlterScramCredentials{Upsert: []ScramCredential{bad}}); !errors.Is(res.Err, kerr.UnacceptableCredential) {
		t.Fatalf("bad mechanism: %v", res.Err)
	}
	img, res = img.Apply(3, AlterScramCredentials{Delete: []ScramUser{alice.ScramUser}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	b, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.ScramCredentials(); len(got) != 1 || got[0].User != "bob" || string(got[0].StoredKey) != "k" {
		t.Fatalf("after the snapshot: %+v", got)
	}
}

// TestACLs: ACLs are created and deleted idempotently, a malformed one
// refuses the record, and they survive a snapshot.
func TestACLs(t *testing.T) {
	read := ACL{ResourceType: 2, ResourceName: "orders", PatternType: 3, Principal: "User:alice", Host: "*", Operation: 3, Permission: 3}
	deny := read
	deny.Permission = 2
	img, res := EmptyImage().Apply(1, AlterACLs{Create: []ACL{read, deny, read}})
	if res.Err != nil || len(img.ACLList()) != 2 {
		t.Fatalf("create: %v %v", res.Err, img.ACLList())
	}
	bad := read
	bad.Principal = ""
	if same, res := img.Apply(2, AlterACLs{Create: []ACL{bad}}); !errors.Is(res.Err, kerr.InvalidRequest) || same != img {
		t.Fatalf("bad ACL: %v", res.Err)
	}
	img, _ = img.Apply(3, AlterACLs{Delete: []ACL{deny, deny}})
	b, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.ACLList(); len(got) != 1 || got[0] != read {
		t.Fatalf("after the snapshot: %+v", got)
	}
}
