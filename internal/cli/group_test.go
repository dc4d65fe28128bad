package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// groupLag reads `group describe --format json` into committed offsets and
// the total lag.
func groupLag(t *testing.T, b, group string) (map[string]int64, int64) {
	t.Helper()
	var d []groupDescription
	if err := json.Unmarshal([]byte(ok(t, b, "", "group", "describe", group, "--format", "json")), &d); err != nil {
		t.Fatal(err)
	}
	committed := map[string]int64{}
	for _, p := range d[0].Partitions {
		committed[p.Topic+"/"+itoa(p.Partition)] = p.Committed
	}
	return committed, d[0].TotalLag
}

func itoa(n int32) string { return string(rune('0' + n)) }

func TestGroupCommands(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "jobs", "-p", "2")
	ok(t, b, "a\nb\nc\nd\n", "produce", "jobs", "-p", "0")
	ok(t, b, "e\nf\n", "produce", "jobs", "-p", "1")
	ok(t, b, "", "consume", "jobs", "-g", "workers", "-e")
	ok(t, b, "g\nh\n", "produce", "jobs", "-p", "0")

	golden(t, "group_list", ok(t, b, "", "group", "list"))
	golden(t, "group_list_json", ok(t, b, "", "group", "list", "--format", "json"))
	golden(t, "group_describe", ok(t, b, "", "group", "describe", "workers"))
	golden(t, "group_describe_json", ok(t, b, "", "group", "describe", "workers", "--format", "json"))

	// A dry run shows the move and changes nothing.
	before, lag := groupLag(t, b, "workers")
	if lag != 2 || before["jobs/0"] != 4 || before["jobs/1"] != 2 {
		t.Fatalf("before reset: %v, lag %d", before, lag)
	}
	golden(t, "group_reset_dry_run", ok(t, b, "", "group", "reset-offsets", "workers", "--topic", "jobs", "--to", "earliest"))
	golden(t, "group_reset_dry_run_json", ok(t, b, "", "group", "reset-offsets", "workers", "--all-topics", "--shift-by", "-1", "--format", "json"))
	if after, lag := groupLag(t, b, "workers"); lag != 2 || after["jobs/0"] != 4 || after["jobs/1"] != 2 {
		t.Fatalf("dry run changed the offsets: %v, lag %d", after, lag)
	}

	golden(t, "group_reset_execute", ok(t, b, "", "group", "reset-offsets", "workers", "--topic", "jobs", "--to", "earliest", "--execute"))
	if after, lag := groupLag(t, b, "workers"); lag != 8 || after["jobs/0"] != 0 {
		t.Errorf("after --to earliest: %v, lag %d", after, lag)
	}
	for _, tc := range []struct {
		args []string
		p0   int64
		p1   int64
	}{
		{[]string{"--topic", "jobs:0", "--to", "3"}, 3, 0},
		{[]string{"--all-topics", "--shift-by", "2"}, 5, 2},
		{[]string{"--all-topics", "--shift-by", "100"}, 6, 2}, // kept within the log
		{[]string{"--topic", "jobs", "--to", "latest"}, 6, 2},
		{[]string{"--topic", "jobs", "--to", "@0"}, 0, 0},
		{[]string{"--topic", "jobs", "--to", "-1h"}, 0, 0},
		{[]string{"--topic", "jobs", "--to", "@" + time.Now().Add(time.Hour).Format(time.RFC3339)}, 6, 2},
	} {
		args := append([]string{"group", "reset-offsets", "workers", "--execute"}, tc.args...)
		ok(t, b, "", args...)
		if after, _ := groupLag(t, b, "workers"); after["jobs/0"] != tc.p0 || after["jobs/1"] != tc.p1 {
			t.Errorf("reset %v: %v, want %d and %d", tc.args, after, tc.p0, tc.p1)
		}
	}
	// The next member starts from the reset offsets: none left.
	if got := ok(t, b, "", "consume", "jobs", "-g", "workers", "-e"); got != "" {
		t.Errorf("consume after reset to latest: %q", got)
	}

	golden(t, "group_delete_offsets", ok(t, b, "", "group", "delete-offsets", "workers", "--topic", "jobs:0"))
	if after, _ := groupLag(t, b, "workers"); after["jobs/0"] != -1 && len(after) != 1 {
		t.Errorf("after delete-offsets jobs:0: %v", after)
	}

	for _, bad := range [][]string{
		{"group", "reset-offsets", "workers", "--topic", "jobs"},
		{"group", "reset-offsets", "workers", "--topic", "jobs", "--to", "0", "--shift-by", "1"},
		{"group", "reset-offsets", "workers", "--to", "0"},
		{"group", "reset-offsets", "workers", "--topic", "jobs", "--to", "-5"},
		{"group", "reset-offsets", "workers", "--topic", "jobs:x", "--to", "0"},
		{"group", "delete-offsets", "workers"},
	} {
		if r := samsa(t, b, "", bad...); r.err == nil {
			t.Errorf("samsa %s: want an error", strings.Join(bad, " "))
		}
	}

	golden(t, "group_delete", ok(t, b, "", "group", "delete", "workers"))
	if out := ok(t, b, "", "group", "list"); strings.Contains(out, "workers") {
		t.Errorf("workers still listed after delete:\n%s", out)
	}
}

func TestGroupWithActiveMember(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "live", "-p", "2")
	ok(t, b, "a\nb\n", "produce", "live", "-p", "1")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b), kgo.ConsumerGroup("active"), kgo.ConsumeTopics("live"),
		kgo.ClientID("member-one"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := ctxT(t)
	for n := 0; n < 2; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		n += len(fs.Records())
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	out := ok(t, b, "", "group", "describe", "active")
	golden(t, "group_describe_active", out)

	// The coordinator refuses to move the offsets of a group with members.
	r := samsa(t, b, "", "group", "reset-offsets", "active", "--topic", "live", "--to", "earliest", "--execute")
	if r.err == nil {
		t.Errorf("reset of an active group: want an error, got\n%s", r.stdout)
	}
	if r := samsa(t, b, "", "group", "delete", "active"); r.err == nil {
		t.Errorf("delete of an active group: want an error, got\n%s", r.stdout)
	}

	// A second member with --exit stops once the partitions it is given
	// are at their end, though the first member keeps the others.
	done := make(chan result, 1)
	go func() { done <- samsa(t, b, "", "consume", "live", "-g", "active", "--exit") }()
	select {
	case r := <-done:
		if r.err != nil || r.stdout != "" {
			t.Errorf("second member: %v, printed %q", r.err, r.stdout)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("second member with --exit did not stop")
	}
}
