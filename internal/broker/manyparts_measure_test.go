package broker_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/broker"
)

// TestMeasureManyPartitions runs `samsa serve` as a real process with 100
// topics of 100 partitions (10 records in each) and times creation, a clean
// stop (SIGTERM until exit), a clean restart until every partition is served
// (ListOffsets over all of them answers without error, with the right end
// offsets) and the same after kill -9; it counts the process's open file
// descriptors after each start and after a full-scan read. Run with
// SAMSA_MEASURE=1 -v; SAMSA_BIN names a prebuilt binary (default: build one),
// SAMSA_MEASURE_SET adds a --set (e.g. num.recovery.threads.per.data.dir=1),
// SAMSA_MEASURE_LOG names the file the broker logs to.
func TestMeasureManyPartitions(t *testing.T) {
	if os.Getenv("SAMSA_MEASURE") == "" {
		t.Skip("set SAMSA_MEASURE=1 to measure")
	}
	const topics, parts, perPart = 100, 100, 10
	bin := os.Getenv("SAMSA_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "samsa")
		out, err := exec.Command("go", "build", "-o", bin, "../../cmd/samsa").CombinedOutput()
		if err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	addr := broker.FreeAddrs(t, 1)[0]
	var extra []string
	if s := os.Getenv("SAMSA_MEASURE_SET"); s != "" {
		extra = []string{"--set", s}
	}
	start := func() *exec.Cmd {
		args := append([]string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "warn"}, extra...)
		cmd := exec.Command(bin, args...)
		logPath := cmp.Or(os.Getenv("SAMSA_MEASURE_LOG"), filepath.Join(dir, "..", "serve.log"))
		logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr, cmd.Stdout = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
		return cmd
	}
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("t%03d", i)
	}
	client := func() (*kgo.Client, *kadm.Client) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(120*time.Second),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond),
			kgo.MaxBufferedRecords(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		return cl, kadm.NewClient(cl)
	}
	// served polls ListOffsets over every partition until each answers
	// without error with the expected end offset.
	served := func(began time.Time, want int64) time.Duration {
		cl, adm := client()
		defer cl.Close()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ends, err := adm.ListEndOffsets(ctx, names...)
			cancel()
			ok := 0
			if err == nil {
				ends.Each(func(o kadm.ListedOffset) {
					if o.Err == nil && o.Offset == want {
						ok++
					}
				})
			}
			if ok == topics*parts {
				return time.Since(began)
			}
			if time.Since(began) > 5*time.Minute {
				t.Fatalf("after %v: %d of %d partitions served (err %v)", time.Since(began), ok, topics*parts, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fds := func(cmd *exec.Cmd) int {
		ents, err := os.ReadDir("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd")
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, e := range ents {
			target, _ := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/fd/" + e.Name())
			kinds[cmp.Or(filepath.Ext(target), target)]++
		}
		t.Logf("fds by kind: %v", kinds)
		return len(ents)
	}
	stop := func(cmd *exec.Cmd) time.Duration {
		if out := os.Getenv("SAMSA_MEASURE_STRACE"); out != "" {
			st := exec.Command("strace", "-f", "-c", "-w", "-o", out, "-p", strconv.Itoa(cmd.Process.Pid))
			st.Start()
			time.Sleep(time.Second)
			defer st.Wait()
		}
		began := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("serve exited: %v", err)
		}
		return time.Since(began)
	}

	// produce writes perPart records to every partition.
	produce := func() {
		cl, _ := client()
		defer cl.Close()
		payload := make([]byte, 100)
		for _, name := range names {
			for p := range int32(parts) {
				for range perPart {
					cl.Produce(context.Background(), &kgo.Record{Topic: name, Partition: p, Value: payload}, func(_ *kgo.Record, err error) {
						if err != nil {
							t.Errorf("produce: %v", err)
						}
					})
				}
			}
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	cmd := start()
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	began := time.Now()
	cl, adm := client()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := adm.CreateTopic(context.Background(), parts, 1, nil, name)
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				t.Errorf("create %s: %v", name, err)
			}
		}()
	}
	wg.Wait()
	t.Logf("create %d topics x %d partitions: %v", topics, parts, time.Since(began))
	if t.Failed() {
		t.FailNow()
	}
	began = time.Now()
	cl.Close()
	produce()
	t.Logf("produce %d records (%d per partition): %v", topics*parts*perPart, perPart, time.Since(began))
	t.Logf("open fds after creation and produce: %d", fds(cmd))

	// Full-scan read: every partition from the start.
	began = time.Now()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(names...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	for n := 0; n < topics*parts*perPart; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("full scan: %d records: %v", n, ctx.Err())
		}
		n += fs.NumRecords()
	}
	cancel()
	cons.Close()
	t.Logf("full-scan read of %d records: %v; open fds after: %d", topics*parts*perPart, time.Since(began), fds(cmd))

	t.Logf("clean stop (SIGTERM until exit): %v", stop(cmd))
	cmd = start()
	t.Logf("clean restart until all %d partitions served: %v", topics*parts, served(time.Now(), perPart))
	t.Logf("open fds after clean restart: %d", fds(cmd))

	// kill -9 right after writing to every partition again: nothing of
	// it synced, every log opened since start.
	produce()
	cmd.Process.Kill()
	cmd.Wait()
	cmd = start()
	t.Logf("restart after writing %d more records and kill -9, until all served: %v", topics*parts*perPart, served(time.Now(), 2*perPart))
	t.Logf("open fds after kill -9 restart: %d", fds(cmd))
	t.Logf("clean stop after kill -9 restart: %v", stop(cmd))
}
