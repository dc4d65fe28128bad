package broker

import (
	"strconv"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// cleanerOptions maps the log.cleaner.* broker configs onto the storage
// Manager's log cleaner.
func cleanerOptions(c *config.Broker) storage.CleanerOptions {
	o := storage.CleanerOptions{
		Threads:          int(c.Int32("log.cleaner.threads", nil)),
		Backoff:          time.Duration(c.Int64("log.cleaner.backoff.ms", nil)) * time.Millisecond,
		DedupeBufferSize: c.Int64("log.cleaner.dedupe.buffer.size", nil),
	}
	if rate, err := strconv.ParseFloat(c.Get("log.cleaner.io.max.bytes.per.second", nil), 64); err == nil {
		o.IOMaxBytesPerSecond = rate
	}
	if !c.Bool("log.cleaner.enable", nil) {
		o.Threads = 0
	}
	return o
}
