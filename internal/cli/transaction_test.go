package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// testTransactions drives produce --transactional-id, consume --isolation
// and transaction list|describe against brokers b with a topic "ledger"
// of one partition: a committed import is visible read_committed; one
// whose input goes bad midway is aborted, its first record visible only
// read_uncommitted; the transactional ID is listed and described with
// its producer, Complete* state and no open partitions.
func testTransactions(t *testing.T, b, ended string) {
	t.Helper()
	ok(t, b, "one\ntwo\n", "produce", "ledger", "--transactional-id", "import-1", "-p", "0")
	r := samsa(t, b, "{\"value\":\"three\"}\nnot json\n", "produce", "ledger", "--transactional-id", "import-1", "-p", "0", "--format", "json")
	if r.err == nil || !strings.Contains(r.err.Error(), "line 2") || !strings.Contains(r.err.Error(), "transaction aborted") {
		t.Fatalf("bad input: %v", r.err)
	}
	if got := ok(t, b, "", "consume", "ledger", "-e", "--isolation", "read_committed"); got != "one\ntwo\n" {
		t.Errorf("read_committed: %q", got)
	}
	if got := ok(t, b, "", "consume", "ledger", "-e"); got != "one\ntwo\nthree\n" {
		t.Errorf("read_uncommitted: %q", got)
	}
	// The log ends with the abort marker: a member reading to the end
	// commits past it (control records move the position, unprinted).
	if got := ok(t, b, "", "consume", "ledger", "-g", "audit", "-e"); got != "one\ntwo\nthree\n" {
		t.Errorf("group: %q", got)
	}
	if committed, lag := groupLag(t, b, "audit"); committed["ledger/0"] != 5 || lag != 0 {
		t.Errorf("group committed %v, lag %d: want 5 (one, two, commit marker, three, abort marker), 0", committed, lag)
	}
	if r := samsa(t, b, "x\n", "produce", "ledger", "--transactional-id", "import-1", "--acks", "1"); r.err == nil ||
		!strings.Contains(r.err.Error(), "--transactional-id needs --acks all") {
		t.Errorf("acks 1: %v", r.err)
	}

	var listed []transactionSummary
	if err := json.Unmarshal([]byte(ok(t, b, "", "transaction", "list", "--format", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].TransactionalID != "import-1" || listed[0].ProducerID < 0 || listed[0].State != ended {
		t.Fatalf("list: %+v", listed)
	}
	if out := ok(t, b, "", "transaction", "list", "--state", "Ongoing"); strings.Contains(out, "import-1") {
		t.Errorf("list --state Ongoing:\n%s", out)
	}
	var described []transactionDetail
	if err := json.Unmarshal([]byte(ok(t, b, "", "transaction", "describe", "import-1", "--format", "json")), &described); err != nil {
		t.Fatal(err)
	}
	if len(described) != 1 {
		t.Fatalf("describe: %+v", described)
	}
	d := described[0]
	if d.TransactionalID != "import-1" || d.ProducerID != listed[0].ProducerID || d.State != ended || d.TimeoutMs <= 0 ||
		len(d.Partitions) != 0 || d.Error != "" {
		t.Errorf("describe: %+v", d)
	}
	if out := ok(t, b, "", "transaction", "describe"); !strings.Contains(out, "import-1") || !strings.Contains(out, ended) {
		t.Errorf("describe all:\n%s", out)
	}
}

// TestTransactionsAgainstKfake runs testTransactions against franz-go's
// kfake, which serves transactions as Kafka does.
func TestTransactionsAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "ledger"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	testTransactions(t, c.ListenAddrs()[0], "Empty") // kfake: Empty, not CompleteAbort
}

// TestTransactions runs testTransactions against Samsa.
func TestTransactions(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "ledger", "-p", "1")
	testTransactions(t, b, "CompleteAbort")
}
