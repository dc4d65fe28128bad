package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestClusterInfo(t *testing.T) {
	b := startBroker(t)
	// The quorum section's numbers (log indexes, ages) vary from run to
	// run; the JSON below checks them.
	table := ok(t, b, "", "cluster", "info")
	brokersPart, quorumPart, found := strings.Cut(table, "\nQUORUM-LEADER")
	if !found || !strings.Contains(quorumPart, "1     leader") {
		t.Fatalf("no quorum section:\n%s", table)
	}
	golden(t, "cluster_info", brokersPart)
	var info clusterInfo
	if err := json.Unmarshal([]byte(ok(t, b, "", "cluster", "info", "--format", "json", "--apis")), &info); err != nil {
		t.Fatal(err)
	}
	// DescribeCluster v2 says the broker is not fenced; DescribeQuorum
	// shows the one voter, leading, its log end the high watermark.
	if info.ClusterID == "" || info.Controller != 1 || len(info.Brokers) != 1 || info.Brokers[0].Host != "127.0.0.1" ||
		info.Brokers[0].Fenced == nil || *info.Brokers[0].Fenced || info.QuorumError != "" {
		t.Errorf("cluster info: %+v", info)
	}
	if q := info.Quorum; q == nil || q.LeaderID != 1 || q.LeaderEpoch < 1 || len(q.Voters) != 1 || len(q.Observers) != 0 ||
		q.Voters[0].ID != 1 || q.Voters[0].LogEndOffset != q.HighWatermark || q.Voters[0].Lag != 0 || q.Voters[0].LastFetchTimestamp <= 0 {
		t.Errorf("quorum: %+v", q)
	}
	var produce *apiVersion
	for i, a := range info.Brokers[0].APIs {
		if a.Key == 0 {
			produce = &info.Brokers[0].APIs[i]
		}
	}
	if produce == nil || produce.Name != "Produce" || produce.Max < 9 {
		t.Errorf("Produce in --apis: %+v", produce)
	}
	if out := ok(t, b, "", "cluster", "info", "--apis"); !strings.Contains(out, "BROKER 1 APIS") || !strings.Contains(out, "ApiVersions") {
		t.Errorf("--apis table:\n%s", out)
	}
}

func TestConfigCommands(t *testing.T) {
	b := startBroker(t)
	ok(t, b, "", "topic", "create", "orders", "-p", "1")

	golden(t, "config_alter_topic", ok(t, b, "", "config", "alter", "topic", "orders", "--set", "retention.ms=60000", "--set", "cleanup.policy=compact"))
	golden(t, "config_describe_topic_changed", ok(t, b, "", "config", "describe", "topic", "orders", "--changed"))
	golden(t, "config_describe_topic_changed_json", ok(t, b, "", "config", "describe", "topic", "orders", "--changed", "--format", "json"))
	all := ok(t, b, "", "config", "describe", "topic", "orders")
	if !strings.Contains(all, "segment.bytes") || !strings.Contains(all, "default") {
		t.Errorf("every topic config:\n%s", all)
	}
	ok(t, b, "", "config", "alter", "topic", "orders", "--delete", "cleanup.policy")
	if out := ok(t, b, "", "config", "describe", "topic", "orders", "--changed"); strings.Contains(out, "cleanup.policy") {
		t.Errorf("cleanup.policy still set after --delete:\n%s", out)
	}

	ok(t, b, "", "config", "alter", "broker", "1", "--set", "log.retention.hours=24")
	out := ok(t, b, "", "config", "describe", "broker", "1")
	if !strings.Contains(out, "log.retention.hours") || !strings.Contains(out, "24") {
		t.Errorf("broker 1 configs:\n%s", out)
	}
	ok(t, b, "", "config", "alter", "broker", "--set", "num.partitions=4")
	if out := ok(t, b, "", "config", "describe", "broker", "--changed"); !strings.Contains(out, "num.partitions") {
		t.Errorf("cluster-wide broker configs:\n%s", out)
	}
	golden(t, "config_alter_dry_run", ok(t, b, "", "config", "alter", "topic", "orders", "--set", "retention.ms=1", "--dry-run"))
	if out := ok(t, b, "", "config", "describe", "topic", "orders", "--changed"); !strings.Contains(out, "60000") {
		t.Errorf("dry run changed retention.ms:\n%s", out)
	}

	for _, bad := range [][]string{
		{"config", "describe", "cluster"},
		{"config", "describe", "broker", "one"},
		{"config", "alter", "topic", "orders"},
		{"config", "alter", "topic", "orders", "--set", "novalue"},
		{"config", "alter", "topic", "orders", "--set", "no.such.config=1"},
	} {
		if r := samsa(t, b, "", bad...); r.err == nil {
			t.Errorf("samsa %s: want an error", strings.Join(bad, " "))
		}
	}
}

// TestClusterInfoFenced: kfake answers DescribeCluster v2, so each broker
// is reported fenced or not; Samsa's v1 answer leaves it unknown.
func TestClusterInfoFenced(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var info clusterInfo
	if err := json.Unmarshal([]byte(ok(t, c.ListenAddrs()[0], "", "cluster", "info", "--format", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Brokers) != 2 {
		t.Fatalf("brokers: %+v", info.Brokers)
	}
	for _, b := range info.Brokers {
		if b.Fenced == nil || *b.Fenced {
			t.Errorf("broker %d: fenced %v, want reported false", b.ID, b.Fenced)
		}
	}
}

// TestClusterInfoQuorum renders what DescribeQuorum reports of a
// three-voter quorum with an observer, one voter behind.
func TestClusterInfoQuorum(t *testing.T) {
	now := time.UnixMilli(1_700_000_010_000)
	ms := now.UnixMilli()
	rack := "r1"
	info := clusterInfo{
		ClusterID: "MkU3OEVBNTcwNTJENDM2Qk", Controller: 2,
		Brokers: []brokerInfo{
			{ID: 1, Host: "10.0.0.1", Port: 9092, Rack: &rack, Fenced: new(bool), APICount: 30, VersionGuess: "v3.9"},
			{ID: 2, Host: "10.0.0.2", Port: 9092, Fenced: new(bool), APICount: 30, VersionGuess: "v3.9"},
			{ID: 4, Host: "10.0.0.4", Port: 9092, Fenced: ptr(true), VersionGuess: "unknown"},
		},
		Quorum: &quorumInfo{
			LeaderID: 2, LeaderEpoch: 5, HighWatermark: 120,
			Voters: []quorumMember{
				{ID: 1, LogEndOffset: 118, Lag: 2, LastFetchTimestamp: ms - 250, LastCaughtUpTimestamp: ms - 900},
				{ID: 2, LogEndOffset: 120, Lag: 0, LastFetchTimestamp: ms, LastCaughtUpTimestamp: ms},
				{ID: 3, LogEndOffset: -1, Lag: -1, LastFetchTimestamp: -1, LastCaughtUpTimestamp: -1},
			},
			Observers: []quorumMember{{ID: 4, LogEndOffset: 120, Lag: 0, LastFetchTimestamp: ms - 1500, LastCaughtUpTimestamp: ms - 1500}},
		},
	}
	var out strings.Builder
	if err := writeClusterInfo(&out, info, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "cluster_info_quorum", out.String())
}

func ptr[T any](v T) *T { return &v }
