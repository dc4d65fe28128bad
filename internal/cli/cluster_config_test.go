package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClusterInfo(t *testing.T) {
	b := startBroker(t)
	golden(t, "cluster_info", ok(t, b, "", "cluster", "info"))
	var info clusterInfo
	if err := json.Unmarshal([]byte(ok(t, b, "", "cluster", "info", "--format", "json", "--apis")), &info); err != nil {
		t.Fatal(err)
	}
	if info.ClusterID == "" || info.Controller != 1 || len(info.Brokers) != 1 || info.Brokers[0].Host != "127.0.0.1" {
		t.Errorf("cluster info: %+v", info)
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
