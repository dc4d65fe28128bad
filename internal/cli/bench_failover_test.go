package cli

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBenchFailover runs samsa bench failover for two kills of a
// partition leader on three real samsa serve processes: each kill is
// reported with the partitions the node led and a failover time, the
// summary names both kills, no produce failed (exit 0), and no node
// process is left.
func TestBenchFailover(t *testing.T) {
	bin := buildSamsa(t)
	dir := t.TempDir()
	out, err := exec.Command(bin, "bench", "failover", "--kills", "2", "--partitions", "2", "--dir", dir, "--log-level", "warn", "--timeout", "90s").CombinedOutput()
	if err != nil {
		t.Fatalf("bench failover: %v\n%s", err, out)
	}
	kill := regexp.MustCompile(`(?m)^kill +\d+: node [1-3] \((leader|leader and active controller) of partitions \[[0-9 ]+\]\): failover (\d+(\.\d+)?)(ms|s)$`)
	if got := kill.FindAllString(string(out), -1); len(got) != 2 {
		t.Fatalf("%d kill lines, want 2:\n%s", len(got), out)
	}
	if !strings.Contains(string(out), "failover over 2 kills: p50 ") {
		t.Fatalf("no summary:\n%s", out)
	}
	for _, m := range kill.FindAllStringSubmatch(string(out), -1) {
		d, err := time.ParseDuration(m[2] + m[4])
		if err != nil || d <= 0 {
			t.Fatalf("failover %q: %v", m[0], err)
		}
	}
	if pids, err := exec.Command("pgrep", "-f", dir).Output(); err == nil && len(pids) > 0 {
		t.Fatalf("node processes left: %s", pids)
	}
	t.Logf("%s", out)
}
