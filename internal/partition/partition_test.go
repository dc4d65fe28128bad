package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/storage"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// testManager returns a storage manager on fs at dir and the resolved
// topic configs of topicConfigs.
func testManager(t testing.TB, fs vfs.FS, dir string, topicConfigs map[string]string) (*storage.Manager, config.Topic) {
	t.Helper()
	m, err := storage.NewManager(dir, storage.Options{FS: fs}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return m, topicConfig(t, topicConfigs)
}

// topicConfig resolves topicConfigs over the broker defaults.
func topicConfig(t testing.TB, topicConfigs map[string]string) config.Topic {
	t.Helper()
	bc, err := config.NewBroker(nil)
	if err != nil {
		t.Fatal(err)
	}
	return bc.ResolveTopic(topicConfigs, nil)
}

func openTest(t testing.TB, fs vfs.FS, dir string, topicConfigs map[string]string) (*Partition, *storage.Manager) {
	t.Helper()
	m, cfg := testManager(t, fs, dir, topicConfigs)
	p, err := Open(m, "t", 0, [16]byte{7}, 0, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

func records(n, size int) []batch.Record {
	recs := make([]batch.Record, n)
	for i := range recs {
		recs[i] = batch.Record{Key: []byte{byte(i)}, Value: make([]byte, size), Timestamp: time.Now().UnixMilli()}
	}
	return recs
}

// TestProducerStateSurvivesReopen appends idempotent batches, reopens the
// partition (snapshot plus replay) and checks that a retry is still
// recognised, a gap refused, and an older epoch fenced.
func TestProducerStateSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	p, m := openTest(t, fs, "/data", nil)
	build := func(epoch int16, seq int32, n int) []byte {
		return batch.Build(batch.BuildOptions{ProducerID: 42, ProducerEpoch: epoch, BaseSequence: seq}, records(n, 10))
	}
	for i := range 4 {
		if r := p.Append(build(1, int32(i*3), 3)); r.ErrorCode != 0 || r.BaseOffset != int64(i*3) {
			t.Fatalf("append %d: %+v", i, r)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	m.Close()

	for _, name := range []string{"snapshot", "replay"} {
		if name == "replay" {
			// Without the snapshot the state comes from the log alone.
			if err := fs.Remove("/data/t-0/" + snapshotFile); err != nil {
				t.Fatal(err)
			}
		}
		p, m = openTest(t, fs, "/data", nil)
		if r := p.Append(build(1, 6, 3)); r.ErrorCode != 0 || r.BaseOffset != 6 {
			t.Fatalf("%s: retry of the third batch: %+v, want its original offset 6", name, r)
		}
		if p.LogEndOffset() != 12 {
			t.Fatalf("%s: log end %d after a retry", name, p.LogEndOffset())
		}
		if r := p.Append(build(1, 20, 1)); r.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
			t.Fatalf("%s: gap: code %d", name, r.ErrorCode)
		}
		if r := p.Append(build(0, 12, 1)); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
			t.Fatalf("%s: old epoch: code %d", name, r.ErrorCode)
		}
		p.Close()
		m.Close()
	}
}

func TestLogAppendTimeAndLimits(t *testing.T) {
	p, m := openTest(t, vfs.NewMem(), "/data", map[string]string{"message.timestamp.type": "LogAppendTime", "max.message.bytes": "2000"})
	defer m.Close()
	defer p.Close()
	before := time.Now().UnixMilli()
	r := p.Append(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records(3, 10)))
	if r.ErrorCode != 0 || r.LogAppendTime < before {
		t.Fatalf("append: %+v", r)
	}
	data, err := p.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := batch.ParseHeader(data)
	if !h.LogAppendTime() || h.MaxTimestamp != r.LogAppendTime {
		t.Fatalf("stored batch: append time %v, max timestamp %d, want %d", h.LogAppendTime(), h.MaxTimestamp, r.LogAppendTime)
	}
	if res := batch.Validate(data, batch.ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
		t.Fatalf("stored batch no longer valid (CRC not recomputed?): code %d", res.Code)
	}
	big := batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records(3, 1000))
	if r := p.Append(big); r.ErrorCode != kerr.MessageTooLarge.Code {
		t.Fatalf("batch over max.message.bytes: code %d", r.ErrorCode)
	}
}

