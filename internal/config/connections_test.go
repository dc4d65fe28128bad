package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConnectionLimits(t *testing.T) {
	b, err := NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.ConnectionLimits(nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.MaxConnections != 2147483647 || l.MaxConnectionsPerIP != 2147483647 || len(l.PerIPOverrides) != 0 || l.MaxIdle != 10*time.Minute {
		t.Fatalf("defaults: %+v", l)
	}

	b, err = NewBroker(map[string]string{
		"max.connections": "10", "max.connections.per.ip": "0",
		"max.connections.per.ip.overrides": "127.0.0.1:5, [::1]:7,10.0.0.1 : 0",
		"connections.max.idle.ms":          "1500",
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err = b.ConnectionLimits(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ConnectionLimits{MaxConnections: 10, MaxConnectionsPerIP: 0, MaxIdle: 1500 * time.Millisecond, PerIPOverrides: map[netip.Addr]int{
		netip.MustParseAddr("127.0.0.1"): 5, netip.MustParseAddr("::1"): 7, netip.MustParseAddr("10.0.0.1"): 0,
	}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v, want %+v", l, want)
	}
	for _, idle := range []string{"-1", "9223372036854775807"} {
		b, _ = NewBroker(map[string]string{"connections.max.idle.ms": idle})
		if l, _ := b.ConnectionLimits(nil); l.MaxIdle >= 0 {
			t.Errorf("connections.max.idle.ms=%s: idle %v, want never", idle, l.MaxIdle)
		}
	}

	for static, wantErr := range map[string]string{
		"max.connections=-1":                                "invalid value '-1' for config max.connections: must be at least 0",
		"max.connections.per.ip=-1":                         "invalid value '-1' for config max.connections.per.ip: must be at least 0",
		"max.connections.per.ip.overrides=host":             `invalid value 'host' for config max.connections.per.ip.overrides: entry "host": want host:count`,
		"max.connections.per.ip.overrides=h:-2":             `invalid value 'h:-2' for config max.connections.per.ip.overrides: entry "h:-2": the count must be a non-negative integer`,
		"connections.max.idle.ms=soon":                      "invalid value 'soon' for config connections.max.idle.ms: not a long",
		"max.connections.per.ip.overrides=:5":               `invalid value ':5' for config max.connections.per.ip.overrides: entry ":5": want host:count`,
		"max.connections.per.ip=0":                          "config max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides is set",
		"max.connections.per.ip.overrides=nohost.invalid:1": "config max.connections.per.ip.overrides: resolving nohost.invalid",
	} {
		k, v, _ := strings.Cut(static, "=")
		b, err := NewBroker(map[string]string{k: v})
		if err == nil {
			_, err = b.ConnectionLimits(nil)
		}
		if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
			t.Errorf("%s: %v, want %q", static, err, wantErr)
		}
	}
}

func TestConnectionLimitsDynamic(t *testing.T) {
	b, err := NewBroker(map[string]string{"max.connections.per.ip": "5"})
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{"max.connections": "7", "max.connections.per.ip": "7", "max.connections.per.ip.overrides": "127.0.0.1:7"} {
		if err := ValidateBrokerDynamic(name, value); err != nil {
			t.Errorf("%s is dynamic in Kafka: %v", name, err)
		}
	}
	if err := ValidateBrokerDynamic("connections.max.idle.ms", "5"); err == nil {
		t.Error("connections.max.idle.ms is not dynamic in Kafka")
	}
	dynamic := map[string]string{"max.connections.per.ip": "9", "max.connections": "3"}
	l, err := b.ConnectionLimits(dynamic)
	if err != nil || l.MaxConnectionsPerIP != 9 || l.MaxConnections != 3 {
		t.Fatalf("dynamic over static: %+v %v", l, err)
	}
	if !ConnectionConfigsChanged(nil, dynamic) || ConnectionConfigsChanged(dynamic, map[string]string{"max.connections.per.ip": "9", "max.connections": "3", "num.partitions": "4"}) {
		t.Error("ConnectionConfigsChanged looks at the connection configs only")
	}
	for _, tc := range []struct {
		set  map[string]string
		del  []string
		want string
	}{
		{map[string]string{"max.connections.per.ip": "0"}, nil, "max.connections.per.ip can be set to zero only if"},
		{map[string]string{"max.connections.per.ip": "0", "max.connections.per.ip.overrides": "127.0.0.1:4"}, nil, ""},
		{map[string]string{"max.connections.per.ip.overrides": "nohost.invalid:4"}, nil, "resolving nohost.invalid"},
		{map[string]string{"num.partitions": "3"}, nil, ""},
		{nil, []string{"max.connections"}, ""},
	} {
		err := b.ValidateDynamicChange(dynamic, tc.set, tc.del)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("set %v del %v: %v, want %q", tc.set, tc.del, err, tc.want)
		}
	}
}
