package netfault

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestParseOverrides(t *testing.T) {
	got, err := ParseOverrides("127.0.0.1:9092=>127.0.0.1:40001, 127.0.0.1:9095=>localhost:40002")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"127.0.0.1:9092": "127.0.0.1:40001", "127.0.0.1:9095": "localhost:40002"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseOverrides = %v, want %v", got, want)
	}
	if got, err := ParseOverrides(" "); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{
		"127.0.0.1:9092",                // no =>
		"127.0.0.1:9092=>",              // no via
		"127.0.0.1=>127.0.0.1:1",        // no port
		"127.0.0.1:x=>127.0.0.1:1",      // port not a number
		"127.0.0.1:0=>127.0.0.1:1",      // port 0
		"127.0.0.1:70000=>127.0.0.1:1",  // too big
		":9092=>127.0.0.1:1",            // no host
		"a:1=>b:2,a:1=>c:3",             // twice
		"127.0.0.1:9092=>127.0.0.1:1,,", // empty entry
	} {
		if _, err := ParseOverrides(bad); err == nil || !strings.Contains(err.Error(), "dial override") {
			t.Errorf("ParseOverrides(%q) = %v, want an error", bad, err)
		}
	}
}

// TestDialerOverrides: a connection to an overridden address reaches the
// link's target through the link; others go where they were asked.
func TestDialerOverrides(t *testing.T) {
	noLeaks(t)
	srv := startTarget(t, true)
	l := newLink(t, LinkConfig{Target: srv.addr()})
	dial := Dialer(map[string]string{"127.0.0.1:1": l.Addr()})
	c, err := dial(context.Background(), "tcp", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, c, "through the link")
	readExactly(t, c, "through the link")
	if s := l.Stats(); s.Accepted != 1 {
		t.Fatalf("link accepted %d connections, want 1", s.Accepted)
	}
	d, err := dial(context.Background(), "tcp", srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	write(t, d, "direct")
	readExactly(t, d, "direct")
	if s := l.Stats(); s.Accepted != 1 {
		t.Fatalf("a direct dial went through the link: %d accepted", s.Accepted)
	}
}

func FuzzParseOverrides(f *testing.F) {
	f.Add("127.0.0.1:9092=>127.0.0.1:40001,[::1]:1=>h:2")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseOverrides(s)
		if err != nil {
			return
		}
		for dest, via := range m {
			if dest == "" || via == "" {
				t.Fatalf("empty address in %v", m)
			}
		}
	})
}
