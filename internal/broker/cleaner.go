package broker

import (
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/storage"
)

// cleanerOptions maps the log.cleaner.* broker configs onto the storage
// Manager's log cleaner.
func cleanerOptions(c config.Cleaner) storage.CleanerOptions {
	o := storage.CleanerOptions{
		Threads:             c.Threads,
		Backoff:             c.Backoff,
		DedupeBufferSize:    c.DedupeBufferSize,
		IOMaxBytesPerSecond: c.IOMaxBytesPerSecond,
	}
	if !c.Enable {
		o.Threads = 0
	}
	return o
}
