package broker_test

import (
	"slices"
	"strings"
	"testing"
)

// librdkafka (kcat) told the broker is an old Kafka (kcatOld) through the
// group and offset APIs: a balanced consumer at 0.9.0, the offsets of a
// plain consumer at 0.8.2.

// checkKcatSent checks that kcat sent the wanted versions of the named
// requests.
func checkKcatSent(t *testing.T, sent, want map[string][]int) {
	t.Helper()
	t.Logf("requests sent (name: versions) %v", sent)
	for name, versions := range want {
		if !slices.Equal(sent[name], versions) {
			t.Errorf("%s sent at versions %v, want %v", name, sent[name], versions)
		}
	}
}

// values returns "v<from>".."v<to-1>", sorted as strings.
func values(from, to int) []string {
	var all []string
	for v := from; v < to; v++ {
		all = append(all, "v"+itoa(v))
	}
	slices.Sort(all)
	return all
}

// TestGroupKcatOldBroker: a kcat balanced consumer taking the broker for
// Kafka 0.9.0 (FindCoordinator v0, JoinGroup v0, SyncGroup v0, OffsetFetch
// v1, OffsetCommit v2, LeaveGroup v0, Fetch v1) reads every record of a
// topic once and commits them all, and a second run of its group reads
// only what came since.
func TestGroupKcatOldBroker(t *testing.T) {
	kcatPath(t)
	tb := startBroker(t, "", groupStatic())
	createTopic(t, tb.admin(), "kcat-old", 3, nil)
	produceN(t, tb, "kcat-old", 0, 90)
	const group = "kcat-old-g"
	want := map[string][]int{"Metadata": {0}, "FindCoordinator": {0}, "JoinGroup": {0}, "SyncGroup": {0},
		"OffsetFetch": {1}, "OffsetCommit": {2}, "Fetch": {1}, "LeaveGroup": {0}}
	run := func(startOffsets []int) []string {
		t.Helper()
		out, sent := kcatOld(t, "0.9.0", "", "-b", tb.Addr(), "-G", group, "-X", "session.timeout.ms=6000",
			"-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\n", "kcat-old")
		want["ListOffsets"] = startOffsets
		checkKcatSent(t, sent, want)
		got := strings.Fields(out)
		slices.Sort(got)
		return got
	}
	// Without commits it asks where the partitions start (ListOffsets v0);
	// the second run starts at its commits.
	if got := run([]int{0}); !slices.Equal(got, values(0, 90)) {
		t.Fatalf("first run read %d records %v, want v0..v89 once each", len(got), got)
	}
	checkCommittedAtEnds(t, tb, group, "kcat-old")
	produceN(t, tb, "kcat-old", 90, 30)
	if got := run(nil); !slices.Equal(got, values(90, 120)) {
		t.Fatalf("second run read %v, want the 30 records produced since", got)
	}
	checkCommittedAtEnds(t, tb, group, "kcat-old")
}

// TestKcatOldBrokerOffsets: kcat taking the broker for Kafka 0.8.2 lists
// the topic (Metadata v0) and reads the last five records (-o -5: the end
// from ListOffsets v0, then Fetch v0).
func TestKcatOldBrokerOffsets(t *testing.T) {
	kcatPath(t)
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "kcat-old-c", 2, nil)
	produceN(t, tb, "kcat-old-c", 0, 40)
	out, sent := kcatOld(t, "0.8.2", "", "-b", tb.Addr(), "-L", "-t", "kcat-old-c")
	checkKcatSent(t, sent, map[string][]int{"Metadata": {0}})
	if !strings.Contains(out, `topic "kcat-old-c" with 2 partitions`) {
		t.Fatalf("kcat -L:\n%s", out)
	}
	out, sent = kcatOld(t, "0.8.2", "", "-b", tb.Addr(), "-C", "-t", "kcat-old-c", "-p", "0", "-o", "-5", "-e", "-q", "-f", "%o %s\n")
	checkKcatSent(t, sent, map[string][]int{"Metadata": {0}, "ListOffsets": {0}, "Fetch": {0}})
	// Round-robin put the even values in partition 0, at offsets 0..19.
	var want []string
	for i := 15; i < 20; i++ {
		want = append(want, itoa(i), "v"+itoa(2*i))
	}
	if got := strings.Fields(out); !slices.Equal(got, want) {
		t.Fatalf("kcat -o -5 read %v, want %v", got, want)
	}
}
