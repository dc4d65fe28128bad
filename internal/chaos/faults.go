package chaos

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// injector carries out a plan's faults on a cluster, recording each
// FaultStart and FaultEnd. Every fault starts on time, in a goroutine of
// its own, so faults overlap ("one or several at a time"): a link's state
// is the union of the faults on it, and a process fault holds the nodes it
// acts on (a kill or pause its node, a crash-all every node, a rolling
// restart each node in turn), so two process faults never act on one node
// at once — the later waits.
type injector struct {
	c          *cluster
	rec        *Recorder
	adm        *kadm.Client
	topic      string
	partitions int32
	// stopTimeout bounds a clean stop: a node still running that long
	// after SIGTERM is sent SIGQUIT (the Go runtime writes every
	// goroutine's stack to its log) and then SIGKILL, and it is reported.
	stopTimeout  time.Duration
	readyTimeout time.Duration
	logf         func(format string, args ...any)
	held         []sync.Mutex // per node (0-based): a process fault acting on it

	mu       sync.Mutex
	stuck    []string // nodes that did not stop on SIGTERM
	notReady []string // restarts that were not ready within readyTimeout
}

// run injects the plan's faults, each at start+At, and returns once all
// have ended.
func (in *injector) run(ctx context.Context, plan Plan, start time.Time) {
	in.held = make([]sync.Mutex, in.c.size())
	var wg sync.WaitGroup
	for _, f := range plan.Faults {
		if d := time.Until(start.Add(f.At)); d > 0 {
			sleep(ctx, d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { in.inject(ctx, f) })
	}
	wg.Wait()
}

// hold takes the nodes (in id order, so that two faults never wait on
// each other) and returns the function that lets them go.
func (in *injector) hold(ids ...int) func() {
	ids = slices.Sorted(slices.Values(ids))
	for _, id := range ids {
		in.held[id-1].Lock()
	}
	return func() {
		for _, id := range ids {
			in.held[id-1].Unlock()
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// pickNode is node 1+(pick+k) mod n.
func (in *injector) pickNode(pick uint64, k int) int {
	return 1 + int((pick+uint64(k))%uint64(in.c.size()))
}

// ledBy returns the partitions node id leads in led.
func ledBy(led map[int32]int, ids ...int) []int32 {
	var out []int32
	for p, l := range led {
		if slices.Contains(ids, l) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func (in *injector) inject(ctx context.Context, f PlannedFault) {
	led, controller, known := leaders(ctx, in.adm, in.topic)
	// The node a fault aims at: the leader of the partition Pick chooses
	// for the kinds that aim at a leader, else the Pick'th node.
	target := in.pickNode(f.Pick, 0)
	if l, ok := led[int32(f.Pick%uint64(in.partitions))]; ok && (f.Kind == KillLeader || f.Kind == Isolate) {
		target = l
	}
	if f.Kind == KillController && known && controller > 0 {
		target = controller
	}
	start := Event{Kind: FaultStart, Process: "nemesis", Fault: string(f.Kind), ID: f.ID, Nodes: []int{target}}
	if !known {
		start.Detail = "no node answered Metadata: target chosen by the seed"
	}
	end := Event{Kind: FaultEnd, Process: "nemesis", Fault: string(f.Kind), ID: f.ID}
	others := func(ids ...int) []int {
		var out []int
		for id := 1; id <= in.c.size(); id++ {
			if !slices.Contains(ids, id) {
				out = append(out, id)
			}
		}
		return out
	}
	cutBetween := func(a, b []int) {
		for _, x := range a {
			for _, y := range b {
				in.c.cut(f.ID, x, y)
				in.c.cut(f.ID, y, x)
			}
		}
	}
	switch f.Kind {
	case KillNode, KillLeader, KillController:
		defer in.hold(target)()
		start.Partitions = ledBy(led, target)
		in.rec.Add(start)
		in.c.kill(target)
		sleep(ctx, f.Hold)
		in.restart(ctx, f, target)
		end.Nodes = start.Nodes
		in.rec.Add(end)
	case Pause:
		defer in.hold(target)()
		start.Partitions = ledBy(led, target)
		in.rec.Add(start)
		_ = in.c.signal(target, syscall.SIGSTOP)
		sleep(ctx, f.Hold)
		_ = in.c.signal(target, syscall.SIGCONT)
		end.Nodes = start.Nodes
		in.rec.Add(end)
	case CrashAll:
		start.Nodes = others()
		defer in.hold(start.Nodes...)()
		in.rec.Add(start)
		for _, id := range start.Nodes {
			in.c.kill(id)
		}
		sleep(ctx, f.Hold)
		in.restart(ctx, f, start.Nodes...)
		end.Nodes = start.Nodes
		in.rec.Add(end)
	case RollingRestart:
		var order []int
		for k := range in.c.size() {
			order = append(order, in.pickNode(f.Pick, k))
		}
		start.Nodes = order
		in.rec.Add(start)
		for _, id := range order {
			if ctx.Err() != nil {
				break
			}
			release := in.hold(id)
			in.stop(id, f)
			in.restart(ctx, f, id)
			release()
			// As an operator would, let the node catch up before the next.
			in.waitISR(ctx, 10*time.Second)
		}
		end.Nodes = order
		in.rec.Add(end)
	case Isolate:
		start.Partitions = ledBy(led, target)
		in.rec.Add(start)
		cutBetween([]int{target}, others(target))
		in.holdAndHeal(ctx, f, end)
	case Split:
		minority := []int{}
		for k := range (in.c.size() - 1) / 2 {
			minority = append(minority, in.pickNode(f.Pick, k))
		}
		start.Nodes = minority
		start.Partitions = ledBy(led, minority...)
		start.Detail = fmt.Sprintf("minority %v, majority %v", minority, others(minority...))
		in.rec.Add(start)
		cutBetween(minority, others(minority...))
		in.holdAndHeal(ctx, f, end)
	case Bridge:
		bridge := target
		rest := others(bridge)
		// Rotate the rest by the pick so the halves vary.
		k := int(f.Pick/uint64(in.c.size())) % len(rest)
		rest = append(rest[k:], rest[:k]...)
		a, b := rest[:len(rest)/2], rest[len(rest)/2:]
		start.Nodes = []int{bridge}
		start.Detail = fmt.Sprintf("halves %v and %v, both see node %d", a, b, bridge)
		in.rec.Add(start)
		cutBetween(a, b)
		in.holdAndHeal(ctx, f, end)
	case OneWay:
		start.Partitions = ledBy(led, target)
		start.Detail = fmt.Sprintf("node %d's traffic to the others is blackholed; theirs to it passes", target)
		in.rec.Add(start)
		for _, o := range others(target) {
			in.c.cut(f.ID, target, o)
		}
		in.holdAndHeal(ctx, f, end)
	case Slow:
		start.Partitions = ledBy(led, target)
		start.Detail = fmt.Sprintf("%v on every chunk to and from node %d", f.Delay, target)
		in.rec.Add(start)
		for _, o := range others(target) {
			in.c.delay(f.ID, target, o, f.Delay)
			in.c.delay(f.ID, o, target, f.Delay)
		}
		in.holdAndHeal(ctx, f, end)
	}
	in.logf("fault %d %s on %v done", f.ID, f.Kind, start.Nodes)
}

func (in *injector) holdAndHeal(ctx context.Context, f PlannedFault, end Event) {
	sleep(ctx, f.Hold)
	in.c.heal(f.ID)
	in.rec.Add(end)
}

// restart starts the nodes again and waits until each answers Metadata,
// within readyTimeout (noted, not fatal, if not): the fault is over once
// its nodes serve again, whatever they know yet.
func (in *injector) restart(ctx context.Context, f PlannedFault, ids ...int) {
	for _, id := range ids {
		if err := in.c.start(id); err != nil {
			in.note(&in.notReady, fmt.Sprintf("fault %d (%s): restarting node %d: %v", f.ID, f.Kind, id, err))
		}
	}
	for _, id := range ids {
		if err := in.c.waitServing(ctx, id, in.readyTimeout); err != nil && ctx.Err() == nil {
			in.note(&in.notReady, fmt.Sprintf("fault %d (%s): after restarting node %d: %v", f.ID, f.Kind, id, err))
		}
	}
}

// stop stops node id cleanly: SIGTERM, and if it has not exited within
// stopTimeout, SIGQUIT (its goroutines' stacks go to its log) and SIGKILL.
func (in *injector) stop(id int, f PlannedFault) {
	n := in.c.node(id)
	_ = n.Signal(syscall.SIGTERM)
	select {
	case <-n.Done():
		return
	case <-time.After(in.stopTimeout):
	}
	_ = n.Signal(syscall.SIGQUIT)
	select {
	case <-n.Done():
	case <-time.After(5 * time.Second):
	}
	n.Kill()
	in.note(&in.stuck, fmt.Sprintf("fault %d (%s): node %d did not exit within %v of SIGTERM: sent SIGQUIT (goroutine dump in %s) and SIGKILL",
		f.ID, f.Kind, id, in.stopTimeout, n.LogPath))
	in.logf("node %d did not stop on SIGTERM within %v; killed (stacks in %s)", id, in.stopTimeout, n.LogPath)
}

func (in *injector) note(list *[]string, s string) {
	in.mu.Lock()
	*list = append(*list, s)
	in.mu.Unlock()
}

// waitISR waits until every partition of the topic has a leader and all
// its replicas in the ISR, within timeout; it reports whether they did.
func (in *injector) waitISR(ctx context.Context, timeout time.Duration) bool {
	return waitFullISR(ctx, in.adm, in.topic, in.partitions, timeout) == nil
}

// waitFullISR waits until every partition of topic has a leader and all
// its replicas in the ISR.
func waitFullISR(ctx context.Context, adm *kadm.Client, topic string, partitions int32, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		mctx, mcancel := context.WithTimeout(ctx, 2*time.Second)
		md, err := adm.Metadata(mctx, topic)
		mcancel()
		if err == nil {
			ps := md.Topics[topic].Partitions
			full := len(ps) == int(partitions)
			last = ""
			for _, p := range ps.Sorted() {
				if p.Err != nil || p.Leader < 0 || len(p.ISR) < len(p.Replicas) {
					full = false
					last += fmt.Sprintf(" partition %d: leader %d, replicas %v, ISR %v (%v);", p.Partition, p.Leader, p.Replicas, p.ISR, p.Err)
				}
			}
			if full {
				return nil
			}
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			return fmt.Errorf("partitions of %s not all led with their whole ISR within %v:%s", topic, timeout, last)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}
