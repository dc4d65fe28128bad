package server

import (
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLogLimiter(10*time.Second, func() time.Time { return now })
	steps := []struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed int
	}{
		{0, "a", true, 0},
		{time.Second, "a", false, 0},
		{time.Second, "a", false, 0},
		{0, "b", true, 0}, // keys are independent
		{8 * time.Second, "a", true, 2},
		{time.Second, "a", false, 0},
		{10 * time.Second, "a", true, 1},
		{10 * time.Second, "a", true, 0},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		ok, suppressed := l.Allow(s.key)
		if ok != s.ok || suppressed != s.suppressed {
			t.Fatalf("step %d (%s): ok %v suppressed %d, want %v %d", i, s.key, ok, suppressed, s.ok, s.suppressed)
		}
	}
}