// BenchmarkAppend measures the produce path below the network: validate,
// producer checks, append. It must not allocate per record.
func BenchmarkAppend(b *testing.B) {
	p, m := openTest(b, vfs.OS(), b.TempDir(), nil)
	defer m.Close()
	defer p.Close()
	template := batch.Build(batch.BuildOptions{ProducerID: 1, ProducerEpoch: 0}, records(100, 100))
	buf := make([]byte, len(template))
	b.SetBytes(int64(len(template)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		copy(buf, template)
		// Next sequence number, and the CRC that covers it.
		seq := int32(i * 100)
		buf[53], buf[54], buf[55], buf[56] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
		fixCRC(buf)
		if r := p.Append(buf); r.ErrorCode != 0 {
			b.Fatalf("append %d: code %d %s", i, r.ErrorCode, r.ErrorMessage)
		}
	}
}

// BenchmarkRead measures the in-memory fetch path: 1 MiB reads.
func BenchmarkRead(b *testing.B) {
	p, m := openTest(b, vfs.OS(), b.TempDir(), nil)
	defer m.Close()
	defer p.Close()
	for range 200 {
		p.Append(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records(100, 100)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		data, err := p.Read(0, 1<<20)
		if err != nil || len(data) == 0 {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

// TestCloseWakesAfterClosing: a parked fetch woken by Close finds the log
// closed (ErrClosed, not a storage error), and so does a read after Close;
// an append gets NOT_LEADER_OR_FOLLOWER, not KAFKA_STORAGE_ERROR.
func TestCloseWakesAfterClosing(t *testing.T) {
	p, m := openTest(t, vfs.NewMem(), "/data", nil)
	defer m.Close()
	if r := p.Append(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records(1, 10))); r.ErrorCode != 0 {
		t.Fatal(r)
	}
	w := NewWaiter()
	p.Watch(w)
	read := make(chan error, 1)
	go func() {
		<-w
		_, err := p.Read(1, 1<<20)
		read <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-read; !errors.Is(err, ErrClosed) {
		t.Fatalf("read when woken by Close: %v, want ErrClosed", err)
	}
	if _, err := p.ReadRegion(0, 1<<20); !errors.Is(err, ErrClosed) {
		t.Fatalf("region read after Close: %v", err)
	}
	if r := p.Append(batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, records(1, 10))); r.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("append after Close: %+v", r)
	}
}

// TestMaxTimestampFromRecords stores a CreateTime batch with its records'
// largest timestamp, whatever the producer's header says, as Kafka does, so
// the time index (ListOffsets by timestamp) follows the records.
func TestMaxTimestampFromRecords(t *testing.T) {
	p, m := openTest(t, vfs.NewMem(), "/data", nil)
	defer m.Close()
	defer p.Close()
	recs := records(3, 10)
	recs[1].Timestamp += 500
	b := batch.Build(batch.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, recs)
	batch.SetMaxTimestamp(b, recs[0].Timestamp-1000) // the header lies
	if r := p.Append(b); r.ErrorCode != 0 {
		t.Fatalf("append: %+v", r)
	}
	data, err := p.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := batch.ParseHeader(data); h.MaxTimestamp != recs[1].Timestamp {
		t.Fatalf("stored max timestamp %d, want %d", h.MaxTimestamp, recs[1].Timestamp)
	}
	if res := batch.Validate(data, batch.ValidateOptions{MaxBatchBytes: -1}); res.Code != 0 {
		t.Fatalf("stored batch invalid (CRC not recomputed?): %s", res.Message)
	}
}
