package api

import (
	"sync"
	"time"
)

// FetchSessions is the broker's cache of incremental fetch sessions
// (KIP-227). A session remembers the partitions a client fetches and what the
// broker last told it about each, so that incremental requests and responses
// carry only what changed.
type FetchSessions struct {
	mu       sync.Mutex
	max      int
	nextID   int32
	sessions map[int32]*fetchSession
}

// NewFetchSessions returns a cache of at most max sessions
// (max.incremental.fetch.session.cache.slots, 1000 by default in Kafka).
func NewFetchSessions(max int) *FetchSessions {
	return &FetchSessions{max: max, sessions: make(map[int32]*fetchSession)}
}

// sessionKey names a partition in a session: by topic name before Fetch v13,
// by topic ID from v13 on.
type sessionKey struct {
	topic     string
	topicID   [16]byte
	partition int32
}

type sessionPartition struct {
	key                sessionKey
	fetchOffset        int64
	maxBytes           int32
	currentLeaderEpoch int32
	// A follower's fetch also says the epoch of the last batch it holds
	// (v12+, -1 if none) and its log start offset (v5+, -1 if not given).
	lastFetchedEpoch int32
	replicaLogStart  int64

	// What the last response told the client; an incremental response
	// includes the partition again only when one of these changes, it has
	// records, or it has an error.
	sent           bool
	highWatermark  int64
	lastStable     int64
	logStartOffset int64
}

type fetchSession struct {
	id       int32
	epoch    int32 // the epoch the next request must carry
	parts    map[sessionKey]*sessionPartition
	order    []sessionKey
	lastUsed time.Time
	inUse    bool
}

func (s *fetchSession) upsert(sp sessionPartition) {
	if cur, ok := s.parts[sp.key]; ok {
		cur.fetchOffset, cur.maxBytes, cur.currentLeaderEpoch = sp.fetchOffset, sp.maxBytes, sp.currentLeaderEpoch
		cur.lastFetchedEpoch, cur.replicaLogStart = sp.lastFetchedEpoch, sp.replicaLogStart
		return
	}
	p := sp
	s.parts[sp.key] = &p
	s.order = append(s.order, sp.key)
}

func (s *fetchSession) forget(k sessionKey) {
	if _, ok := s.parts[k]; !ok {
		return
	}
	delete(s.parts, k)
	for i, o := range s.order {
		if o == k {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// create starts a new session, evicting the least recently used idle
// session when the cache is full. It returns nil when no slot is free.
func (c *FetchSessions) create(now time.Time) *fetchSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sessions) >= c.max {
		var victim *fetchSession
		for _, s := range c.sessions {
			if !s.inUse && (victim == nil || s.lastUsed.Before(victim.lastUsed)) {
				victim = s
			}
		}
		if victim == nil {
			return nil
		}
		delete(c.sessions, victim.id)
	}
	for {
		c.nextID++
		if c.nextID <= 0 {
			c.nextID = 1
		}
		if _, taken := c.sessions[c.nextID]; !taken {
			break
		}
	}
	s := &fetchSession{id: c.nextID, epoch: 0, // release, at the end of this first request, moves it to 1
		parts: make(map[sessionKey]*sessionPartition), lastUsed: now, inUse: true}
	c.sessions[s.id] = s
	return s
}

// acquire finds session id for a request at epoch and marks it in use; it
// returns the Kafka error code when it cannot.
func (c *FetchSessions) acquire(id, epoch int32, now time.Time) (*fetchSession, int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[id]
	if s == nil {
		return nil, 70 // FETCH_SESSION_ID_NOT_FOUND
	}
	if s.epoch != epoch || s.inUse {
		return nil, 71 // INVALID_FETCH_SESSION_EPOCH
	}
	s.inUse = true
	s.lastUsed = now
	return s, 0
}

// release ends a request's use of s and advances its epoch.
func (c *FetchSessions) release(s *fetchSession) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.inUse = false
	s.epoch++
	if s.epoch <= 0 {
		s.epoch = 1
	}
}

// remove closes session id.
func (c *FetchSessions) remove(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sessions, id)
}

// Len is the number of cached sessions.
func (c *FetchSessions) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}
