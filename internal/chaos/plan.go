package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// FaultKind is a kind of fault the runner injects.
type FaultKind string

const (
	// KillNode is kill -9 of a random node, restarted after the hold.
	KillNode FaultKind = "kill-node"
	// KillLeader is kill -9 of the leader of a partition under load.
	KillLeader FaultKind = "kill-leader"
	// KillController is kill -9 of the active controller.
	KillController FaultKind = "kill-controller"
	// Pause is SIGSTOP of a node, SIGCONT after its sessions timed out: a
	// process that wakes up still believing what it believed.
	Pause FaultKind = "pause"
	// Isolate cuts the leader of a partition under load off from every
	// other node.
	Isolate FaultKind = "isolate"
	// Split cuts the nodes into a majority and a minority.
	Split FaultKind = "split"
	// Bridge cuts the nodes into two halves that both still see one node.
	Bridge FaultKind = "bridge"
	// OneWay stops everything one node sends to the others; what it
	// receives still arrives.
	OneWay FaultKind = "one-way"
	// Slow delays every chunk on a node's links, both ways.
	Slow FaultKind = "slow"
	// RollingRestart stops every node in turn with SIGTERM (a controlled
	// shutdown) and restarts it.
	RollingRestart FaultKind = "rolling-restart"
	// CrashAll is kill -9 of every node, all restarted after the hold.
	CrashAll FaultKind = "crash-all"
)

// Kinds lists every fault kind, in the order reports show them.
var Kinds = []FaultKind{KillNode, KillLeader, KillController, Pause, Isolate, Split, Bridge, OneWay, Slow, RollingRestart, CrashAll}

// process reports whether the kind acts on processes (kills, pauses,
// restarts) rather than on links: process faults run one at a time, link
// faults overlap anything.
func (k FaultKind) process() bool {
	switch k {
	case KillNode, KillLeader, KillController, Pause, RollingRestart, CrashAll:
		return true
	}
	return false
}

// PlannedFault is one fault of a Plan.
type PlannedFault struct {
	ID   int           `json:"id"`
	At   time.Duration `json:"at"` // from the start of the workload
	Kind FaultKind     `json:"kind"`
	// Hold is how long the fault lasts before it is healed, or the killed
	// nodes are restarted; a rolling restart has none.
	Hold time.Duration `json:"hold"`
	// Delay is a Slow fault's latency per chunk.
	Delay time.Duration `json:"delay,omitempty"`
	// Pick chooses, when the fault starts, its node or partition among the
	// ones there are (Pick modulo their number, then rotated for the
	// others a fault needs).
	Pick uint64 `json:"pick"`
}

// MemberLife is one life of a consumer group member process: it runs for
// Run and is then killed (SIGKILL: no LeaveGroup) and restarted after
// Down.
type MemberLife struct {
	Run  time.Duration `json:"run"`
	Down time.Duration `json:"down"`
}

// Plan is everything a run does that the seed decides: the fault
// schedule and the workload's choices. Timing of the real processes is
// not in it, so two runs of one plan differ in what the faults meet.
type Plan struct {
	Seed     uint64         `json:"seed"`
	Nodes    int            `json:"nodes"`
	Duration time.Duration  `json:"duration"`
	Faults   []PlannedFault `json:"faults"`
	// Members are each group member's lives, in order, enough to cover
	// the duration.
	Members [][]MemberLife `json:"members"`
	// Sessions are each assigning consumer's session lengths, in order.
	Sessions [][]time.Duration `json:"sessions"`
}

// PlanConfig is what a plan is made for.
type PlanConfig struct {
	Seed      uint64
	Nodes     int
	Faults    int
	Duration  time.Duration
	Members   int // consumer group member processes
	Consumers int // assigning consumers
	// SessionTimeout is the brokers' broker.session.timeout.ms: a pause
	// outlasts it, partitions last up to twice it.
	SessionTimeout time.Duration
	// Kinds are the fault kinds to deal; empty is all of Kinds.
	Kinds []FaultKind
}

// NewPlan makes the plan of a seed: the same config gives the same plan.
// Faults are spread at random over the first nine tenths of the duration
// (the rest lets the last holds end before the workload stops); their
// kinds are dealt in turn and shuffled, so every kind gets faults/len(Kinds)
// of them, give or take one.
func NewPlan(c PlanConfig) (Plan, error) {
	if c.Nodes < 3 {
		return Plan{}, fmt.Errorf("chaos: %d nodes: want at least 3 (a majority must survive a minority's faults)", c.Nodes)
	}
	if c.Faults < 0 || c.Duration <= 0 || c.SessionTimeout <= 0 {
		return Plan{}, fmt.Errorf("chaos: want a positive duration and session timeout and no negative fault count")
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5a35a))
	p := Plan{Seed: c.Seed, Nodes: c.Nodes, Duration: c.Duration}
	deal := Kinds
	if len(c.Kinds) > 0 {
		deal = c.Kinds
		for _, k := range deal {
			if !slices.Contains(Kinds, k) {
				return Plan{}, fmt.Errorf("chaos: unknown fault kind %q (want one of %v)", k, Kinds)
			}
		}
	}
	kinds := make([]FaultKind, c.Faults)
	for i := range kinds {
		kinds[i] = deal[i%len(deal)]
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	span := c.Duration * 9 / 10
	ats := make([]time.Duration, c.Faults)
	for i := range ats {
		ats[i] = time.Duration(rng.Int64N(int64(span)))
	}
	slices.Sort(ats)
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	st := c.SessionTimeout
	for i, k := range kinds {
		f := PlannedFault{ID: i + 1, At: ats[i], Kind: k, Pick: rng.Uint64()}
		switch k {
		case KillNode, KillLeader, KillController:
			f.Hold = between(200*time.Millisecond, st)
		case Pause:
			f.Hold = between(st+st/4, 2*st)
		case Isolate, Split, Bridge, OneWay:
			f.Hold = between(st/2, 2*st)
		case Slow:
			f.Hold = between(st/2, 2*st)
			f.Delay = between(10*time.Millisecond, 200*time.Millisecond)
		case CrashAll:
			f.Hold = between(100*time.Millisecond, st/2)
		}
		p.Faults = append(p.Faults, f)
	}
	for range c.Members {
		var lives []MemberLife
		for total := time.Duration(0); total < c.Duration; {
			l := MemberLife{Run: between(2*time.Second, 20*time.Second), Down: between(100*time.Millisecond, 3*time.Second)}
			lives = append(lives, l)
			total += l.Run + l.Down
		}
		p.Members = append(p.Members, lives)
	}
	for range c.Consumers {
		var sessions []time.Duration
		for total := time.Duration(0); total < c.Duration; {
			s := between(5*time.Second, 40*time.Second)
			sessions = append(sessions, s)
			total += s
		}
		p.Sessions = append(p.Sessions, sessions)
	}
	return p, nil
}

// Count returns how many faults of each kind the plan has.
func (p Plan) Count() map[FaultKind]int {
	m := map[FaultKind]int{}
	for _, f := range p.Faults {
		m[f.Kind]++
	}
	return m
}
