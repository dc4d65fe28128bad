package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/clustertest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// startBroker starts a Samsa broker in-process on 127.0.0.1:0 and returns
// its address.
func startBroker(t *testing.T) string {
	t.Helper()
	// Groups form at once instead of after Kafka's 3 s initial delay.
	static := map[string]string{"group.initial.rebalance.delay.ms": "0"}
	return clustertest.StartNode(t, clustertest.NodeConfig{Static: static}).Addr()
}

// result is what one command printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

// samsa runs one command line against brokers, with stdin as its input.
func samsa(t *testing.T, brokers, stdin string, args ...string) result {
	t.Helper()
	return samsaEnv(t, nil, brokers, stdin, args...)
}

// samsaEnv is samsa with the environment variables env.
func samsaEnv(t *testing.T, env map[string]string, brokers, stdin string, args ...string) result {
	t.Helper()
	root := &cobra.Command{Use: "samsa", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(Commands(Env{
		Getenv:     func(name string) string { return env[name] },
		IsTerminal: func() bool { return false },
	})...)
	var out, errOut bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if brokers != "" {
		args = append(args, "--brokers", brokers)
	}
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errOut.String(), err: err}
}

// ok runs a command that must succeed and returns its standard output.
func ok(t *testing.T, brokers, stdin string, args ...string) string {
	t.Helper()
	r := samsa(t, brokers, stdin, args...)
	if r.err != nil {
		t.Fatalf("samsa %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

// normalisers replace what changes from run to run. Where a table column
// would lose its alignment, the first group is masked with a placeholder
// of the same width instead.
var normalisers = []struct {
	re   *regexp.Regexp
	with string // "" masks group 1
}{
	{regexp.MustCompile(`(?m)^(?:ID|CLUSTER) +(\S+)$`), ""},                                               // topic and cluster IDs in tables
	{regexp.MustCompile(`"(?:id|cluster_id)": "([^"]+)"`), ""},                                            // and in JSON
	{regexp.MustCompile(`(?m)\b\d+(\.\d+)? (B|KiB|MiB)$`), "<SIZE>"},                                      // sizes on disk, always a last column
	{regexp.MustCompile(`"size_bytes": \d+`), `"size_bytes": <SIZE>`},                                     // sizes in JSON
	{regexp.MustCompile(`"timestamp":\d+`), `"timestamp":<TS>`},                                           // record timestamps
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "<BROKER>"},                                                  // listener
	{regexp.MustCompile(`"port": \d+`), `"port": <PORT>`},                                                 //
	{regexp.MustCompile(`(?m)^(\d\*? +127\.0\.0\.1 +\d+ +\S+ +\S+ +)\d+ +.*$`), "${1}##    <GUESS>"},      // API count and version guess
	{regexp.MustCompile(`(?m)^\d\*? +127\.0\.0\.1 +(\d+)`), ""},                                           // port in the cluster info table
	{regexp.MustCompile(`[a-z0-9-]+-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`), ""}, // member IDs
}

func normalise(s string) string {
	for _, n := range normalisers {
		if n.with != "" {
			s = n.re.ReplaceAllString(s, n.with)
			continue
		}
		s = n.re.ReplaceAllStringFunc(s, func(match string) string {
			m := n.re.FindStringSubmatchIndex(match)
			if m == nil || m[2] < 0 {
				return match
			}
			return match[:m[2]] + mask(m[3]-m[2]) + match[m[3]:]
		})
	}
	return s
}

// mask is a placeholder n characters wide: <######>.
func mask(n int) string {
	if n < 3 {
		return strings.Repeat("#", n)
	}
	return "<" + strings.Repeat("#", n-2) + ">"
}

// golden compares got, normalised, with testdata/NAME.golden; -update
// rewrites the file.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = normalise(got)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

func adminFor(t *testing.T, brokers string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
