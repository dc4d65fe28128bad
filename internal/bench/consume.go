package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// stallTimeout ends a consume that has stopped making progress.
const stallTimeout = 15 * time.Second

// consume reads the topic from the start, without a group, until it has
// seen want records, and fills in the consume half of res.
func consume(ctx context.Context, brokers []string, topic string, want int64, res *Result) error {
	start := time.Now()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	var records, bytes int64
	lastProgress := time.Now()
	for records < want {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var fetchErr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && fetchErr == nil {
				fetchErr = err
			}
		})
		if fetchErr != nil {
			return fmt.Errorf("consume: %w", fetchErr)
		}
		n := int64(0)
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			bytes += int64(len(r.Value))
		})
		records += n
		if n > 0 {
			lastProgress = time.Now()
		} else if time.Since(lastProgress) > stallTimeout {
			return fmt.Errorf("consume: no records for %v after %d of %d", stallTimeout, records, want)
		}
	}
	elapsed := time.Since(start).Seconds()
	res.ConsumedRecords = records
	res.ConsumeSeconds = elapsed
	res.ConsumeRecordsPerSec = float64(records) / elapsed
	res.ConsumeMBPerSec = float64(bytes) / elapsed / 1e6
	return nil
}
