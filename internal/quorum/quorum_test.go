package quorum

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func open(t *testing.T, dir string) *Controller {
	t.Helper()
	start := time.Now()
	c, err := Open(Config{Dir: dir, NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open took %v", time.Since(start))
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func register(t *testing.T, c *Controller, ids ...int32) {
	t.Helper()
	for _, id := range ids {
		if err := c.RegisterBroker(ctx(t), metadata.Broker{ID: id, Host: "localhost", Port: 9092 + id}); err != nil {
			t.Fatal(err)
		}
	}
}

func wantKerr(t *testing.T, err error, want *kerr.Error) {
	t.Helper()
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke != want {
		t.Fatalf("error %v, want %v", err, want)
	}
}

func TestCreateDeleteTopic(t *testing.T) {
	c := open(t, t.TempDir())
	defer c.Close()
	if c.Image().ClusterID == "" {
		t.Fatal("no cluster ID")
	}
	register(t, c, 1)
	top, err := c.CreateTopic(ctx(t), "foo", 3, 1, map[string]string{"retention.ms": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if top.ID.IsZero() || len(top.Partitions) != 3 || top.Configs["retention.ms"] != "1000" {
		t.Fatalf("topic %+v", top)
	}
	if got := c.Image().Topics["foo"]; got != top {
		t.Fatalf("image has %+v", got)
	}
	if err := c.DeleteTopic(ctx(t), top.ID); err != nil {
		t.Fatal(err)
	}
	if c.Image().Topics["foo"] != nil || c.Image().TopicsByID[top.ID] != nil {
		t.Fatal("topic not deleted")
	}
}
