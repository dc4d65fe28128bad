package broker_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// kcatOld runs kcat with librdkafka told the broker is Kafka fallback
// (no ApiVersions: the request versions of that release) and protocol
// debugging on, and returns its output and the versions of each request
// it sent (by name without "Request": Produce, Fetch, JoinGroup, ...).
func kcatOld(t *testing.T, fallback, stdin string, args ...string) (string, map[string][]int) {
	t.Helper()
	args = append([]string{"-X", "api.version.request=false", "-X", "broker.version.fallback=" + fallback, "-d", "protocol"}, args...)
	out, errOut := runKcatStderr(t, stdin, args...)
	sent := map[string][]int{}
	for _, m := range regexp.MustCompile(`Sent (\w+?)Request \(v(\d+)`).FindAllStringSubmatch(errOut, -1) {
		v, _ := strconv.Atoi(m[2])
		if !slices.Contains(sent[m[1]], v) {
			sent[m[1]] = append(sent[m[1]], v)
			slices.Sort(sent[m[1]])
		}
	}
	return out, sent
}

// TestLegacyKcat: librdkafka (kcat) speaking Kafka 0.9.0 (Produce v1 /
// Fetch v1) and 0.8.2 (Produce v0 / Fetch v0), both magic 0 (its lz4
// frames carry Kafka 0.8's broken header checksum), produces with every
// codec and reads back exactly what it wrote, as does franz-go, from
// batches of the producer's codec. (Told 0.10.0 or later, librdkafka asks
// ApiVersions anyway and uses current versions.)
func TestLegacyKcat(t *testing.T) {
	kcatPath(t)
	tb := startBroker(t, "", nil)
	adm := tb.admin()
	addr := tb.Addr()
	for _, tc := range []struct {
		fallback string
		version  int
	}{{"0.9.0", 1}, {"0.8.2", 0}} {
		for _, codec := range []string{"none", "gzip", "snappy", "lz4"} {
			t.Run(tc.fallback+"/"+codec, func(t *testing.T) {
				topic := "kcat-" + strings.ReplaceAll(tc.fallback, ".", "-") + "-" + codec
				createTopic(t, adm, topic, 1, nil)
				var in strings.Builder
				var want []string
				for i := range 40 {
					line := fmt.Sprintf("k%d:v%d-%s", i, i, strings.Repeat("q", i%9))
					in.WriteString(line + "\n")
					want = append(want, fmt.Sprintf("%d %s", i, strings.Replace(line, ":", " ", 1)))
				}
				// One message set: librdkafka sends a set uncompressed when
				// compressing does not make it smaller, as a set of one short
				// message is, and a loaded machine can split 40 lines into
				// several sets before the default linger.ms of 5 runs out.
				_, sentP := kcatOld(t, tc.fallback, in.String(), "-b", addr, "-P", "-t", topic, "-p", "0", "-K:", "-z", codec, "-X", "linger.ms=1000")
				out, sentC := kcatOld(t, tc.fallback, "", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %k %s %T\n")
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				if len(lines) != len(want) {
					t.Fatalf("kcat read %d records, want %d:\n%s", len(lines), len(want), out)
				}
				for i, l := range lines {
					f := strings.Fields(l)
					ts, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
					if strings.Join(f[:3], " ") != want[i] || ts > 0 {
						t.Fatalf("kcat read %q, want %q and no timestamp (magic 0)", l, want[i])
					}
				}
				got := consumeAll(t, tb, topic, len(want))
				checkStoredCodec(t, got, codec)
				for i, r := range got {
					if fmt.Sprintf("%d %s %s", r.Offset, r.Key, r.Value) != want[i] {
						t.Fatalf("franz-go read %d %s %s, want %s", r.Offset, r.Key, r.Value, want[i])
					}
				}
				if !slices.Equal(sentP["Produce"], []int{tc.version}) || !slices.Equal(sentC["Fetch"], []int{tc.version}) {
					t.Fatalf("librdkafka sent Produce %v and Fetch %v, want v%d", sentP["Produce"], sentC["Fetch"], tc.version)
				}
			})
		}
	}
}
