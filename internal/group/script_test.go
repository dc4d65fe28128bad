package group

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
)

// scriptEnv is the world of one script: a coordinator with one partition
// of __consumer_offsets over a memory log, and members known by alias.
type scriptEnv struct {
	t      *testing.T
	clock  *fakeClock
	log    *memoryLog
	cfg    Config
	c      *Coordinator
	ids    map[string]string // alias -> member ID
	alias  map[string]string // member ID -> alias
	gen    map[string]int32  // alias -> last generation it was told
	joins  map[string]chan JoinResult
	syncs  map[string]chan SyncResult
	leader map[string]bool
}

func newScriptEnv(t *testing.T) *scriptEnv {
	clock := newFakeClock()
	e := &scriptEnv{
		t: t, clock: clock, log: &memoryLog{},
		cfg: Config{
			MinSessionTimeout: 100 * time.Millisecond, MaxSessionTimeout: time.Minute,
			InitialRebalanceDelay: 0, OffsetsRetention: time.Hour, RetentionCheckInterval: time.Hour,
			Clock: clock,
		},
		ids: map[string]string{}, alias: map[string]string{}, gen: map[string]int32{},
		joins: map[string]chan JoinResult{}, syncs: map[string]chan SyncResult{},
	}
	return e
}

func (e *scriptEnv) start() {
	e.c = New(e.cfg)
	if err := e.c.Sync(1, map[int32]Log{0: e.log}); err != nil {
		e.t.Fatal(err)
	}
}

func errName(code int16) string {
	if code == 0 {
		return "ok"
	}
	var ke *kerr.Error
	if errors.As(kerr.ErrorForCode(code), &ke) {
		return ke.Message
	}
	return strconv.Itoa(int(code))
}

func (e *scriptEnv) name(id string) string {
	if a, ok := e.alias[id]; ok {
		return a
	}
	if id == "" {
		return "-"
	}
	return "?"
}

func (e *scriptEnv) joinString(a string, r JoinResult) string {
	if r.Err != 0 {
		if r.Err == kerr.MemberIDRequired.Code {
			e.ids[a], e.alias[r.MemberID] = r.MemberID, a
		}
		return "error=" + errName(r.Err)
	}
	e.ids[a], e.alias[r.MemberID] = r.MemberID, a
	e.gen[a] = r.Generation
	s := fmt.Sprintf("gen=%d leader=%s protocol=%s", r.Generation, e.name(r.Leader), r.Protocol)
	if len(r.Members) > 0 {
		var ms []string
		for _, m := range r.Members {
			ms = append(ms, e.name(m.MemberID)+"("+string(m.Metadata)+")")
		}
		s += " members=" + strings.Join(ms, ",")
	}
	if r.SkipAssignment {
		s += " skip-assignment"
	}
	return s
}

func syncString(r SyncResult) string {
	if r.Err != 0 {
		return "error=" + errName(r.Err)
	}
	return "assignment=" + string(r.Assignment)
}

// args splits d's arguments into bare words (aliases, partitions) and k=v.
func args(d *datadriven.TestData) (map[string]string, []string) {
	kv := map[string]string{}
	var rest []string
	for _, a := range d.CmdArgs {
		if len(a.Vals) == 0 {
			rest = append(rest, a.Key)
		} else {
			kv[a.Key] = strings.Join(a.Vals, ",")
		}
	}
	return kv, rest
}

// duration is the duration argument key of d, or def.
func duration(t *testing.T, d *datadriven.TestData, key string, def time.Duration) time.Duration {
	d.MaybeScanArgs(t, key, &def)
	return def
}

// generation is the gen argument of d, or def.
func generation(t *testing.T, d *datadriven.TestData, def int32) int32 {
	d.MaybeScanArgs(t, "gen", &def)
	return def
}

func (e *scriptEnv) group(kv map[string]string) string {
	if g := kv["group"]; g != "" {
		return g
	}
	return "g"
}

