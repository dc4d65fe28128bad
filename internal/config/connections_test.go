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
	l, err := b.ConnectionLimits()
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
	l, err = b.ConnectionLimits()
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
		if l, _ := b.ConnectionLimits(); l.MaxIdle >= 0 {
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
			_, err = b.ConnectionLimits()
		}
		if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
			t.Errorf("%s: %v, want %q", static, err, wantErr)
		}
	}
}
