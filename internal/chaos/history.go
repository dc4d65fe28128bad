package chaos

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Kind is what an Event records.
type Kind string

const (
	// Send is a value handed to a producer for one partition.
	Send Kind = "send"
	// Ack is the producer's answer for a sent value: its offset, or an
	// error (the outcome is then unknown: the value may still be written).
	Ack Kind = "ack"
	// Poll is records a consumer session received, in the order received.
	Poll Kind = "poll"
	// Commit is a consumer group's commit the coordinator accepted.
	Commit Kind = "commit"
	// FaultStart is a fault injected; FaultEnd its healing or restart.
	FaultStart Kind = "fault"
	FaultEnd   Kind = "heal"
	// TxnEnd is a transactional producer's end of transaction Txn: a
	// commit (Commit) or an abort, and its error (empty: it took effect;
	// else a commit's outcome is unknown).
	TxnEnd Kind = "txn-end"
)

// Event is one line of a history.
type Event struct {
	// Time is when the event happened (for an Ack or Commit, when the
	// answer arrived), in Unix nanoseconds.
	Time int64 `json:"t"`
	Kind Kind  `json:"kind"`
	// Process names the client: a producer, a consumer session ("assign-3",
	// "group-1.2": member 1's second assignment), or the fault scheduler.
	Process   string `json:"process,omitempty"`
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	// Value is the unique value of a Send or Ack.
	Value string `json:"value,omitempty"`
	// Txn is the transaction a Send's value is written in (none: an
	// idempotent producer's), or a TxnEnd's transaction; Commit is
	// whether a TxnEnd commits.
	Txn    string `json:"txn,omitempty"`
	Commit bool   `json:"commit,omitempty"`
	Offset int64  `json:"offset"`
	// Err is an Ack's or Commit's error; empty is success.
	Err string `json:"err,omitempty"`
	// Records are a Poll's records.
	Records []Record `json:"records,omitempty"`
	// Final marks the polls of the read-back after healing, which must
	// hold every acknowledged value.
	Final bool   `json:"final,omitempty"`
	Group string `json:"group,omitempty"`
	// Fault names a FaultStart's or FaultEnd's kind; ID pairs them.
	Fault string `json:"fault,omitempty"`
	ID    int    `json:"id,omitempty"`
	// Nodes are the nodes a fault acts on; Partitions those it affects (the
	// ones whose leader it cut off, or all), for the unavailability.
	Nodes      []int   `json:"nodes,omitempty"`
	Partitions []int32 `json:"partitions,omitempty"`
	Detail     string  `json:"detail,omitempty"`
}

// Record is one record of a Poll.
type Record struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Value     string `json:"value"`
}

// At returns the event's time.
func (e Event) At() time.Time { return time.Unix(0, e.Time) }

// maxLine bounds one history line: a poll of a few thousand records.
const maxLine = 16 << 20

// WriteHistory writes events as JSON lines.
func WriteHistory(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ErrHistory is a history line that is not an event.
var ErrHistory = errors.New("chaos: bad history")

// ReadHistory decodes JSON lines written by WriteHistory (or a Recorder).
// A line that is not an event of a known kind is an error naming its line.
func ReadHistory(r io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var events []Event
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrHistory, line, err)
		}
		switch e.Kind {
		case Send, Ack, Poll, Commit, FaultStart, FaultEnd:
		default:
			return nil, fmt.Errorf("%w: line %d: unknown kind %q", ErrHistory, line, e.Kind)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHistory, err)
	}
	return events, nil
}
