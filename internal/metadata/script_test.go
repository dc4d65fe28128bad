package metadata

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScripts runs the apply scripts in testdata/, each from an empty image,
// with github.com/cockroachdb/datadriven. A topic ID is a small integer n
// standing for the TopicID {n, 0, ...}. Commands:
//
//	cluster-id id=ID
//	register-broker id=N host=H port=P [rack=R] [incarnation=N] [unclean]   incarnation N: the UUID {N, 0, ...}; unclean: after an unclean shutdown
//	fence-broker id=N epoch=E
//	unfence-broker id=N epoch=E
//	create-topic name=T id=N partitions=N replicas=(1,2) [configs=(k=v, ...)]   leader = first replica
//	delete-topic id=N
//	create-partitions id=N count=N replicas=(1,2)
//	alter-topic name=T [set=(k=v, ...)] [delete=(k, ...)]
//	alter-broker [set=(k=v, ...)] [delete=(k, ...)]
//	allocate-pids size=N
//	alter-partition broker=N broker-epoch=E id=N partition=N leader-epoch=E partition-epoch=E isr=(1,2) [broker-epochs=(E, ...)]
//	reassign id=N partition=N [replicas=(2,3)]   without replicas: cancel
//	elect id=N partition=N [unclean]
//	offline-replicas broker=N broker-epoch=E replicas=(id/partition, ...)
//	needs-unclean-election id=N partition=N   whether the controller would elect unclean
//	recovery id=N partition=N [reports=(B:EPOCH:END, ...)]   the recovery election the controller would make from these reports (at the partition's epoch)
//	recover id=N partition=N leader=B [partition-epoch=E] [broker-epochs=(E, ...)]   a RecoverLeader record (defaults: the partition's epoch, the candidates' epochs)
//	dump          prints the image
//	roundtrip     encodes and decodes the image, and prints it
//
// Each record is encoded and decoded before it is applied at the next Raft
// index (every command takes one), as raft would. A record command prints ok
// or the Kafka error that rejected it, followed by "unchanged" when the image
// did not change (a rejected record must leave it unchanged).
// Run with -rewrite to update the expected output.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		img := EmptyImage()
		var index uint64
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			index++
			switch d.Cmd {
			case "dump":
				return dumpImage(img)
			case "needs-unclean-election":
				var id, partition int
				d.ScanArgs(t, "id", &id)
				d.ScanArgs(t, "partition", &partition)
				return fmt.Sprintln(img.NeedsUncleanElection(img.TopicByID(TopicID{0: byte(id)}).Partitions[partition]))
			case "recovery":
				return scriptRecovery(t, d, img)
			case "roundtrip":
				b, err := EncodeImage(img)
				if err != nil {
					return "error " + err.Error()
				}
				decoded, err := DecodeImage(b)
				if err != nil {
					return "error " + err.Error()
				}
				img = decoded
				return dumpImage(decoded)
			}
			r := scriptRecord(t, d, img)
			b, err := EncodeRecord(r)
			if err != nil {
				d.Fatalf(t, "encode: %v", err)
			}
			decoded, err := DecodeRecord(b)
			if err != nil {
				d.Fatalf(t, "decode: %v", err)
			}
			before := img
			var res Result
			img, res = before.Apply(index, decoded)
			out := "ok"
			switch {
			case res.Err != nil:
				out = "error " + res.Err.Message
			case r.Type() == TypeAllocateProducerIDs:
				out += fmt.Sprintf(" first-producer-id=%d", res.FirstProducerID)
			case r.Type() == TypeRegisterBroker:
				out += fmt.Sprintf(" broker-epoch=%d", res.BrokerEpoch)
			}
			if img == before {
				out += " unchanged"
			}
			return out
		})
	})
}

