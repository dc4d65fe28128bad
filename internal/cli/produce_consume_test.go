package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProduceConsume(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "greetings", "-p", "1")

	out := ok(t, b, "k1:hello\nk2:world\nno key here\n", "produce", "greetings", "-K:", "-H", "source=test", "-v")
	golden(t, "produce_verbose", out)

	golden(t, "consume_template", ok(t, b, "", "consume", "greetings", "--exit", "-f", `%k=%v @%p/%o [%h] %K/%S\n`))
	golden(t, "consume_json", ok(t, b, "", "consume", "greetings", "-e", "--format", "json"))
	if got := ok(t, b, "", "consume", "greetings", "-e"); got != "hello\nworld\nno key here\n" {
		t.Errorf("default format: %q", got)
	}

	for _, tc := range []struct {
		offset string
		want   string
	}{
		{"beginning", "hello world no key here"},
		{"end", ""},
		{"1", "world no key here"},
		{"-1", "no key here"},
		{"-1h", "hello world no key here"},
		{"@0", "hello world no key here"},
		{"@" + strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), ""},
		{"@" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), ""},
	} {
		got := ok(t, b, "", "consume", "greetings", "-e", "-o", tc.offset)
		if strings.Join(strings.Fields(got), " ") != tc.want {
			t.Errorf("-o %s: got %q, want %q", tc.offset, got, tc.want)
		}
	}
	// -n stops a follower.
	if got := ok(t, b, "", "consume", "greetings", "-n", "2"); got != "hello\nworld\n" {
		t.Errorf("-n 2: %q", got)
	}
	if r := samsa(t, b, "", "consume", "greetings", "-o", "yesterday"); r.err == nil {
		t.Error("-o yesterday: want an error")
	}
	if r := samsa(t, b, "", "consume", "greetings", "-f", "%q"); r.err == nil {
		t.Errorf("-f %s: want an error", "%q")
	}
	// Without transactions read_committed reads the same, to the end.
	if got := ok(t, b, "", "consume", "greetings", "-e", "--isolation", "read_committed"); got != "hello\nworld\nno key here\n" {
		t.Errorf("--isolation read_committed: %q", got)
	}
	if r := samsa(t, b, "", "consume", "greetings", "-e", "--isolation", "committed"); r.err == nil || !strings.Contains(r.err.Error(), "want read_uncommitted or read_committed") {
		t.Errorf("--isolation committed: %v", r.err)
	}
}

func TestProduceJSONAndFile(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "events", "-p", "3")
	in := `{"key":"a","value":"plain","headers":{"h":"1"},"partition":2}
{"key":null,"value":{"n":1},"partition":0}

{"value":"no key","partition":1}
`
	ok(t, b, in, "produce", "events", "--format", "json", "-z", "zstd")
	got := ok(t, b, "", "consume", "events", "-e", "-p", "0,2", "-f", `%p %k=%v %h\n`)
	// Only the newline goes: the keyless record's line ends in a space (no
	// headers), wherever the partitions' order puts it.
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	want := map[string]bool{`2 a=plain h=1`: true, `0 ={"n":1} `: true}
	found := 0
	for _, l := range lines {
		if want[l] {
			found++
		}
	}
	if found != 2 {
		t.Errorf("JSON input consumed from partitions 0 and 2:\n%s", got)
	}
	if all := ok(t, b, "", "consume", "events", "-e"); strings.Count(all, "\n") != 3 {
		t.Errorf("want 3 records in all:\n%s", all)
	}
	if r := samsa(t, b, "{not json\n", "produce", "events", "--format", "json"); r.err == nil || !strings.Contains(r.err.Error(), "line 1") {
		t.Errorf("bad JSON: %v", r.err)
	}

	// JSON output produces back unchanged.
	ok(t, b, "", "topic", "create", "copy", "-p", "1")
	dump := ok(t, b, "", "consume", "events", "-e", "-p", "2", "--format", "json")
	ok(t, b, dump, "produce", "copy", "--format", "json", "-p", "0", "--acks", "1")
	var rec jsonRecord
	copied := ok(t, b, "", "consume", "copy", "-e", "--format", "json")
	if err := json.Unmarshal([]byte(copied), &rec); err != nil {
		t.Fatal(err)
	}
	if *rec.Key != "a" || string(rec.Value) != `"plain"` || rec.Headers["h"] != "1" {
		t.Errorf("round trip: %+v", rec)
	}

	file := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(file, []byte("x\ny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok(t, b, "", "produce", "copy", "--file", file, "--acks", "0")
	// acks=0 gives no offsets back: wait until both arrive.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := ok(t, b, "", "consume", "copy", "-e", "-o", "1")
		if got == "x\ny\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("records from --file: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := samsa(t, b, "", "produce", "copy", "--acks", "2"); r.err == nil {
		t.Error("--acks 2: want an error")
	}
}

func TestConsumeGroupCommits(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "jobs", "-p", "2")
	ok(t, b, "a\nb\nc\nd\n", "produce", "jobs", "-K", "=")
	if got := ok(t, b, "", "consume", "jobs", "-g", "workers", "-e"); strings.Count(got, "\n") != 4 {
		t.Fatalf("first run of the group: %q", got)
	}
	ok(t, b, "e\n", "produce", "jobs")
	// The second run starts from the group's commits: only the new record.
	if got := ok(t, b, "", "consume", "jobs", "-g", "workers", "-e"); got != "e\n" {
		t.Errorf("second run of the group: %q", got)
	}
	var d []groupDescription
	if err := json.Unmarshal([]byte(ok(t, b, "", "group", "describe", "workers", "--format", "json")), &d); err != nil {
		t.Fatal(err)
	}
	if d[0].TotalLag != 0 || len(d[0].Partitions) != 2 {
		t.Errorf("after consuming everything: %+v", d[0])
	}
}
