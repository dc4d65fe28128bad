package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/samsa-streaming/samsa/internal/localcluster"
)

// Config is a chaos run.
type Config struct {
	// Exe is the samsa binary: the nodes are its samsa serve, the group
	// members its samsa chaos member.
	Exe      string
	Dir      string // the nodes' data and logs, the history and the report
	Seed     uint64
	Nodes    int
	Faults   int
	Duration time.Duration
	// Kinds restricts the faults to these kinds; empty is every kind.
	Kinds []FaultKind
	// Partitions of the topic (replication factor 3, min.insync.replicas=2);
	// Rate is records per second per partition.
	Partitions int32
	Rate       int
	Members    int // consumer group member processes
	Consumers  int // assigning consumers
	// Transactions is how many transactional producers write beside the
	// idempotent ones (every consumer reads read_committed either way).
	Transactions int
	// SessionTimeout is the brokers' broker.session.timeout.ms (their
	// heartbeat interval a sixth of it): pauses outlast it.
	SessionTimeout time.Duration
	// StopTimeout bounds a node's clean stop before it is killed.
	StopTimeout time.Duration
	LogLevel    string
	Sets        []string  // more broker configs, name=value
	Progress    io.Writer // what the run is doing, as it goes; nil for none
}

// Topic and Group are the run's topic and consumer group.
const (
	Topic = "chaos"
	Group = "chaos-group"
)

// Report is what a run found.
type Report struct {
	Seed     uint64          `json:"seed"`
	Nodes    int             `json:"nodes"`
	Elapsed  time.Duration   `json:"elapsed_ns"`
	Injected map[string]int  `json:"faults_injected"`
	Totals   PartitionCounts `json:"totals"`
	Result   Result          `json:"result"`
	Outages  []Outage        `json:"unavailability"`
	// MemberLives counts group member processes started (each but the
	// last of a member ended with SIGKILL).
	MemberLives int64 `json:"member_lives"`
	// Stuck are nodes that did not stop on SIGTERM within the bound and
	// were killed; NotReady restarts that did not come back in time.
	Stuck    []string `json:"stuck,omitempty"`
	NotReady []string `json:"not_ready,omitempty"`
	// ReadBack is why the final read-back failed; the run then failed,
	// and its Lost anomalies mean nothing.
	ReadBack string `json:"read_back_error,omitempty"`
	Dir      string `json:"dir"`
}

// Failed reports a run with an anomaly or without a read-back.
func (r *Report) Failed() bool { return r.ReadBack != "" || r.Result.Failed() }

