package quorum

import (
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// TestImbalanced: broker 1 is preferred for 5 partitions and leads 3:
// 40% imbalanced, so above 10% and 39% but not 40%; of the two led
// elsewhere the one it can lead is picked, not the one being reassigned;
// broker 2's partition led elsewhere has its preferred replica out of the
// ISR, broker 3's is fenced.
func TestImbalanced(t *testing.T) {
	img := metadata.EmptyImage()
	for id := int32(1); id <= 3; id++ {
		img.Brokers[id] = metadata.Broker{ID: id, Fenced: id == 3}
	}
	part := func(i, leader int32, replicas, isr []int32) metadata.Partition {
		return metadata.Partition{Partition: i, Leader: leader, Replicas: replicas, ISR: isr}
	}
	img.Topics["t"] = &metadata.Topic{Name: "t", Partitions: []metadata.Partition{
		part(0, 1, []int32{1, 2}, []int32{1, 2}),
		part(1, 2, []int32{1, 2}, []int32{1, 2}), // can move back
		part(2, 1, []int32{1, 2}, []int32{1, 2}),
		part(3, 1, []int32{1, 2}, []int32{1, 2}),
		part(4, 2, []int32{3, 2}, []int32{3, 2}), // 3 is fenced
	}}
	reassigning := part(0, 2, []int32{1, 2}, []int32{1, 2})
	reassigning.AddingReplicas = []int32{1}
	img.Topics["u"] = &metadata.Topic{Name: "u", Partitions: []metadata.Partition{
		reassigning,
		part(1, 2, []int32{2, 1}, []int32{2}),
	}}
	for _, tc := range []struct {
		percentage int
		want       string
	}{
		{10, "[{t 1}]"},
		{39, "[{t 1}]"},
		{40, "[]"},
		{0, "[{t 1}]"},
	} {
		if got := fmt.Sprint(imbalanced(img, tc.percentage)); got != tc.want {
			t.Errorf("percentage %d: %s, want %s", tc.percentage, got, tc.want)
		}
	}
}
