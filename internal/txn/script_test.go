package txn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
)

const attrTransactional, attrControl = 0x10, 0x20

// TestScripts runs the ProducerState scripts in testdata/, each from an empty
// state and log, with github.com/cockroachdb/datadriven. A produce is a
// partition's produce path: Check, then (unless refused or a duplicate)
// Update at the next offset of the log. Commands:
//
//	produce pid=N epoch=N seq=N count=N [txn]   prints @OFFSET, dup FIRST-LAST or ERROR: message
//	marker pid=N epoch=N [commit] [coord=N] [tv=N]
//	                                            a coordinator's transaction marker (control batch; an
//	                                            abort unless commit), checked by CheckMarker; prints
//	                                            @OFFSET and the transaction it ended, an abort with the
//	                                            last stable offset its index entry records, or ERROR
//	stable hw=N                                 the first unstable and last stable offsets at high watermark N
//	time ms=N                                   max timestamp of later batches
//	producers                                   one line per producer, as DescribeProducers sees it
//	snapshot                                    marshal, unmarshal, carry on with the copy
//	expire now=MS expiration=MS                 prints how many producers were removed
//	truncate-before offset=N                    likewise
//	reset                                       an empty state and log
//
// Run with -rewrite to update the expected output.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := NewProducerState()
		var next, ts int64
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			defer checkOngoing(t, s)
			var pid, now, expiration, offset, hw int64
			var epoch int16
			var seq, count int32
			switch d.Cmd {
			case "reset":
				s, next, ts = NewProducerState(), 0, 0
				return ""
			case "time":
				d.ScanArgs(t, "ms", &ts)
				return ""
			case "snapshot":
				b := s.MarshalSnapshot(next)
				loaded, off, err := UnmarshalSnapshot(b)
				if err != nil {
					return "error: " + err.Error()
				}
				s = loaded
				again := "identical"
				if string(loaded.MarshalSnapshot(off)) != string(b) {
					again = "differs"
				}
				return fmt.Sprintf("offset=%d re-marshalled=%s", off, again)
			case "stable":
				d.ScanArgs(t, "hw", &hw)
				return fmt.Sprintf("first-unstable=%d last-stable=%d", s.FirstUnstableOffset(hw), s.LastStableOffset(hw))
			case "produce", "marker":
				d.ScanArgs(t, "pid", &pid)
				d.ScanArgs(t, "epoch", &epoch)
				h := scriptHeader(pid, epoch, -1, 1, ts)
				res := CheckResult{}
				m := Marker{Commit: d.HasArg("commit"), CoordinatorEpoch: 0}
				if d.HasArg("coord") {
					d.ScanArgs(t, "coord", &m.CoordinatorEpoch)
				}
				if d.Cmd == "marker" {
					h.Attributes |= attrControl | attrTransactional
					var tv int64
					if d.HasArg("tv") {
						d.ScanArgs(t, "tv", &tv)
					}
					res = s.CheckMarker(pid, epoch, m.CoordinatorEpoch, int8(tv))
				} else {
					d.ScanArgs(t, "seq", &seq)
					d.ScanArgs(t, "count", &count)
					h = scriptHeader(pid, epoch, seq, count, ts)
					if d.HasArg("txn") {
						h.Attributes |= attrTransactional
					}
					res = s.Check(h)
				}
				switch {
				case res.ErrorCode != 0:
					return kerr.ErrorForCode(res.ErrorCode).(*kerr.Error).Message + ": " + res.Message
				case res.Duplicate:
					return fmt.Sprintf("dup %d-%d", res.FirstOffset, res.LastOffset)
				}
				h.BaseOffset = next
				next += int64(h.NumRecords)
				if d.Cmd == "marker" {
					done, ok := s.UpdateMarker(h, h.BaseOffset, m)
					if !ok {
						return fmt.Sprintf("@%d no transaction", h.BaseOffset)
					}
					out := fmt.Sprintf("@%d ended pid=%d %d-%d aborted=%t", h.BaseOffset, done.ProducerID, done.FirstOffset, done.LastOffset, done.Aborted)
					if done.Aborted {
						out += fmt.Sprintf(" index-lso=%d", s.IndexStableOffset(done))
					}
					return out
				}
				s.Update(h, h.BaseOffset)
				return fmt.Sprintf("@%d", h.BaseOffset)
			case "producers":
				var b strings.Builder
				for _, e := range s.Producers() {
					fmt.Fprintf(&b, "pid=%d epoch=%d last-seq=%d last-timestamp=%d txn-start=%d coordinator-epoch=%d\n",
						e.ProducerID, e.ProducerEpoch, e.LastSequence, e.LastTimestamp, e.CurrentTxnStartOffset, e.CoordinatorEpoch)
				}
				return b.String()
			case "expire":
				d.ScanArgs(t, "now", &now)
				d.ScanArgs(t, "expiration", &expiration)
				return fmt.Sprintf("removed %d", s.RemoveExpired(now, expiration))
			case "truncate-before":
				d.ScanArgs(t, "offset", &offset)
				return fmt.Sprintf("removed %d", s.TruncateBefore(offset))
			}
			d.Fatalf(t, "unknown command %q", d.Cmd)
			return ""
		})
	})
}

// checkOngoing checks that the index of open transactions agrees with the
// producers' own state.
func checkOngoing(t *testing.T, s *ProducerState) {
	t.Helper()
	want := map[int64]int64{}
	for id, p := range s.producers {
		if p.txnFirstOffset != noOffset {
			want[id] = p.txnFirstOffset
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(s.ongoing) {
		t.Fatalf("open transactions %v, the producers say %v", s.ongoing, want)
	}
}
