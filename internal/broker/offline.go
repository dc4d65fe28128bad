package broker

import (
	"log/slog"
	"slices"
	"sync"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// offline remembers the local replicas that could not be opened after their
// metadata was committed (out of file descriptors, a full or failing disk).
// Like a replica on a failed log directory in Kafka, such a replica is
// offline until the broker restarts: produce and fetch answer
// KAFKA_STORAGE_ERROR, Metadata lists the broker as an offline replica, and
// the replica manager does not try it again, so that a broker short of descriptors does
// not retry (and log) thousands of opens on every metadata change. The rest of
// the broker keeps serving. Safe for concurrent use.
type offline struct {
	mu     sync.Mutex
	topics map[string]*offlineTopic // by topic name
}

type offlineTopic struct {
	id   metadata.TopicID
	errs map[int32]error
}

// mark records that partition index of topic (with ID id) failed to open.
func (o *offline) mark(topic string, id metadata.TopicID, index int32, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.topics == nil {
		o.topics = map[string]*offlineTopic{}
	}
	t := o.topics[topic]
	if t == nil || t.id != id {
		t = &offlineTopic{id: id, errs: map[int32]error{}}
		o.topics[topic] = t
	}
	t.errs[index] = err
}

// skip reports whether follow must leave the replica closed. A topic
// re-created under another ID starts afresh.
func (o *offline) skip(topic string, id metadata.TopicID, index int32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.topics[topic]
	if t != nil && t.id != id {
		delete(o.topics, topic)
		return false
	}
	return t != nil && t.errs[index] != nil
}

// err returns why the replica is offline, or nil.
func (o *offline) err(topic string, index int32) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if t := o.topics[topic]; t != nil {
		return t.errs[index]
	}
	return nil
}

// drop forgets that partition index of topic (with ID id) is offline, as
// its replica stops, and reports whether it was.
func (o *offline) drop(topic string, id metadata.TopicID, index int32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.topics[topic]
	if t == nil || t.id != id || t.errs[index] == nil {
		return false
	}
	delete(t.errs, index)
	if len(t.errs) == 0 {
		delete(o.topics, topic)
	}
	return true
}

// openFailures collects the opens of one delta that failed, to be logged
// as one line per topic instead of one per partition.
type openFailures map[string][]openFailure

type openFailure struct {
	index int32
	err   error
}

func (f openFailures) add(topic string, index int32, err error) {
	f[topic] = append(f[topic], openFailure{index, err})
}

func (f openFailures) log(logger *slog.Logger) {
	for topic, fs := range f {
		slices.SortFunc(fs, func(a, b openFailure) int { return int(a.index - b.index) })
		indexes := make([]int32, 0, min(len(fs), 10))
		for _, x := range fs[:min(len(fs), 10)] {
			indexes = append(indexes, x.index)
		}
		logger.Error("partitions could not be opened and are offline (KAFKA_STORAGE_ERROR) until the broker restarts",
			"topic", topic, "count", len(fs), "partitions", indexes, "err", fs[0].err)
	}
}

// Offline implements api.Partitions.
func (r *partitions) Offline(topic string, index int32) error { return r.offline.err(topic, index) }
