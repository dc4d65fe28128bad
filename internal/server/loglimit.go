package server

import (
	"sync"
	"time"
)

// LogLimiter lets one log line per key through per interval and counts the
// ones it holds back, so that a fault repeated on every request or every
// accept (a full disk, a process out of file descriptors) is reported
// without flooding the log. It is safe for concurrent use.
type LogLimiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*limitedKey
}

type limitedKey struct {
	next       time.Time // when the next line may go out
	suppressed int       // lines held back since the last one that went out
}

// maxLimitedKeys bounds the keys remembered; past it, keys whose interval
// has passed are forgotten (they would be let through anyway).
const maxLimitedKeys = 4096

// NewLogLimiter returns a limiter of one line per key per interval; now is
// the clock (nil: time.Now).
func NewLogLimiter(interval time.Duration, now func() time.Time) *LogLimiter {
	if now == nil {
		now = time.Now
	}
	return &LogLimiter{interval: interval, now: now, keys: make(map[string]*limitedKey)}
}

// Allow reports whether a line for key may be logged now and, if so, how
// many lines for key were held back since the previous one.
func (l *LogLimiter) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= maxLimitedKeys {
			l.forgetPast(now)
		}
		k = &limitedKey{}
		l.keys[key] = k
	}
	if now.Before(k.next) {
		k.suppressed++
		return false, 0
	}
	suppressed, k.suppressed = k.suppressed, 0
	k.next = now.Add(l.interval)
	return true, suppressed
}

func (l *LogLimiter) forgetPast(now time.Time) {
	for key, k := range l.keys {
		if !now.Before(k.next) && k.suppressed == 0 {
			delete(l.keys, key)
		}
	}
}
