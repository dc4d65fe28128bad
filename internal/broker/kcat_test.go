package broker_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// kcatPath finds kcat. CI installs it (.ci/run), so there it must exist:
// with CI set, a missing kcat fails the test instead of skipping it.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		clientMissing(t, "kcat", "apt-get install -y kcat")
	}
	return p
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, _ := runKcatStderr(t, stdin, args...)
	return out
}

// runKcatStderr is runKcat that also returns what kcat wrote to stderr.
func runKcatStderr(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// TestKcatInterop drives the broker with librdkafka through kcat: metadata,
// produce with keys and compression, consume.
func TestKcatInterop(t *testing.T) {
	tb := startBroker(t, "", nil)
	createTopic(t, tb.admin(), "kcat", 3, nil)
	addr := tb.Addr()

	meta := runKcat(t, "", "-b", addr, "-L", "-t", "kcat")
	if !strings.Contains(meta, `topic "kcat" with 3 partitions`) {
		t.Fatalf("kcat -L:\n%s", meta)
	}
	var input strings.Builder
	for i := range 50 {
		input.WriteString("k" + string(rune('a'+i%5)) + ":value-" + strings.Repeat("z", i) + "\n")
	}
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		runKcat(t, input.String(), "-b", addr, "-P", "-t", "kcat", "-K", ":", "-z", codec, "-X", "enable.idempotence=true")
	}
	out := runKcat(t, "", "-b", addr, "-C", "-t", "kcat", "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 250 {
		t.Fatalf("kcat consumed %d records, want 250:\n%s", len(lines), out)
	}
	counts := map[string]int{}
	for _, l := range lines {
		counts[l]++
	}
	for i := range 50 {
		want := "k" + string(rune('a'+i%5)) + "=value-" + strings.Repeat("z", i)
		if counts[want] != 5 {
			t.Fatalf("record %q seen %d times, want 5", want, counts[want])
		}
	}
	// Auto-creation through librdkafka's metadata request.
	runKcat(t, "hello\n", "-b", addr, "-P", "-t", "kcat-auto")
	if got := runKcat(t, "", "-b", addr, "-C", "-t", "kcat-auto", "-o", "beginning", "-e", "-q"); strings.TrimSpace(got) != "hello" {
		t.Fatalf("auto-created topic: %q", got)
	}
}
