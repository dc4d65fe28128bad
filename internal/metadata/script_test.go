package metadata

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata scripts")

// TestScripts runs the apply scripts in testdata/*.txt. A script is a series
// of blocks: a command line, "----", the expected output, a blank line.
// Commands (IDs are small integers n standing for the topic ID {n, 0, ...}):
//
//	cluster-id ID
//	register-broker ID HOST PORT [RACK]
//	create-topic NAME ID PARTITIONS REPLICAS [k=v ...]   REPLICAS like 1,2; leader = first
//	delete-topic ID
//	create-partitions ID COUNT REPLICAS
//	alter-topic NAME [k=v ...] [-k ...]
//	alter-broker [k=v ...] [-k ...]
//	allocate-pids SIZE
//	dump          prints the image
//	roundtrip     encodes and decodes the image, and prints it
//
// Each record is encoded and decoded before it is applied, as raft would.
// Run with -rewrite to update the expected output.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out strings.Builder
	img := EmptyImage()
	index := uint64(0)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cmdLine := i + 1
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: command not followed by ----", file, cmdLine)
		}
		var want []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		index++
		got := runCommand(t, &img, index, line)
		out.WriteString(line + "\n----\n" + got)
		if i < len(lines) {
			out.WriteString("\n")
		}
		if !*rewrite && strings.TrimSpace(got) != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, cmdLine, line, got, strings.Join(want, "\n"))
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scriptID(t *testing.T, s string) TopicID {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad topic ID %q", s)
	}
	return TopicID{0: byte(n)}
}

func scriptInt(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

func scriptPartitions(t *testing.T, first, count int64, replicas string) []Partition {
	var rs []int32
	for _, r := range strings.Split(replicas, ",") {
		rs = append(rs, int32(scriptInt(t, r)))
	}
	var ps []Partition
	for p := first; p < first+count; p++ {
		ps = append(ps, Partition{Partition: int32(p), Leader: rs[0], Replicas: rs, ISR: rs})
	}
	return ps
}

func scriptConfigs(args []string) (set map[string]string, del []string) {
	set = map[string]string{}
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			set[k] = v
		} else {
			del = append(del, strings.TrimPrefix(a, "-"))
		}
	}
	return set, del
}

func runCommand(t *testing.T, img **Image, index uint64, line string) string {
	f := strings.Fields(line)
	arg := func(i int) string {
		if i >= len(f) {
			t.Fatalf("%q: missing argument %d", line, i)
		}
		return f[i]
	}
	var r Record
	switch f[0] {
	case "dump":
		return dumpImage(*img)
	case "roundtrip":
		b, err := EncodeImage(*img)
		if err != nil {
			return "error " + err.Error() + "\n"
		}
		decoded, err := DecodeImage(b)
		if err != nil {
			return "error " + err.Error() + "\n"
		}
		*img = decoded
		return dumpImage(decoded)
	case "cluster-id":
		r = SetClusterID{ClusterID: arg(1)}
	case "register-broker":
		b := Broker{ID: int32(scriptInt(t, arg(1))), Host: arg(2), Port: int32(scriptInt(t, arg(3)))}
		if len(f) > 4 {
			b.Rack = f[4]
		}
		r = RegisterBroker{Broker: b}
	case "create-topic":
		set, _ := scriptConfigs(f[min(5, len(f)):])
		r = CreateTopic{Name: arg(1), ID: scriptID(t, arg(2)), Partitions: scriptPartitions(t, 0, scriptInt(t, arg(3)), arg(4)), Configs: set}
	case "delete-topic":
		r = DeleteTopic{ID: scriptID(t, arg(1))}
	case "create-partitions":
		id := scriptID(t, arg(1))
		first := int64(0)
		if top := (*img).TopicByID(id); top != nil {
			first = int64(len(top.Partitions))
		}
		r = CreatePartitions{TopicID: id, New: scriptPartitions(t, first, scriptInt(t, arg(2)), arg(3))}
	case "alter-topic":
		set, del := scriptConfigs(f[2:])
		r = AlterTopicConfigs{Name: arg(1), Set: set, Delete: del}
	case "alter-broker":
		set, del := scriptConfigs(f[1:])
		r = AlterBrokerConfigs{Set: set, Delete: del}
	case "allocate-pids":
		r = AllocateProducerIDs{BlockSize: scriptInt(t, arg(1))}
	default:
		t.Fatalf("unknown command %q", line)
	}
	b, err := EncodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	before := *img
	next, res := before.Apply(index, decoded)
	*img = next
	switch {
	case res.Err != nil:
		if next != before {
			t.Errorf("%q: rejected record changed the image", line)
		}
		var ke *kerr.Error
		if !errors.As(res.Err, &ke) {
			t.Fatalf("not a kerr: %v", res.Err)
		}
		return "error " + ke.Message + "\n"
	case r.Type() == TypeAllocateProducerIDs:
		return fmt.Sprintf("ok first-producer-id=%d\n", res.FirstProducerID)
	case next == before:
		return "ok unchanged\n"
	default:
		return "ok\n"
	}
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
		fmt.Fprintf(&b, "broker %d %s:%d rack=%q\n", br.ID, br.Host, br.Port, br.Rack)
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
			fmt.Fprintf(&b, "  p%d leader=%d epochs=%d/%d replicas=%v isr=%v\n", p.Partition, p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.Replicas, p.ISR)
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
