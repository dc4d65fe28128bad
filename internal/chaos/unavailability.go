package chaos

import (
	"slices"
	"time"
)

// Outage is the unavailability one kind of fault caused: for each
// FaultStart and each partition it affects, the time from the fault to the
// first acknowledged write (an Ack without error, later than the fault) on
// that partition.
type Outage struct {
	Fault    string `json:"fault"`
	Injected int    `json:"injected"`
	// Measured counts the (fault, affected partition) pairs followed by an
	// acknowledged write on the partition; the others saw none before the
	// history ended.
	Measured int           `json:"measured"`
	P50      time.Duration `json:"p50_ns"`
	Max      time.Duration `json:"max_ns"`
}

// Unavailability returns an Outage per fault kind, sorted by kind. A fault
// with no Partitions affects every partition of the history.
func Unavailability(events []Event) []Outage {
	acks := map[int32][]int64{} // partition -> times of successful acks, sorted
	for _, e := range events {
		if e.Kind == Ack && e.Err == "" {
			acks[e.Partition] = append(acks[e.Partition], e.Time)
		}
	}
	for _, ts := range acks {
		slices.Sort(ts)
	}
	waits := map[string][]time.Duration{}
	injected := map[string]int{}
	for _, e := range events {
		if e.Kind != FaultStart {
			continue
		}
		injected[e.Fault]++
		parts := e.Partitions
		if len(parts) == 0 {
			for p := range acks {
				parts = append(parts, p)
			}
		}
		for _, p := range parts {
			ts := acks[p]
			if i, _ := slices.BinarySearch(ts, e.Time+1); i < len(ts) {
				waits[e.Fault] = append(waits[e.Fault], time.Duration(ts[i]-e.Time))
			}
		}
	}
	var out []Outage
	for _, kind := range slices.Sorted(func(yield func(string) bool) {
		for k := range injected {
			if !yield(k) {
				return
			}
		}
	}) {
		o := Outage{Fault: kind, Injected: injected[kind]}
		if w := waits[kind]; len(w) > 0 {
			slices.Sort(w)
			o.Measured = len(w)
			o.P50 = w[(len(w)-1)/2]
			o.Max = w[len(w)-1]
		}
		out = append(out, o)
	}
	return out
}
