package broker_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMessageMaxBytesZeroRejectsEveryBatch checks that a limit of zero is a
// limit, as in Kafka (UnifiedLog rejects any batch larger than
// max.message.bytes), not "no limit": set on the broker (message.max.bytes,
// the topic default) and on a topic (max.message.bytes).
func TestMessageMaxBytesZeroRejectsEveryBatch(t *testing.T) {
	t.Run("broker message.max.bytes", func(t *testing.T) {
		tb := startBroker(t, "", map[string]string{"message.max.bytes": "0"})
		createTopic(t, tb.admin(), "zero", 1, nil)
		produceTooLarge(t, tb, "zero")
	})
	t.Run("topic max.message.bytes", func(t *testing.T) {
		tb := startBroker(t, "", nil)
		createTopic(t, tb.admin(), "zero", 1, map[string]*string{"max.message.bytes": strp("0")})
		createTopic(t, tb.admin(), "default", 1, nil)
		produceTooLarge(t, tb, "zero")
		cl := tb.client(kgo.DefaultProduceTopic("default"))
		if err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("produce to a topic with the default limit: %v", err)
		}
	})
}

func produceTooLarge(t *testing.T, tb *testBroker, topic string) {
	t.Helper()
	cl := tb.client(kgo.DefaultProduceTopic(topic), kgo.RecordRetries(0))
	err := cl.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce of a one-byte record to %s: %v, want MESSAGE_TOO_LARGE", topic, err)
	}
}
