package cli

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// The commands are Kafka clients, not Samsa clients: the group and consume
// paths also work against franz-go's kfake.
func TestAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b := c.ListenAddrs()[0]

	ok(t, b, "a\nb\nc\n", "produce", "jobs", "-p", "0")
	if got := ok(t, b, "", "consume", "jobs", "-g", "workers", "-e"); got != "a\nb\nc\n" {
		t.Fatalf("group consume: %q", got)
	}
	if out := ok(t, b, "", "group", "list"); !strings.Contains(out, "workers") {
		t.Errorf("group list:\n%s", out)
	}
	if committed, lag := groupLag(t, b, "workers"); committed["jobs/0"] != 3 || lag != 0 {
		t.Errorf("describe: %v, lag %d", committed, lag)
	}
	ok(t, b, "", "group", "reset-offsets", "workers", "--topic", "jobs:0", "--to", "1")
	if committed, _ := groupLag(t, b, "workers"); committed["jobs/0"] != 3 {
		t.Errorf("dry run moved the offset: %v", committed)
	}
	ok(t, b, "", "group", "reset-offsets", "workers", "--topic", "jobs:0", "--to", "1", "--execute")
	if got := ok(t, b, "", "consume", "jobs", "-g", "workers", "-e"); got != "b\nc\n" {
		t.Errorf("consume after reset to 1: %q", got)
	}
	ok(t, b, "", "group", "delete-offsets", "workers", "--topic", "jobs")
	ok(t, b, "", "group", "delete", "workers")
	if out := ok(t, b, "", "topic", "describe", "jobs"); !strings.Contains(out, "LOG-END") {
		t.Errorf("topic describe:\n%s", out)
	}
}
