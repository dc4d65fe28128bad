package quorum

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// place assigns partitions first..first+count-1 to brokers (the unfenced
// ones), rack-aware and balanced in the way of Kafka's rack-aware
// assignment (AdminUtils.assignReplicasToBrokersRackAware, the ancestor of
// its StripedReplicaPlacer): the brokers are listed alternating racks
// (the first of each rack, then the second of each, ...); partition p is
// led by the broker at (start+p) mod n of that list, so leaders go round
// every broker and rack in turn; its followers are taken at a shift after
// the leader that grows by one every n partitions, skipping a broker whose
// rack already holds a replica of the partition until every rack does.
// With racks at least the replication factor every replica of a partition
// is on its own rack, and every broker gets as many replicas as any other,
// give or take one per round. start and the first shift come from the
// random topic ID, so that topics do not all start on the same broker.
// Brokers without broker.rack form one rack of their own, "".
func place(brokers []metadata.Broker, id metadata.TopicID, first, count, replicationFactor int) []metadata.Partition {
	list, racks := rackAlternated(brokers)
	n := len(list)
	rackOf := make(map[int32]string, n)
	for _, b := range brokers {
		rackOf[b.ID] = b.Rack
	}
	start, shift0 := int(id[0])%n, 0
	if n > 1 {
		shift0 = int(id[1]) % (n - 1)
	}
	ps := make([]metadata.Partition, count)
	for i := range ps {
		p := first + i
		leaderAt := (start + p) % n
		shift := shift0 + p/n
		replicas := []int32{list[leaderAt]}
		withRack := map[string]bool{rackOf[list[leaderAt]]: true}
		for k := 0; len(replicas) < replicationFactor; k++ {
			b := list[(leaderAt+1+(shift+k)%(n-1))%n]
			if slices.Contains(replicas, b) || withRack[rackOf[b]] && len(withRack) < racks && k < 2*n {
				continue
			}
			replicas = append(replicas, b)
			withRack[rackOf[b]] = true
		}
		ps[i] = metadata.Partition{
			Partition: int32(p),
			Leader:    replicas[0],
			Replicas:  replicas,
			ISR:       slices.Clone(replicas),
		}
	}
	return ps
}

// rackAlternated lists the brokers' IDs alternating racks (racks in name
// order, brokers by ID within one) and says how many racks there are.
func rackAlternated(brokers []metadata.Broker) ([]int32, int) {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	names := make([]string, 0, len(byRack))
	for r, ids := range byRack {
		slices.Sort(ids)
		names = append(names, r)
	}
	slices.Sort(names)
	var list []int32
	for round := 0; len(list) < len(brokers); round++ {
		for _, r := range names {
			if ids := byRack[r]; round < len(ids) {
				list = append(list, ids[round])
			}
		}
	}
	return list, len(names)
}

// liveBrokers returns the unfenced brokers in ascending ID order: only
// they get new replicas, as in Kafka.
func liveBrokers(img *metadata.Image) []metadata.Broker {
	live := img.LiveBrokers()
	slices.SortFunc(live, func(a, b metadata.Broker) int { return cmp.Compare(a.ID, b.ID) })
	return live
}

// CheckAssignment runs the checks of a manual assignment of partitions
// numbered from first (rf: the topic's replication factor, 0 for a new
// topic) on img, as CreateTopicAssigned and CreatePartitionsAssigned do,
// for requests that only validate.
func CheckAssignment(img *metadata.Image, first int, assignment [][]int32, rf int) error {
	_, err := assigned(img, first, assignment, rf)
	return err
}

// assigned turns manual replica assignments (one replica list per
// partition, numbered from first) into partitions after Kafka's
// validateManualPartitionAssignment: each list not empty
// ("The manual partition assignment includes an empty replica list."),
// of registered brokers, none twice, of the replication factor of the
// first (or rf when it is above 0); the ISR is the unfenced replicas and
// the leader its first, and a partition whose replicas are all fenced is
// refused. Errors are kerr.InvalidReplicaAssignment with Kafka's messages.
func assigned(img *metadata.Image, first int, assignment [][]int32, rf int) ([]metadata.Partition, error) {
	invalid := func(format string, args ...any) error {
		return &Error{Code: kerr.InvalidReplicaAssignment, Message: fmt.Sprintf(format, args...)}
	}
	ps := make([]metadata.Partition, len(assignment))
	for i, replicas := range assignment {
		index := first + i
		if err := checkReplicas(img, replicas, rf); err != nil {
			return nil, err
		}
		rf = len(replicas)
		var isr []int32
		for _, b := range replicas {
			if !img.Brokers[b].Fenced {
				isr = append(isr, b)
			}
		}
		if len(isr) == 0 {
			return nil, invalid("All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", index)
		}
		ps[i] = metadata.Partition{Partition: int32(index), Leader: isr[0], Replicas: slices.Clone(replicas), ISR: isr}
	}
	return ps, nil
}

// checkReplicas is Kafka's validateManualPartitionAssignment for one
// replica list (rf > 0: the replication factor it must have).
func checkReplicas(img *metadata.Image, replicas []int32, rf int) error {
	invalid := func(format string, args ...any) error {
		return &Error{Code: kerr.InvalidReplicaAssignment, Message: fmt.Sprintf(format, args...)}
	}
	if len(replicas) == 0 {
		return invalid("The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(replicas))
	for j, b := range sorted {
		if _, ok := img.Brokers[b]; !ok {
			return invalid("The manual partition assignment includes broker %d, but no such broker is registered.", b)
		}
		if j > 0 && sorted[j-1] == b {
			return invalid("The manual partition assignment includes the broker %d more than once.", b)
		}
	}
	if rf > 0 && len(replicas) != rf {
		return invalid("The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(replicas), rf)
	}
	return nil
}