// scriptRecord is the record a command of TestScripts stands for.
func scriptRecord(t *testing.T, d *datadriven.TestData, img *Image) Record {
	var (
		name, host, rack string
		id, count, port  int
		replicas         []int32
		size             int64
	)
	set, del := map[string]string{}, []string(nil)
	d.MaybeScanArgs(t, "name", &name)
	d.MaybeScanArgs(t, "delete", &del)
	for _, key := range []string{"set", "configs"} {
		if arg, ok := d.Arg(key); ok {
			for _, kv := range arg.Vals {
				k, v, _ := strings.Cut(kv, "=")
				set[k] = v
			}
		}
	}
	switch d.Cmd {
	case "cluster-id":
		d.ScanArgs(t, "id", &name)
		return SetClusterID{ClusterID: name}
	case "register-broker":
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "host", &host)
		d.ScanArgs(t, "port", &port)
		d.MaybeScanArgs(t, "rack", &rack)
		var incarnation int
		d.MaybeScanArgs(t, "incarnation", &incarnation)
		return RegisterBroker{Broker: Broker{ID: int32(id), Host: host, Port: int32(port), Rack: rack, Incarnation: TopicID{0: byte(incarnation)}},
			UncleanShutdown: d.HasArg("unclean")}
	case "fence-broker", "unfence-broker":
		var epoch int64
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "epoch", &epoch)
		if d.Cmd == "fence-broker" {
			return FenceBroker{ID: int32(id), Epoch: epoch}
		}
		return UnfenceBroker{ID: int32(id), Epoch: epoch}
	case "create-topic":
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "partitions", &count)
		d.ScanArgs(t, "replicas", &replicas)
		return CreateTopic{Name: name, ID: TopicID{0: byte(id)}, Partitions: scriptPartitions(0, count, replicas), Configs: set}
	case "delete-topic":
		d.ScanArgs(t, "id", &id)
		return DeleteTopic{ID: TopicID{0: byte(id)}}
	case "create-partitions":
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "count", &count)
		d.ScanArgs(t, "replicas", &replicas)
		first := 0
		if top := img.TopicByID(TopicID{0: byte(id)}); top != nil {
			first = len(top.Partitions)
		}
		return CreatePartitions{TopicID: TopicID{0: byte(id)}, New: scriptPartitions(first, count, replicas)}
	case "alter-topic":
		return AlterTopicConfigs{Name: name, Set: set, Delete: del}
	case "alter-broker":
		return AlterBrokerConfigs{Set: set, Delete: del}
	case "alter-partition":
		return scriptAlterPartition(t, d)
	case "reassign":
		var partition int
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "partition", &partition)
		if arg, ok := d.Arg("replicas"); ok && len(arg.Vals) == 1 && arg.Vals[0] == "" {
			replicas = []int32{} // replicas=(): an empty target, not a cancellation
		} else {
			d.MaybeScanArgs(t, "replicas", &replicas)
		}
		return AlterPartitionReassignment{TopicID: TopicID{0: byte(id)}, Partition: int32(partition), Replicas: replicas}
	case "elect":
		var partition int
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "partition", &partition)
		return ElectLeader{TopicID: TopicID{0: byte(id)}, Partition: int32(partition), Unclean: d.HasArg("unclean")}
	case "recover":
		var partition, leader int
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "partition", &partition)
		d.ScanArgs(t, "leader", &leader)
		epoch := -1
		var epochs []int64
		if top := img.TopicByID(TopicID{0: byte(id)}); top != nil && partition < len(top.Partitions) {
			epoch = int(top.Partitions[partition].PartitionEpoch)
			epochs = img.CandidateEpochs(top.Partitions[partition])
		}
		d.MaybeScanArgs(t, "partition-epoch", &epoch)
		if arg, ok := d.Arg("broker-epochs"); ok {
			epochs = nil
			for i := range arg.Vals {
				var e int64
				arg.Scan(t, i, &e)
				epochs = append(epochs, e)
			}
		}
		return RecoverLeader{TopicID: TopicID{0: byte(id)}, Partition: int32(partition), PartitionEpoch: int32(epoch), Leader: int32(leader), BrokerEpochs: epochs}
	case "offline-replicas":
		var broker int
		var epoch int64
		d.ScanArgs(t, "broker", &broker)
		d.ScanArgs(t, "broker-epoch", &epoch)
		r := OfflineReplicas{BrokerID: int32(broker), BrokerEpoch: epoch}
		arg, _ := d.Arg("replicas")
		for _, v := range arg.Vals {
			var topic, partition int
			if _, err := fmt.Sscanf(v, "%d/%d", &topic, &partition); err != nil {
				d.Fatalf(t, "replica %q: %v", v, err)
			}
			r.Replicas = append(r.Replicas, PartitionRef{TopicID: TopicID{0: byte(topic)}, Partition: int32(partition)})
		}
		return r
	case "allocate-pids":
		d.ScanArgs(t, "size", &size)
		return AllocateProducerIDs{BlockSize: size}
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return nil
}

// scriptPartitions numbers count partitions from first, each on replicas,
// all in sync, led by the first.
func scriptPartitions(first, count int, replicas []int32) []Partition {
	var ps []Partition
	for p := first; p < first+count; p++ {
		ps = append(ps, Partition{Partition: int32(p), Leader: replicas[0], Replicas: replicas, ISR: replicas})
	}
	return ps
}

