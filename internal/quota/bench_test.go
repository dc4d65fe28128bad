package quota

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkRecord is the produce path: resolve the client's quota and
// record a 1 KiB request, over 10,000 client-ids under a /clients/<default>
// quota, with the clock moving 10 µs a record.
func BenchmarkRecord(b *testing.B) {
	store := NewStore()
	store.Set(Entity{ClientID: Default()}, ProducerByteRate, float(1<<20))
	store.Set(Entity{User: Specific("alice")}, ProducerByteRate, float(1<<20)) // two levels: the full search
	meter := NewProduceMeter(store, Config{})
	clients := make([]Client, 10_000)
	for i := range clients {
		clients[i] = Client{User: "user-" + strconv.Itoa(i%100), ClientID: "client-" + strconv.Itoa(i)}
	}
	for i, client := range clients {
		meter.Record(client, 1024, at(int64(i)))
	}
	now := at(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(10 * time.Microsecond)
		meter.Record(clients[i%len(clients)], 1024, now)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	store := NewStore()
	store.Set(Entity{ClientID: Default()}, ProducerByteRate, float(1<<20))
	meter := NewProduceMeter(store, Config{})
	clients := make([]Client, 10_000)
	for i := range clients {
		clients[i] = Client{User: "user", ClientID: "client-" + strconv.Itoa(i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var next sync.Mutex
	offset := 0
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		i := offset
		offset += 997
		next.Unlock()
		for pb.Next() {
			i++
			meter.Record(clients[i%len(clients)], 1024, at(int64(i/100)))
		}
	})
}

// TestConcurrentUse runs records, quota changes, describes and expiry at
// once, for the race detector.
func TestConcurrentUse(t *testing.T) {
	store := NewStore()
	meter := NewProduceMeter(store, Config{})
	mutations := NewMutationMeter(store, Config{})
	var wait sync.WaitGroup
	for worker := 0; worker < 4; worker++ {
		wait.Add(1)
		go func() {
			defer wait.Done()
			for i := 0; i < 2000; i++ {
				client := Client{User: "u" + strconv.Itoa(i%7), ClientID: "c" + strconv.Itoa(i%13)}
				meter.Record(client, 100, at(int64(i)))
				mutations.ForRequest(client, i%2 == 0).Record(1, at(int64(i)))
			}
		}()
	}
	wait.Add(1)
	go func() {
		defer wait.Done()
		for i := 0; i < 500; i++ {
			entity := Entity{User: Specific("u" + strconv.Itoa(i%7))}
			if i%3 == 0 {
				store.Set(entity, ProducerByteRate, nil)
			} else {
				store.Set(entity, ProducerByteRate, float(1000))
			}
			store.Set(Entity{ClientID: Default()}, ControllerMutationRate, float(5))
			if _, err := store.Describe(nil, false); err != nil {
				t.Error(err)
			}
			meter.Expire(at(int64(i)))
			mutations.Expire(at(int64(i)))
		}
	}()
	wait.Wait()
}