// Run runs the chaos test the config describes and returns its report
// (also written to Dir, with the history). err is a run that could not
// be carried out (the cluster did not start); a run that found anomalies
// or could not read back returns a report whose Failed is true.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Partitions <= 0 || cfg.Rate <= 0 || cfg.Members <= 0 || cfg.Consumers <= 0 || cfg.Transactions < 0 {
		return nil, errors.New("chaos: want at least one partition, member and consumer, a positive rate and no negative number of transactional producers")
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	plan, err := NewPlan(PlanConfig{Seed: cfg.Seed, Nodes: cfg.Nodes, Faults: cfg.Faults, Duration: cfg.Duration,
		Members: cfg.Members, Consumers: cfg.Consumers, SessionTimeout: cfg.SessionTimeout, Kinds: cfg.Kinds})
	if err != nil {
		return nil, err
	}
	var progressMu sync.Mutex
	logf := func(format string, args ...any) {
		if cfg.Progress == nil {
			return
		}
		progressMu.Lock()
		defer progressMu.Unlock()
		fmt.Fprintf(cfg.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	if b, err := json.MarshalIndent(plan, "", " "); err == nil {
		_ = os.WriteFile(filepath.Join(cfg.Dir, "plan.json"), b, 0o644)
	}
	sets := append([]string{
		fmt.Sprintf("broker.session.timeout.ms=%d", cfg.SessionTimeout.Milliseconds()),
		fmt.Sprintf("broker.heartbeat.interval.ms=%d", max(cfg.SessionTimeout.Milliseconds()/6, 1)),
		"group.initial.rebalance.delay.ms=0",
		"offsets.topic.num.partitions=3",
	}, cfg.Sets...)
	c, err := newCluster(cfg.Exe, cfg.Dir, cfg.Nodes, cfg.LogLevel, sets, cfg.Seed)
	if err != nil {
		return nil, err
	}
	defer c.closeLinks()
	defer func() {
		// However the run ends, no process outlives it.
		for _, n := range c.all() {
			_ = n.Signal(syscall.SIGCONT)
		}
		_ = c.stopAll(cfg.StopTimeout)
	}()
	for id := 1; id <= cfg.Nodes; id++ {
		if err := c.start(id); err != nil {
			return nil, err
		}
	}
	if err := c.waitReady(ctx, time.Minute); err != nil {
		// The node's own words, for a run whose directory is gone.
		var exited *localcluster.Exited
		if errors.As(err, &exited) {
			var tail strings.Builder
			localcluster.WriteLogTail(&tail, exited.Node)
			return nil, fmt.Errorf("the cluster did not start: %w\n%s", err, tail.String())
		}
		return nil, fmt.Errorf("the cluster did not start: %w", err)
	}
	adm, admCl, err := c.admin()
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	minISR := "2"
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := adm.CreateTopic(ctx, cfg.Partitions, 3, map[string]*string{"min.insync.replicas": &minISR}, Topic)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("create topic %s: %w", Topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := waitFullISR(ctx, adm, Topic, cfg.Partitions, time.Minute); err != nil {
		return nil, err
	}
	logf("cluster of %d ready (%s), topic %s: %d partitions, RF 3, min.insync.replicas=2", cfg.Nodes, strings.Join(c.addrs(), ","), Topic, cfg.Partitions)

	rec := &Recorder{}
	w := &workload{topic: Topic, partitions: cfg.Partitions, brokers: c.addrs(), rate: cfg.Rate, rec: rec, plan: plan,
		exe: cfg.Exe, dir: cfg.Dir, group: Group, seed: cfg.Seed}
	for m := range cfg.Members {
		_ = os.Remove(w.memberHistory(m))
	}
	stopProduce, stopConsume := make(chan struct{}), make(chan struct{})
	var produceWG, consumeWG sync.WaitGroup
	var memberErrs []error
	var memberMu sync.Mutex
	produceWG.Go(func() { _ = w.produce(stopProduce, 30*time.Second) })
	for t := range cfg.Transactions {
		produceWG.Go(func() { w.produceTxns(t, stopProduce) })
	}
	for i := range cfg.Consumers {
		consumeWG.Go(func() { w.consume(i, stopConsume) })
	}
	for m := range cfg.Members {
		consumeWG.Go(func() {
			if err := w.members(m, stopConsume); err != nil {
				memberMu.Lock()
				memberErrs = append(memberErrs, err)
				memberMu.Unlock()
			}
		})
	}
	in := &injector{c: c, rec: rec, adm: adm, topic: Topic, partitions: cfg.Partitions, stopTimeout: cfg.StopTimeout,
		readyTimeout: time.Minute, logf: logf}
	began := time.Now()
	logf("seed %d: %d faults over %v", cfg.Seed, len(plan.Faults), cfg.Duration)
	faultsDone := make(chan struct{})
	go func() {
		in.run(ctx, plan, began)
		close(faultsDone)
	}()
	select {
	case <-faultsDone:
	case <-ctx.Done():
		<-faultsDone
	}
	sleep(ctx, time.Until(began.Add(cfg.Duration)))

	// Heal: every link passes, every node runs.
	logf("faults done after %v: healing", time.Since(began).Round(time.Millisecond))
	c.healAll()
	for id := 1; id <= cfg.Nodes; id++ {
		if !c.running(id) {
			if err := c.start(id); err != nil {
				return nil, err
			}
		}
		_ = c.signal(id, syscall.SIGCONT)
	}
	report := &Report{Seed: cfg.Seed, Nodes: cfg.Nodes, Dir: cfg.Dir, Injected: map[string]int{}}
	var readErrs []string
	if err := c.waitReady(context.Background(), time.Minute); err != nil {
		readErrs = append(readErrs, err.Error())
	}
	if err := waitFullISR(context.Background(), adm, Topic, cfg.Partitions, time.Minute); err != nil {
		logf("after healing: %v", err)
	}
	// Writes go on a few seconds on the healed cluster, so every partition
	// shows it is available again, then stop with their answers.
	sleep(context.Background(), 3*time.Second)
	close(stopProduce)
	produceWG.Wait()
	w.stuckMu.Lock()
	readErrs = append(readErrs, w.stuck...)
	w.stuckMu.Unlock()
	close(stopConsume)
	consumeWG.Wait()
	report.MemberLives = w.memberRuns.Load()
	logf("workload stopped: %d values sent; reading back", w.sent.Load())
	if err := waitFullISR(context.Background(), adm, Topic, cfg.Partitions, time.Minute); err != nil {
		logf("before the read-back: %v", err)
	}
	if err := w.readBack(adm, 2*time.Minute); err != nil {
		readErrs = append(readErrs, err.Error())
	}
	// The high watermarks the read-back reached bound the comparison.
	hws, hwErr := adm.ListEndOffsets(context.Background(), Topic)
	if hwErr == nil {
		hwErr = hws.Error()
	}
	in.mu.Lock()
	report.Stuck, report.NotReady = slices.Clone(in.stuck), slices.Clone(in.notReady)
	in.mu.Unlock()
	// Stop cleanly, as the rolling restart does, so the logs are whole.
	for id := 1; id <= cfg.Nodes; id++ {
		in.stop(id, PlannedFault{Kind: "final stop"})
	}
	in.mu.Lock()
	report.Stuck = slices.Clone(in.stuck)
	in.mu.Unlock()

	events := rec.Events()
	for m := range cfg.Members {
		h, err := readPartialHistory(w.memberHistory(m))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			readErrs = append(readErrs, fmt.Sprintf("group member %d's history: %v", m, err))
			continue
		}
		events = mergeHistories(events, h)
	}
	report.Elapsed = time.Since(began)
	report.Result = Check(events)
	if hwErr != nil {
		readErrs = append(readErrs, fmt.Sprintf("high watermarks for the replica comparison: %v", hwErr))
	} else {
		for p, o := range hws[Topic] {
			logs := map[int][]byte{}
			for id := 1; id <= cfg.Nodes; id++ {
				b, err := ReadReplicaLog(localcluster.DataDir(cfg.Dir, id), Topic, p)
				if err != nil {
					report.Result.Anomalies = append(report.Result.Anomalies, Anomaly{Kind: Divergence, Topic: Topic, Partition: p, Node: id,
						Detail: fmt.Sprintf("node %d's log: %v", id, err)})
					continue
				}
				logs[id] = b
			}
			report.Result.Anomalies = append(report.Result.Anomalies, CompareReplicas(Topic, p, o.Offset, logs)...)
		}
	}
	memberMu.Lock()
	for _, err := range memberErrs {
		readErrs = append(readErrs, err.Error())
	}
	memberMu.Unlock()
	report.ReadBack = strings.Join(readErrs, "; ")
	if report.ReadBack != "" {
		// Without a whole read-back, "lost" says only that it is missing.
		report.Result.Anomalies = slices.DeleteFunc(report.Result.Anomalies, func(a Anomaly) bool { return a.Kind == Lost })
	}
	for _, e := range events {
		if e.Kind == FaultStart {
			report.Injected[e.Fault]++
		}
	}
	for _, pc := range report.Result.Partitions {
		report.Totals.Attempted += pc.Attempted
		report.Totals.Acked += pc.Acked
		report.Totals.Failed += pc.Failed
		report.Totals.Read += pc.Read
		report.Totals.Unacked += pc.Unacked
		report.Totals.Committed += pc.Committed
		report.Totals.Aborted += pc.Aborted
	}
	report.Outages = Unavailability(events)
	if err := writeFile(filepath.Join(cfg.Dir, "history.jsonl"), func(f io.Writer) error { return WriteHistory(f, events) }); err != nil {
		return report, err
	}
	if err := writeFile(filepath.Join(cfg.Dir, "report.json"), func(f io.Writer) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", " ")
		return enc.Encode(report)
	}); err != nil {
		return report, err
	}
	if err := writeFile(filepath.Join(cfg.Dir, "report.txt"), func(f io.Writer) error { report.Write(f); return nil }); err != nil {
		return report, err
	}
	return report, ctx.Err()
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// maxShown bounds the anomalies of one kind the text report lists; the
// JSON report and the history have them all.
const maxShown = 20

// Write prints the report as text.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "seed %d, %d nodes, %v\n", r.Seed, r.Nodes, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "faults injected:")
	total := 0
	for _, k := range Kinds {
		if n := r.Injected[string(k)]; n > 0 {
			fmt.Fprintf(w, " %s %d", k, n)
			total += n
		}
	}
	fmt.Fprintf(w, " (%d in all)\n", total)
	fmt.Fprintf(w, "records: %d attempted, %d acknowledged, %d failed (outcome unknown), %d read back, %d unacknowledged read\n",
		r.Totals.Attempted, r.Totals.Acked, r.Totals.Failed, r.Totals.Read, r.Totals.Unacked)
	if r.Totals.Committed+r.Totals.Aborted > 0 {
		fmt.Fprintf(w, "transactional records: %d committed (counted acknowledged), %d aborted\n", r.Totals.Committed, r.Totals.Aborted)
	}
	fmt.Fprintf(w, "consumer group member processes: %d lives, each ended by SIGKILL\n", r.MemberLives)
	fmt.Fprintf(w, "unavailability (fault to first acknowledged write on an affected partition):\n")
	for _, o := range r.Outages {
		if o.Measured == 0 {
			fmt.Fprintf(w, "  %-16s %3d faults, none measured\n", o.Fault, o.Injected)
			continue
		}
		fmt.Fprintf(w, "  %-16s %3d faults, %4d measured: p50 %v max %v\n", o.Fault, o.Injected, o.Measured,
			o.P50.Round(time.Millisecond), o.Max.Round(time.Millisecond))
	}
	for _, s := range r.Stuck {
		fmt.Fprintf(w, "STUCK ON SHUTDOWN: %s\n", s)
	}
	for _, s := range r.NotReady {
		fmt.Fprintf(w, "not ready: %s\n", s)
	}
	shown := map[AnomalyKind]int{}
	bad := 0
	for _, a := range r.Result.Anomalies {
		if a.Kind.Allowed() {
			continue
		}
		bad++
		if shown[a.Kind]++; shown[a.Kind] <= maxShown {
			fmt.Fprintf(w, "ANOMALY %s\n", a)
		}
	}
	for k, n := range shown {
		if n > maxShown {
			fmt.Fprintf(w, "ANOMALY ... and %d more %s (report.json has them all)\n", n-maxShown, k)
		}
	}
	switch {
	case r.ReadBack != "":
		fmt.Fprintf(w, "RUN FAILED, no whole read-back (so nothing is called lost): %s\n", r.ReadBack)
	case bad > 0:
		fmt.Fprintf(w, "FAILED: %d anomalies\n", bad)
	default:
		fmt.Fprintf(w, "no anomalies\n")
	}
	fmt.Fprintf(w, "history, plan and report in %s\n", r.Dir)
}