// dumpImage prints img deterministically.
func dumpImage(img *Image) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster-id=%s index=%d next-producer-id=%d\n", img.ClusterID, img.Index, img.NextProducerID)
	var ids []int
	for id := range img.Brokers {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		br := img.Brokers[int32(id)]
		fmt.Fprintf(&b, "broker %d %s:%d rack=%q incarnation=%d epoch=%d fenced=%t\n", br.ID, br.Host, br.Port, br.Rack, br.Incarnation[0], br.Epoch, br.Fenced)
	}
	if len(img.BrokerConfigs) > 0 {
		fmt.Fprintf(&b, "broker-configs %s\n", dumpConfigs(img.BrokerConfigs))
	}
	var names []string
	for name := range img.Topics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		top := img.Topics[name]
		if img.TopicsByID[top.ID] != top {
			fmt.Fprintf(&b, "INCONSISTENT TopicsByID for %s\n", name)
		}
		fmt.Fprintf(&b, "topic %s id=%d configs=[%s]\n", name, top.ID[0], dumpConfigs(top.Configs))
		for _, p := range top.Partitions {
			fmt.Fprintf(&b, "  p%d leader=%d epochs=%d/%d replicas=%v isr=%v", p.Partition, p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.Replicas, p.ISR)
			if p.Reassigning() {
				fmt.Fprintf(&b, " adding=%v removing=%v", p.AddingReplicas, p.RemovingReplicas)
			}
			if len(p.LastKnownISR) > 0 {
				fmt.Fprintf(&b, " last-known=%v", p.LastKnownISR)
			}
			if len(p.Offline) > 0 {
				fmt.Fprintf(&b, " offline=%v", p.Offline)
			}
			b.WriteString("\n")
		}
	}
	if len(img.TopicsByID) != len(img.Topics) {
		b.WriteString("INCONSISTENT topic maps\n")
	}
	return b.String()
}

func dumpConfigs(m map[string]string) string {
	var kvs []string
	for k, v := range m {
		kvs = append(kvs, k+"="+v)
	}
	sort.Strings(kvs)
	return strings.Join(kvs, " ")
}

func scriptAlterPartition(t *testing.T, d *datadriven.TestData) AlterPartition {
	var (
		broker, id, partition, leaderEpoch, partitionEpoch int
		brokerEpoch                                        int64
		isr                                                []int32
		epochs                                             []int64
	)
	d.ScanArgs(t, "broker", &broker)
	d.ScanArgs(t, "broker-epoch", &brokerEpoch)
	d.ScanArgs(t, "id", &id)
	d.ScanArgs(t, "partition", &partition)
	d.ScanArgs(t, "leader-epoch", &leaderEpoch)
	d.ScanArgs(t, "partition-epoch", &partitionEpoch)
	d.ScanArgs(t, "isr", &isr)
	if arg, ok := d.Arg("broker-epochs"); ok {
		for i := range arg.Vals {
			var e int64
			arg.Scan(t, i, &e)
			epochs = append(epochs, e)
		}
	}
	return AlterPartition{BrokerID: int32(broker), BrokerEpoch: brokerEpoch, TopicID: TopicID{0: byte(id)}, Partition: int32(partition),
		LeaderEpoch: int32(leaderEpoch), PartitionEpoch: int32(partitionEpoch), ISR: isr, BrokerEpochs: epochs}
}

// scriptRecovery prints Image.RecoveryLeader's decision for a partition
// from reports B:EPOCH:END (each at the partition's current epoch).
func scriptRecovery(t *testing.T, d *datadriven.TestData, img *Image) string {
	var id, partition int
	d.ScanArgs(t, "id", &id)
	d.ScanArgs(t, "partition", &partition)
	p := img.TopicByID(TopicID{0: byte(id)}).Partitions[partition]
	if !p.AwaitsRecovery() {
		return "not awaiting recovery\n"
	}
	reports := map[int32]LogReport{}
	if arg, ok := d.Arg("reports"); ok {
		for _, v := range arg.Vals {
			var broker, epoch int32
			var end int64
			if _, err := fmt.Sscanf(v, "%d:%d:%d", &broker, &epoch, &end); err != nil {
				d.Fatalf(t, "report %q: %v", v, err)
			}
			reports[broker] = LogReport{PartitionEpoch: p.PartitionEpoch, LastEpoch: epoch, LogEndOffset: end}
		}
	}
	leader, waiting, ok := img.RecoveryLeader(p, reports)
	if !ok {
		return fmt.Sprintf("candidates=%v waiting=%v\n", p.RecoveryCandidates(), waiting)
	}
	return fmt.Sprintf("candidates=%v leader=%d\n", p.RecoveryCandidates(), leader)
}
