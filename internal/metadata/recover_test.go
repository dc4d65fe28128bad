package metadata

import (
	"slices"
	"testing"
)

// TestLastKnownISRCompat: records and snapshots written before
// LastKnownISR existed decode with none, and a partition whose ISR such a
// log emptied (an unclean restart under ed40d23's rule) takes every
// replica as its recovery candidates; the field round-trips and is left
// out of the encoding when empty.
func TestLastKnownISRCompat(t *testing.T) {
	old := []byte(`{"Version":1,"ClusterID":"c","Index":7,"Brokers":[{"ID":1,"Host":"h","Port":1,"Rack":"","Epoch":3}],` +
		`"Topics":[{"Name":"a","ID":"AQAAAAAAAAAAAAAAAAAAAA","Partitions":[{"Partition":0,"Leader":-1,"LeaderEpoch":2,"PartitionEpoch":5,"Replicas":[1,2,3],"ISR":[]}],"Configs":{}}],` +
		`"BrokerConfigs":{},"NextProducerID":0}`)
	img, err := DecodeImage(old)
	if err != nil {
		t.Fatal(err)
	}
	p := img.Topics["a"].Partitions[0]
	if p.LastKnownISR != nil || !p.AwaitsRecovery() || !slices.Equal(p.RecoveryCandidates(), []int32{1, 2, 3}) {
		t.Fatalf("old snapshot's partition: %+v, candidates %v", p, p.RecoveryCandidates())
	}
	again, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(old) {
		t.Fatalf("re-encoded old snapshot changed:\n%s\n%s", again, old)
	}

	rec := append([]byte{byte(TypeCreateTopic)}, `{"Name":"b","ID":"AgAAAAAAAAAAAAAAAAAAAA","Partitions":[{"Partition":0,"Leader":1,"LeaderEpoch":0,"PartitionEpoch":0,"Replicas":[1],"ISR":[1]}],"Configs":null}`...)
	r, err := DecodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.(CreateTopic).Partitions[0].LastKnownISR; got != nil {
		t.Fatalf("old record's LastKnownISR = %v", got)
	}

	p.LastKnownISR = []int32{1, 3}
	b, err := EncodeRecord(CreateTopic{Name: "c", ID: TopicID{3}, Partitions: []Partition{p}})
	if err != nil {
		t.Fatal(err)
	}
	r, err = DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.(CreateTopic).Partitions[0]; !slices.Equal(got.LastKnownISR, []int32{1, 3}) || !slices.Equal(got.RecoveryCandidates(), []int32{1, 3}) {
		t.Fatalf("round trip: %+v", got)
	}
}

// TestNoteISR: the members an ISR loses while it is below two are kept;
// an ISR of two or more clears them; members back in the ISR, or no
// longer replicas, leave the list.
func TestNoteISR(t *testing.T) {
	for _, tc := range []struct {
		name             string
		isr, known, next []int32
		replicas, want   []int32
	}{
		{"three to two", []int32{1, 2, 3}, nil, []int32{1, 3}, []int32{1, 2, 3}, nil},
		{"two to one", []int32{1, 3}, nil, []int32{3}, []int32{1, 2, 3}, []int32{1}},
		{"one to none", []int32{3}, []int32{1}, []int32{}, []int32{1, 2, 3}, []int32{1, 3}},
		{"back to two", []int32{3}, []int32{1}, []int32{3, 1}, []int32{1, 2, 3}, nil},
		{"one to another one", []int32{3}, []int32{1}, []int32{1}, []int32{1, 2, 3}, []int32{3}},
		{"no longer a replica", []int32{3}, []int32{1, 2}, []int32{3}, []int32{2, 3}, []int32{2}},
	} {
		p := Partition{ISR: tc.isr, LastKnownISR: tc.known, Replicas: tc.replicas}
		next := p.clone()
		next.ISR, next.Replicas = tc.next, tc.replicas
		noteISR(p, &next)
		if !slices.Equal(next.LastKnownISR, tc.want) {
			t.Errorf("%s: last-known %v, want %v", tc.name, next.LastKnownISR, tc.want)
		}
	}
}
