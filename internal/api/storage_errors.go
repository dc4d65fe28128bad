package api

import (
	"strconv"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/server"
)

// storageLogInterval bounds storage-error lines to one per partition and
// operation per interval: a full disk fails every produce to every
// partition, and one line per request would bury everything else.
const storageLogInterval = 10 * time.Second

// storageErrorLog rate-limits the lines logStorageError writes.
type storageErrorLog struct {
	once    sync.Once
	limiter *server.LogLimiter
}

// logStorageError reports a storage failure (a full disk, an I/O error)
// that a handler is answering with KAFKA_STORAGE_ERROR: the client only
// sees the code, the operator needs the reason.
func (h *Handlers) logStorageError(op, topic string, partition int32, reason string) {
	h.storageErrors.once.Do(func() {
		h.storageErrors.limiter = server.NewLogLimiter(storageLogInterval, func() time.Time { return h.Now() })
	})
	ok, suppressed := h.storageErrors.limiter.Allow(op + " " + topic + " " + strconv.Itoa(int(partition)))
	if ok {
		h.Logger.Error("storage error; answering KAFKA_STORAGE_ERROR", "op", op, "topic", topic, "partition", partition, "err", reason, "suppressed_since_last", suppressed)
	}
}