// run executes one command and returns its output, followed by any
// JoinGroup or SyncGroup answers it released.
func (e *scriptEnv) run(t *testing.T, d *datadriven.TestData) string {
	kv, rest := args(d)
	var out []string
	switch d.Cmd {
	case "join":
		a := rest[0]
		req := JoinRequest{
			Group: e.group(kv), MemberID: e.ids[a], ClientID: a, ClientHost: "/127.0.0.1",
			SessionTimeout: duration(t, d, "session", 10*time.Second), RebalanceTimeout: duration(t, d, "rebalance", 10*time.Second),
			ProtocolType: "consumer", RequireKnownMemberID: kv["v3"] == "",
		}
		if len(rest) > 1 && rest[1] == "new" {
			req.MemberID = ""
		}
		if i, ok := kv["instance"]; ok {
			req.InstanceID = &i
		}
		protos := "range"
		if p := kv["protocols"]; p != "" {
			protos = p
		}
		for _, p := range strings.Split(protos, ",") {
			req.Protocols = append(req.Protocols, Protocol{Name: p, Metadata: []byte(kv["meta"])})
		}
		wait, res := e.join(req)
		if wait == nil {
			out = append(out, a+": "+e.joinString(a, res))
		} else {
			e.joins[a] = wait
			out = append(out, a+": waiting")
		}
	case "sync":
		a := rest[0]
		gen := generation(t, d, e.gen[a])
		assign := map[string][]byte{}
		for k, v := range kv {
			if id, ok := e.ids[k]; ok {
				assign[id] = []byte(v)
			}
		}
		req := SyncRequest{Group: e.group(kv), Generation: gen, MemberID: e.ids[a], Assignments: assign}
		if i, ok := kv["instance"]; ok {
			req.InstanceID = &i
		}
		_, g, code := e.c.lookup(req.Group, false)
		if code != 0 || g == nil {
			out = append(out, a+": error="+errName(max(code, kerr.UnknownMemberID.Code)))
			break
		}
		g.mu.Lock()
		wait, res := g.sync(req)
		g.mu.Unlock()
		if wait == nil {
			out = append(out, a+": "+syncString(res))
		} else {
			e.syncs[a] = wait
			out = append(out, a+": waiting")
		}
	case "heartbeat":
		a := rest[0]
		gen := generation(t, d, e.gen[a])
		var inst *string
		if i, ok := kv["instance"]; ok {
			inst = &i
		}
		out = append(out, a+": "+errName(e.c.Heartbeat(e.group(kv), gen, e.ids[a], inst)))
	case "leave":
		// leave A ... | leave [A] instance=I (one member, by instance ID)
		var ms []LeavingMember
		if i, ok := kv["instance"]; ok {
			m := LeavingMember{InstanceID: &i}
			if len(rest) > 0 {
				m.MemberID = e.ids[rest[0]]
			}
			ms = append(ms, m)
		} else {
			for _, a := range rest {
				ms = append(ms, LeavingMember{MemberID: e.ids[a]})
			}
		}
		code, codes := e.c.LeaveGroup(e.group(kv), ms)
		s := "leave: " + errName(code)
		for _, c := range codes {
			s += " " + errName(c)
		}
		out = append(out, s)
	case "commit", "txn-commit":
		// commit ALIAS|- t:p=off ... | txn-commit PID:EPOCH ALIAS|- t:p=off ...
		var pid int64
		var epoch int16
		if d.Cmd == "txn-commit" {
			p, ep, _ := strings.Cut(rest[0], ":")
			pid, _ = strconv.ParseInt(p, 10, 64)
			e16, _ := strconv.ParseInt(ep, 10, 16)
			epoch, rest = int16(e16), rest[1:]
		}
		a := rest[0]
		req := CommitRequest{Group: e.group(kv), Generation: -1}
		if a != "-" {
			req.MemberID, req.Generation = e.ids[a], e.gen[a]
		}
		req.Generation = generation(t, d, req.Generation)
		for k, v := range kv {
			topic, p, ok := strings.Cut(k, ":")
			if !ok {
				continue
			}
			pn, _ := strconv.Atoi(p)
			off, _ := strconv.ParseInt(v, 10, 64)
			req.Commits = append(req.Commits, Commit{TopicPartition{topic, int32(pn)}, Offset{Offset: off, LeaderEpoch: -1}})
		}
		sort.Slice(req.Commits, func(i, j int) bool {
			return req.Commits[i].Topic+strconv.Itoa(int(req.Commits[i].Partition)) < req.Commits[j].Topic+strconv.Itoa(int(req.Commits[j].Partition))
		})
		var code int16
		var codes []int16
		if d.Cmd == "txn-commit" {
			code, codes = e.c.CommitTxnOffsets(TxnCommitRequest{CommitRequest: req, ProducerID: pid, ProducerEpoch: epoch})
		} else {
			code, codes = e.c.CommitOffsets(req)
		}
		s := d.Cmd + ": " + errName(code)
		for _, c := range codes {
			s += " " + errName(c)
		}
		out = append(out, s)
	case "marker":
		// marker PID:EPOCH commit|abort [log-only]
		p, ep, _ := strings.Cut(rest[0], ":")
		pid, _ := strconv.ParseInt(p, 10, 64)
		e16, _ := strconv.ParseInt(ep, 10, 16)
		commit := rest[1] == "commit"
		end := e.log.marker(pid, int16(e16), commit)
		s := fmt.Sprintf("marker at %d", end-1)
		if len(rest) < 3 || rest[2] != "log-only" {
			if err := e.c.CompleteTxn(pid, []int32{0}, commit); err != nil {
				s += ": " + err.Error()
			}
		}
		out = append(out, s)
	case "fetch":
		// fetch [stable] [T:P ...]
		stable := len(rest) > 0 && rest[0] == "stable"
		if stable {
			rest = rest[1:]
		}
		var tps []TopicPartition
		for _, w := range rest {
			topic, p, _ := strings.Cut(w, ":")
			pn, _ := strconv.Atoi(p)
			tps = append(tps, TopicPartition{topic, int32(pn)})
		}
		offs, code := e.c.FetchOffsetsAs(e.group(kv), nil, -1, tps, stable)
		s := "offsets: " + errName(code)
		for _, o := range offs {
			if o.Err != 0 {
				s += fmt.Sprintf(" %s:%d=%s", o.Topic, o.Partition, errName(o.Err))
				continue
			}
			s += fmt.Sprintf(" %s:%d=%d", o.Topic, o.Partition, o.Offset.Offset)
		}
		out = append(out, s)
	case "describe":
		d := e.c.DescribeGroup(e.group(kv))
		var ms []string
		for _, m := range d.Members {
			ms = append(ms, e.name(m.MemberID)+"("+string(m.Assignment)+")")
		}
		out = append(out, fmt.Sprintf("%s: error=%s state=%s protocol=%s members=%s", d.Group, errName(d.Err), d.State, d.Protocol, strings.Join(ms, ",")))
	case "list":
		s := "groups:"
		groups, code := e.c.ListGroups(rest, nil)
		if code != 0 {
			s = "list: " + errName(code) + " " + s
		}
		for _, l := range groups {
			s += " " + l.Group + "=" + l.State
		}
		out = append(out, s)
	case "delete-group":
		out = append(out, "delete-group: "+errName(e.c.DeleteGroup(e.group(kv))))
	case "delete-offsets":
		var tps []TopicPartition
		for _, w := range rest {
			topic, p, _ := strings.Cut(w, ":")
			pn, _ := strconv.Atoi(p)
			tps = append(tps, TopicPartition{topic, int32(pn)})
		}
		code, codes := e.c.DeleteOffsets(e.group(kv), tps)
		s := "delete-offsets: " + errName(code)
		for _, c := range codes {
			s += " " + errName(c)
		}
		out = append(out, s)
	case "alias":
		// alias NEW OLD: NEW names OLD's current member ID from now on.
		e.ids[rest[0]] = e.ids[rest[1]]
		e.gen[rest[0]] = e.gen[rest[1]]
		out = append(out, rest[0]+" = "+rest[1])
	case "advance":
		by, err := time.ParseDuration(rest[0])
		if err != nil {
			d.Fatalf(t, "%v", err)
		}
		e.clock.Advance(by)
		out = append(out, "now +"+rest[0])
	case "expire":
		e.c.ExpireOffsets()
		out = append(out, "expired")
	case "restart":
		e.c.Close()
		e.joins, e.syncs = map[string]chan JoinResult{}, map[string]chan SyncResult{}
		e.start()
		out = append(out, "restarted")
	case "fail-log":
		e.log.mu.Lock()
		e.log.fail = rest[0] == "on"
		e.log.mu.Unlock()
		out = append(out, "log failing: "+rest[0])
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	var released []string
	joined := map[string]JoinResult{}
	for a, ch := range e.joins {
		select {
		case r := <-ch:
			delete(e.joins, a)
			joined[a] = r
			if r.MemberID != "" {
				e.alias[r.MemberID] = a // before any answer names it
			}
		default:
		}
	}
	for a, r := range joined {
		released = append(released, "  -> join "+a+": "+e.joinString(a, r))
	}
	for a, ch := range e.syncs {
		select {
		case r := <-ch:
			delete(e.syncs, a)
			released = append(released, "  -> sync "+a+": "+syncString(r))
		default:
		}
	}
	sort.Strings(released)
	return strings.Join(append(out, released...), "\n")
}

func (e *scriptEnv) join(req JoinRequest) (chan JoinResult, JoinResult) {
	if req.SessionTimeout < e.cfg.MinSessionTimeout || req.SessionTimeout > e.cfg.MaxSessionTimeout {
		return nil, JoinResult{Err: kerr.InvalidSessionTimeout.Code}
	}
	_, g, code := e.c.lookup(req.Group, req.MemberID == "")
	if code != 0 {
		return nil, JoinResult{Err: code}
	}
	if g == nil {
		return nil, JoinResult{Err: kerr.UnknownMemberID.Code}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.join(req)
}

// TestScripts runs the state machine scripts in testdata/, each against a
// new coordinator, with github.com/cockroachdb/datadriven. Members are named
// by alias; commands:
//
//	config initial-delay=D          (before the first other command)
//	join A [new] [instance=I] [session=D] [rebalance=D] [protocols=p,q] [meta=M] [v3=1]
//	sync A [gen=N] [B=ASSIGNMENT ...] [instance=I]
//	heartbeat A [gen=N] [instance=I]
//	leave A ... [instance=I]
//	commit A|- T:P=OFFSET ... [gen=N]
//	txn-commit PID:EPOCH A|- T:P=OFFSET ... [gen=N]   a TxnOffsetCommit
//	marker PID:EPOCH commit|abort [log-only]         the transaction's marker in the
//	                                log, and CompleteTxn unless log-only (read on restart)
//	fetch [stable] [T:P ...]        all offsets or these; stable: require_stable
//	describe | list [STATE ...] | expire | restart
//	delete-group | delete-offsets T:P ...
//	alias NEW OLD                   NEW names OLD's member ID (to act as a fenced incarnation)
//	advance D                       fires the timers due
//	fail-log on|off                 makes appends to __consumer_offsets fail
//
// Commands take group=G (default g). Answers released by a command (a
// completed rebalance) are listed after it. Run with -rewrite to update the
// expected output.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		e := newScriptEnv(t)
		defer func() {
			if e.c != nil {
				e.c.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "config" {
				if e.c != nil {
					d.Fatalf(t, "config after the coordinator started")
				}
				e.cfg.InitialRebalanceDelay = duration(t, d, "initial-delay", 0)
				return "ok"
			}
			if e.c == nil {
				e.start()
			}
			return e.run(t, d)
		})
	})
}
