package quorum

import (
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// hashicorp/raft keeps each follower's match index in its leader state and
// does not expose it (Stats has the leader's own indexes only, and
// Observer reports failed heartbeats, not progress). DescribeQuorum needs
// it, so the leader watches its own transport: progressTransport wraps
// raft's and records, from every answer a follower or non-voter gives,
// what that replica is known to hold — exactly raft's match index:
//
//   - a successful AppendEntries with entries: PrevLogEntry plus the
//     entries sent (the follower's log matches the leader's up to there);
//   - a successful InstallSnapshot: the snapshot's last index;
//   - any successful answer, heartbeats included: the time of contact
//     (Kafka's last fetch timestamp), and, when the replica's match index
//     had reached the leader's last index as of when the request was sent,
//     the time it was caught up (Kafka's last caught-up timestamp).
//
// Progress is kept per leader term: a new leader starts with nothing known
// (-1), as Kafka's new leader does, until the first answers of its term.
type progressTransport struct {
	raft.Transport
	progress *progress
	// lastIndex is the leader's last log index, read when a request is
	// sent.
	lastIndex func() uint64
}

// The transport raft is given must keep the optional interfaces of the
// one it wraps (pre-vote: raft disables it for a transport without).
var (
	_ raft.WithPreVote = (*progressTransport)(nil)
	_ raft.WithClose   = (*progressTransport)(nil)
)

func newProgressTransport(t raft.Transport, p *progress, lastIndex func() uint64) *progressTransport {
	return &progressTransport{Transport: t, progress: p, lastIndex: lastIndex}
}

func (t *progressTransport) leaderLast() uint64 { return t.lastIndex() }

func (t *progressTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	last := t.leaderLast()
	err := t.Transport.AppendEntries(id, target, args, resp)
	if err == nil {
		t.progress.appended(id, args, resp, last, time.Now())
	}
	return err
}

func (t *progressTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	last := t.leaderLast()
	err := t.Transport.InstallSnapshot(id, target, args, resp, data)
	if err == nil && resp.Success {
		t.progress.record(id, args.Term, int64(args.LastLogIndex), last, time.Now())
	}
	return err
}

func (t *progressTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	inner, err := t.Transport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	p := &progressPipeline{inner: inner, id: id, t: t, out: make(chan raft.AppendFuture), quit: make(chan struct{})}
	p.wg.Add(1)
	go p.forward()
	return p, nil
}

func (t *progressTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.Transport.(raft.WithPreVote).RequestPreVote(id, target, args, resp)
}

func (t *progressTransport) Close() error {
	if c, ok := t.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// progressPipeline is a pipeline whose answers are recorded as raft
// consumes them: a goroutine passes each future from the wrapped
// pipeline's Consumer on, in order, after recording it, with the leader's
// last index captured when its request was sent (a FIFO, as the pipeline
// answers in order).
type progressPipeline struct {
	inner raft.AppendPipeline
	id    raft.ServerID
	t     *progressTransport
	out   chan raft.AppendFuture
	quit  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu   sync.Mutex
	sent []uint64 // guarded by mu: leader's last index per request in flight
}

// AppendEntries is called by raft's one sending goroutine of the
// pipeline. The wrapped call may block until raft consumes answers, so mu
// is not held across it (forward takes mu before passing answers on).
func (p *progressPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	p.mu.Lock()
	p.sent = append(p.sent, p.t.leaderLast())
	p.mu.Unlock()
	f, err := p.inner.AppendEntries(args, resp)
	if err != nil {
		p.mu.Lock()
		p.sent = p.sent[:len(p.sent)-1] // no answer will come for it
		p.mu.Unlock()
	}
	return f, err
}

func (p *progressPipeline) Consumer() <-chan raft.AppendFuture { return p.out }

func (p *progressPipeline) forward() {
	defer p.wg.Done()
	for {
		select {
		case f := <-p.inner.Consumer():
			p.mu.Lock()
			var last uint64
			if len(p.sent) > 0 {
				last, p.sent = p.sent[0], p.sent[1:]
			}
			p.mu.Unlock()
			if f.Error() == nil {
				p.t.progress.appended(p.id, f.Request(), f.Response(), last, time.Now())
			}
			select {
			case p.out <- f:
			case <-p.quit:
				return
			}
		case <-p.quit:
			return
		}
	}
}

func (p *progressPipeline) Close() error {
	err := p.inner.Close()
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
	return err
}

// progress is what the leader knows of each replica's log, for the term it
// leads (see progressTransport). Safe for concurrent use.
type progress struct {
	mu       sync.Mutex
	term     uint64                        // guarded by mu: the term the entries are of
	replicas map[raft.ServerID]replicaSeen // guarded by mu
}

type replicaSeen struct {
	match       int64 // last index known to match the leader's log; -1 unknown
	lastContact time.Time
	caughtUp    time.Time
}

// appended records an AppendEntries answer (see progressTransport).
func (p *progress) appended(id raft.ServerID, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, leaderLast uint64, now time.Time) {
	if !resp.Success || resp.Term != args.Term {
		return
	}
	match := int64(-1)
	if len(args.Entries) > 0 || args.PrevLogEntry > 0 {
		match = int64(args.PrevLogEntry) + int64(len(args.Entries))
	}
	p.record(id, args.Term, match, leaderLast, now)
}

// record notes that replica id answered the leader of term at now,
// holding the log up to match (-1: this answer says nothing of it).
func (p *progress) record(id raft.ServerID, term uint64, match int64, leaderLast uint64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if term < p.term {
		return
	}
	if term > p.term || p.replicas == nil {
		p.term, p.replicas = term, map[raft.ServerID]replicaSeen{}
	}
	r, ok := p.replicas[id]
	if !ok {
		r.match = -1
	}
	r.match = max(r.match, match)
	r.lastContact = now
	if r.match >= 0 && uint64(r.match) >= leaderLast {
		r.caughtUp = now
	}
	p.replicas[id] = r
}

// seen returns what is known of replica id in term.
func (p *progress) seen(id raft.ServerID, term uint64) (replicaSeen, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.replicas[id]
	if !ok || p.term != term {
		return replicaSeen{match: -1}, false
	}
	return r, true
}
