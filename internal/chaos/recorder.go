package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"time"
)

// Recorder collects a history as it happens. Safe for concurrent use:
// each event is timed under the lock, so the events are in time order.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Add times e now and appends it.
func (r *Recorder) Add(e Event) {
	r.mu.Lock()
	e.Time = time.Now().UnixNano()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns a copy of the history so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// fileRecorder appends each event to a file as one line written in one
// write, so a process killed with SIGKILL leaves only whole lines (a write
// to a regular file is not cut short by a signal) — a consumer group
// member's history, merged into the run's afterwards.
type fileRecorder struct {
	mu sync.Mutex
	f  *os.File
}

func (r *fileRecorder) Add(e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Time = time.Now().UnixNano()
	b, err := json.Marshal(&e)
	if err != nil {
		return err
	}
	_, err = r.f.Write(append(b, '\n'))
	return err
}

// readPartialHistory reads a member's history file; a last line without
// its newline (its writer killed mid-write) is dropped.
func readPartialHistory(path string) ([]Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		b = b[:i+1]
	}
	return ReadHistory(bufio.NewReader(bytes.NewReader(b)))
}

// mergeHistories merges histories each in time order into one.
func mergeHistories(hs ...[]Event) []Event {
	var all []Event
	for _, h := range hs {
		all = append(all, h...)
	}
	slices.SortStableFunc(all, func(a, b Event) int {
		switch {
		case a.Time < b.Time:
			return -1
		case a.Time > b.Time:
			return 1
		}
		return 0
	})
	return all
}
