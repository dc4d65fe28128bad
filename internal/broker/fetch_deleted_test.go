package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestParkedFetchOnDeletedTopic parks fetches (by name, Fetch v12, and by
// topic ID, v13) on a topic with nothing to read and deletes the topic, or
// deletes and re-creates it under the same name: each fetch is answered as
// soon as the partition goes, with UNKNOWN_TOPIC_OR_PARTITION by name and
// UNKNOWN_TOPIC_ID by ID, as Kafka does, never KAFKA_STORAGE_ERROR after
// its max wait.
func TestParkedFetchOnDeletedTopic(t *testing.T) {
	tb := startBroker(t, "", nil)
	for i, tc := range []struct {
		name     string
		version  int16
		recreate bool
		want     int16
	}{
		{"by name", 12, false, kerr.UnknownTopicOrPartition.Code},
		{"by ID", 13, false, kerr.UnknownTopicID.Code},
		{"by name, re-created", 12, true, kerr.UnknownTopicOrPartition.Code},
		{"by ID, re-created", 13, true, kerr.UnknownTopicID.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("deleted-under-fetch-%d", i)
			createTopic(t, tb.admin(), topic, 1, nil)
			id := topicIDOf(t, tb, topic)
			prod := tb.client(kgo.DefaultProduceTopic(topic))
			if err := prod.ProduceSync(ctxT(t), &kgo.Record{Value: []byte("one")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			versions := kversion.Stable()
			versions.SetMaxKeyVersion(kmsg.Fetch.Int16(), tc.version)
			cl := tb.client(kgo.MaxVersions(versions))
			done := make(chan *kmsg.FetchResponse, 1)
			go func() {
				// At the high watermark: nothing to read, so it parks.
				req := longPoll(topic, id, 1, 1, 20*time.Second)
				resp, err := req.RequestWith(context.Background(), cl)
				if err != nil {
					t.Error(err)
				}
				done <- resp
			}()
			time.Sleep(300 * time.Millisecond) // let it park
			select {
			case resp := <-done:
				t.Fatalf("fetch answered before the deletion: %+v", resp)
			default:
			}
			resp, err := tb.admin().DeleteTopics(ctxT(t), topic)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatal(err)
			}
			deleted := time.Now()
			if tc.recreate {
				createTopic(t, tb.admin(), topic, 1, nil)
				if topicIDOf(t, tb, topic) == id {
					t.Fatal("re-created topic kept its ID")
				}
			}
			select {
			case resp := <-done:
				if resp == nil {
					return // the request failed: reported above
				}
				// Loose bound: the fetch waits 20 s if the deletion does
				// not wake it.
				if waited := time.Since(deleted); waited > 5*time.Second {
					t.Fatalf("answered %v after the deletion", waited)
				}
				if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
					t.Fatalf("response %+v", resp)
				}
				if code := resp.Topics[0].Partitions[0].ErrorCode; code != tc.want {
					t.Fatalf("error %v, want %v", kerr.ErrorForCode(code), kerr.ErrorForCode(tc.want))
				}
			case <-time.After(30 * time.Second):
				t.Fatal("parked fetch not answered")
			}
		})
	}
}

// longPoll is a sessionless fetch of partition 0 of topic from offset
// that waits up to maxWait for minBytes, with 1 MiB limits.
func longPoll(topic string, id [16]byte, offset int64, minBytes int32, maxWait time.Duration) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = int32(maxWait.Milliseconds())
	req.MinBytes = minBytes
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
