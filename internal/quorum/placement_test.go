package quorum

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// TestPlace checks the placement's promises over many shapes and topic
// IDs: every partition has rf distinct brokers; with at least rf racks
// its replicas are on rf different racks, else on as many racks as
// there are; leaders differ by at most one partition between brokers,
// and so do replica counts over whole rounds of n partitions; the
// partitions a CreatePartitions adds continue the same round.
func TestPlace(t *testing.T) {
	shapes := []struct {
		name  string
		racks []string // broker i+1's rack
	}{
		{"one broker", []string{""}},
		{"three no racks", []string{"", "", ""}},
		{"five no racks", []string{"", "", "", "", ""}},
		{"three racks", []string{"a", "b", "c"}},
		{"six on three racks", []string{"a", "a", "b", "b", "c", "c"}},
		{"uneven racks", []string{"a", "a", "a", "b", "c"}},
		{"two racks", []string{"a", "b", "a", "b"}},
	}
	for _, sh := range shapes {
		var brokers []metadata.Broker
		racks := map[string]bool{}
		for i, r := range sh.racks {
			brokers = append(brokers, metadata.Broker{ID: int32(i + 1), Rack: r})
			racks[r] = true
		}
		n := len(brokers)
		for rf := 1; rf <= min(n, 3); rf++ {
			for seed := range 8 {
				t.Run(fmt.Sprintf("%s/rf%d/seed%d", sh.name, rf, seed), func(t *testing.T) {
					id := metadata.TopicID{0: byte(seed * 37), 1: byte(seed * 11)}
					count := 4 * n
					// Half at creation, half added later.
					ps := append(place(brokers, id, 0, count/2, rf), place(brokers, id, count/2, count-count/2, rf)...)
					leaders := map[int32]int{}
					replicas := map[int32]int{}
					for i, p := range ps {
						if p.Partition != int32(i) || len(p.Replicas) != rf || p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) {
							t.Fatalf("partition %d: %+v", i, p)
						}
						onRacks := map[string]bool{}
						for j, b := range p.Replicas {
							if slices.Index(p.Replicas, b) != j {
								t.Fatalf("partition %d has broker %d twice: %v", i, b, p.Replicas)
							}
							onRacks[sh.racks[b-1]] = true
							replicas[b]++
						}
						if want := min(rf, len(racks)); len(onRacks) != want {
							t.Fatalf("partition %d on racks %v, want %d racks: %v", i, onRacks, want, p.Replicas)
						}
						leaders[p.Leader]++
					}
					for _, b := range brokers {
						if leaders[b.ID] != count/n {
							t.Fatalf("broker %d leads %d partitions, want %d: %v", b.ID, leaders[b.ID], count/n, leaders)
						}
						if len(racks) == 1 || len(racks) == n {
							if replicas[b.ID] != count*rf/n {
								t.Fatalf("broker %d holds %d replicas, want %d: %v", b.ID, replicas[b.ID], count*rf/n, replicas)
							}
						}
					}
				})
			}
		}
	}
}

// TestAssigned checks manual assignments against Kafka's rules and
// messages.
func TestAssigned(t *testing.T) {
	img := metadata.EmptyImage()
	for id := int32(1); id <= 3; id++ {
		img.Brokers[id] = metadata.Broker{ID: id, Fenced: id == 3}
	}
	ps, err := assigned(img, 2, [][]int32{{3, 1}, {2, 3}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.Partition{
		{Partition: 2, Leader: 1, Replicas: []int32{3, 1}, ISR: []int32{1}},
		{Partition: 3, Leader: 2, Replicas: []int32{2, 3}, ISR: []int32{2}},
	}
	if fmt.Sprint(ps) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", ps, want)
	}
	for _, tc := range []struct {
		assignment [][]int32
		rf         int
		msg        string
	}{
		{[][]int32{{}}, 0, "The manual partition assignment includes an empty replica list."},
		{[][]int32{{1, 4}}, 0, "The manual partition assignment includes broker 4, but no such broker is registered."},
		{[][]int32{{1, 2, 1}}, 0, "The manual partition assignment includes the broker 1 more than once."},
		{[][]int32{{1, 2}, {1}}, 0, "The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s)."},
		{[][]int32{{1, 2}}, 3, "The manual partition assignment includes a partition with 2 replica(s), but this is not consistent with previous partitions, which have 3 replica(s)."},
		{[][]int32{{1}, {3}}, 0, "All brokers specified in the manual partition assignment for partition 1 are fenced or in controlled shutdown."},
	} {
		_, err := assigned(img, 0, tc.assignment, tc.rf)
		if !errors.Is(err, kerr.InvalidReplicaAssignment) || err.Error() != tc.msg {
			t.Errorf("%v: %v, want INVALID_REPLICA_ASSIGNMENT %q", tc.assignment, err, tc.msg)
		}
	}
}
