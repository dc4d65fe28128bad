package group

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata scripts")

// fakeClock fires timers only when a test advances it, in time order, in
// the advancing goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(target) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		next.stopped = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
	}
}

// memoryLog is an in-memory __consumer_offsets partition.
type memoryLog struct {
	mu   sync.Mutex
	recs []batch.Record
	fail bool
}

func (l *memoryLog) Append(recs []batch.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errors.New("memory log: failing")
	}
	for _, r := range recs {
		r.Offset = int64(len(l.recs))
		l.recs = append(l.recs, r)
	}
	return nil
}

func (l *memoryLog) setFailing(fail bool) {
	l.mu.Lock()
	l.fail = fail
	l.mu.Unlock()
}

// logOf is the memory log of a coordinator's only shard.
func logOf(c *Coordinator) *memoryLog {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.shards[0].log.(*memoryLog)
}

// logRecords copies what l holds.
func logRecords(l *memoryLog) []batch.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]batch.Record(nil), l.recs...)
}

func (l *memoryLog) Replay(fn func(batch.Record) error) error {
	l.mu.Lock()
	recs := append([]batch.Record(nil), l.recs...)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

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

// args splits "k=v" words into a map and the rest.
func args(words []string) (map[string]string, []string) {
	kv := map[string]string{}
	var rest []string
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			kv[k] = v
		} else {
			rest = append(rest, w)
		}
	}
	return kv, rest
}

func duration(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func (e *scriptEnv) group(kv map[string]string) string {
	if g := kv["group"]; g != "" {
		return g
	}
	return "g"
}

// run executes one command and returns its output, followed by any
// JoinGroup or SyncGroup answers it released.
func (e *scriptEnv) run(line string) string {
	words := strings.Fields(line)
	cmd, kv, rest := words[0], map[string]string{}, []string(nil)
	kv, rest = args(words[1:])
	var out []string
	switch cmd {
	case "join":
		a := rest[0]
		req := JoinRequest{
			Group: e.group(kv), MemberID: e.ids[a], ClientID: a, ClientHost: "/127.0.0.1",
			SessionTimeout: duration(kv["session"], 10*time.Second), RebalanceTimeout: duration(kv["rebalance"], 10*time.Second),
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
		gen := e.gen[a]
		if g, ok := kv["gen"]; ok {
			n, _ := strconv.Atoi(g)
			gen = int32(n)
		}
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
		gen := e.gen[a]
		if g, ok := kv["gen"]; ok {
			n, _ := strconv.Atoi(g)
			gen = int32(n)
		}
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
	case "commit":
		// commit ALIAS|- t:p=off ...
		a := rest[0]
		req := CommitRequest{Group: e.group(kv), Generation: -1}
		if a != "-" {
			req.MemberID, req.Generation = e.ids[a], e.gen[a]
		}
		if g, ok := kv["gen"]; ok {
			n, _ := strconv.Atoi(g)
			req.Generation = int32(n)
		}
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
		code, codes := e.c.CommitOffsets(req)
		s := "commit: " + errName(code)
		for _, c := range codes {
			s += " " + errName(c)
		}
		out = append(out, s)
	case "fetch":
		offs, code := e.c.FetchOffsets(e.group(kv), nil)
		s := "offsets: " + errName(code)
		for _, o := range offs {
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
		for _, l := range e.c.ListGroups(rest, nil) {
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
		e.clock.Advance(duration(rest[0], 0))
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
		e.t.Fatalf("unknown command %q", cmd)
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

// TestScripts runs the state machine scripts in testdata/*.txt. A script
// is a series of blocks: a command line, "----", the expected output, a
// blank line. Lines starting with # are comments. Members are named by
// alias; commands:
//
//	config initial-delay=D          (before the first other command)
//	join A [new] [instance=I] [session=D] [rebalance=D] [protocols=p,q] [meta=M] [v3=1]
//	sync A [gen=N] [B=ASSIGNMENT ...] [instance=I]
//	heartbeat A [gen=N] [instance=I]
//	leave A ... [instance=I]
//	commit A|- T:P=OFFSET ... [gen=N]
//	fetch | describe | list [STATE ...] | expire | restart
//	delete-group | delete-offsets T:P ...
//	alias NEW OLD                   NEW names OLD's member ID (to act as a fenced incarnation)
//	advance D                       fires the timers due
//	fail-log on|off                 makes appends to __consumer_offsets fail
//
// Commands take group=G (default g). Answers released by a command (a
// completed rebalance) are listed after it. Run with -rewrite to update the
// expected output.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			e := newScriptEnv(t)
			var outBuf strings.Builder
			blocks := strings.Split(strings.TrimSpace(string(data)), "\n\n")
			started := false
			for _, block := range blocks {
				lines := strings.Split(block, "\n")
				var comments []string
				for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
					comments = append(comments, lines[0])
					lines = lines[1:]
				}
				if len(lines) == 0 {
					outBuf.WriteString(strings.Join(comments, "\n") + "\n\n")
					continue
				}
				cmd := lines[0]
				var want string
				if len(lines) > 2 && lines[1] == "----" {
					want = strings.Join(lines[2:], "\n")
				}
				var got string
				if strings.HasPrefix(cmd, "config ") {
					kv, _ := args(strings.Fields(cmd)[1:])
					e.cfg.InitialRebalanceDelay = duration(kv["initial-delay"], 0)
					got = "ok"
				} else {
					if !started {
						e.start()
						started = true
					}
					got = e.run(cmd)
				}
				if !*rewrite && got != want {
					t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", file, cmd, got, want)
				}
				for _, c := range comments {
					outBuf.WriteString(c + "\n")
				}
				outBuf.WriteString(cmd + "\n----\n" + got + "\n\n")
			}
			if e.c != nil {
				e.c.Close()
			}
			if *rewrite {
				if err := os.WriteFile(file, []byte(strings.TrimSpace(outBuf.String())+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
