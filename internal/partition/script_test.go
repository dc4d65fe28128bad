package partition

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestScripts runs the replica core's scripts in testdata/. Each file
// starts from a fresh Replica of node 1 with an empty log and no role.
// Commands (times are milliseconds, lists are written (1,2,3)):
//
//	new id=N [log-start=N] [leo=N] [hw=N] [lag=MS] [epochs=(E,..) starts=(O,..)]
//	    replaces the replica: a log [log-start, leo) whose checkpointed high
//	    watermark was hw and whose epoch cache holds the pairs given
//	become-leader epoch=E [partition-epoch=P] [replicas=(..)] isr=(..) [time=T]
//	    replicas default to the ISR
//	become-follower epoch=E [partition-epoch=P] leader=N replicas=(..)
//	append leo=N [time=T]     the leader appended up to log end N
//	follower-append leo=N epochs=(E,..) starts=(O,..)
//	    a follower appended the leader's batches (epoch E from offset O)
//	leader-hw hw=N            the high watermark in the leader's fetch response
//	fetch replica=N offset=O time=T [broker-epoch=B] [log-start=S]
//	tick time=T
//	alter-partition-response [error=NAME] [leader-epoch=E] partition-epoch=P isr=(..) [time=T]
//	    leader-epoch defaults to the replica's
//	truncate offset=O         the log was truncated to O
//	truncate-fully offset=O   the log was emptied to start again at O
//	log-start offset=O        the log start moved to O
//	stop
//	min-isr n=N               min.insync.replicas (default 1)
//	fenced ids=(..) [time=T]  the brokers fenced in the metadata
//	check-append acks=A
//	check-acks offset=O
//	end-offset-for epoch=E    OffsetForLeaderEpoch's answer
//
// State-changing commands print an error, or the effects (hw-moved, alter
// and the change proposed, epochs-changed) and then the whole state: role,
// epochs, log offsets and high watermark, replicas, ISR, maximal ISR, the
// pending change, each follower as the leader knows it, the epoch cache.
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		r := NewReplica(1, 0, 0, -1, nil, 0)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var fx Effects
			var err error
			switch d.Cmd {
			case "new":
				starts, epochs := int64s(t, d, "starts"), int64s(t, d, "epochs")
				var entries []EpochEntry
				for i := range min(len(starts), len(epochs)) {
					entries = append(entries, EpochEntry{Epoch: int32(epochs[i]), StartOffset: starts[i]})
				}
				r = NewReplica(int32(intArg(t, d, "id", 1)), intArg(t, d, "log-start", 0), intArg(t, d, "leo", 0),
					intArg(t, d, "hw", -1), entries, intArg(t, d, "lag", 0))
			case "become-leader":
				isr := int32s(t, d, "isr")
				replicas := isr
				if d.HasArg("replicas") {
					replicas = int32s(t, d, "replicas")
				}
				fx, err = r.BecomeLeader(intArg(t, d, "time", 0), int32(intArg(t, d, "epoch", -1)),
					int32(intArg(t, d, "partition-epoch", 0)), replicas, isr)
			case "become-follower":
				err = r.BecomeFollower(int32(intArg(t, d, "epoch", -1)), int32(intArg(t, d, "partition-epoch", 0)),
					int32(intArg(t, d, "leader", -1)), int32s(t, d, "replicas"))
			case "append":
				fx = r.AppendAsLeader(intArg(t, d, "time", 0), r.LogEndOffset(), intArg(t, d, "leo", 0))
			case "follower-append":
				starts, epochs := int64s(t, d, "starts"), int64s(t, d, "epochs")
				batches := make([]EpochEntry, len(starts))
				for i := range batches {
					batches[i] = EpochEntry{Epoch: int32(epochs[i]), StartOffset: starts[i]}
				}
				fx = r.AppendAsFollower(batches, intArg(t, d, "leo", 0))
			case "leader-hw":
				fx = r.SetLeaderHighWatermark(intArg(t, d, "hw", 0))
			case "fetch":
				var code int16
				fx, code = r.FollowerFetch(intArg(t, d, "time", 0), int32(intArg(t, d, "replica", -1)),
					intArg(t, d, "broker-epoch", -1), intArg(t, d, "offset", 0), intArg(t, d, "log-start", 0))
				if code != 0 {
					return "error " + kerr.ErrorForCode(code).(*kerr.Error).Message + "\n"
				}
			case "tick":
				fx = r.Tick(intArg(t, d, "time", 0))
			case "alter-partition-response":
				var code int16
				if d.HasArg("error") {
					code = errorCode(t, d)
				}
				fx = r.AlterPartitionResponse(intArg(t, d, "time", 0), code, int32(intArg(t, d, "leader-epoch", int64(r.LeaderEpoch()))),
					int32(intArg(t, d, "partition-epoch", 0)), int32s(t, d, "isr"))
			case "truncate":
				fx = r.TruncateTo(intArg(t, d, "offset", 0))
			case "truncate-fully":
				fx = r.TruncateFullyAndStartAt(intArg(t, d, "offset", 0))
			case "log-start":
				fx = r.SetLogStartOffset(intArg(t, d, "offset", 0))
			case "stop":
				r.Stop()
			case "min-isr":
				r.SetMinInsyncReplicas(int32(intArg(t, d, "n", 1)))
			case "fenced":
				fx = r.SetFenced(intArg(t, d, "time", 0), int32s(t, d, "ids"))
			case "check-append":
				return codeName(r.CheckAppend(int16(intArg(t, d, "acks", 1)))) + "\n"
			case "check-acks":
				done, code := r.CheckAcks(intArg(t, d, "offset", 0))
				return fmt.Sprintf("done=%v %s\n", done, codeName(code))
			case "end-offset-for":
				epoch, offset := r.Epochs().EndOffsetFor(int32(intArg(t, d, "epoch", -1)), r.LogEndOffset())
				return fmt.Sprintf("epoch=%d end-offset=%d\n", epoch, offset)
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			if err != nil {
				return "error " + err.Error() + "\n"
			}
			return effects(fx) + dumpReplica(r)
		})
	})
}

func effects(fx Effects) string {
	var out []string
	if fx.HighWatermarkMoved {
		out = append(out, "hw-moved")
	}
	if fx.Alter != nil {
		out = append(out, "alter "+alterString(fx.Alter))
	}
	if fx.EpochsChanged {
		out = append(out, "epochs-changed")
	}
	if len(out) == 0 {
		return ""
	}
	return "effects: " + strings.Join(out, " ") + "\n"
}

func alterString(a *AlterPartition) string {
	kind := "shrink"
	if a.Expand {
		kind = "expand"
	}
	return fmt.Sprintf("%s isr=%s leader-epoch=%d partition-epoch=%d broker-epochs=%s",
		kind, list(a.ISR), a.LeaderEpoch, a.PartitionEpoch, list(a.BrokerEpochs))
}

func dumpReplica(r *Replica) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s leader=%d epoch=%d partition-epoch=%d log=[%d,%d) hw=%d\n",
		r.Role(), r.Leader(), r.LeaderEpoch(), r.PartitionEpoch(), r.LogStartOffset(), r.LogEndOffset(), r.HighWatermark())
	if r.Role() == RoleLeader {
		fmt.Fprintf(&b, "replicas=%s isr=%s maximal-isr=%s\n", list(r.Replicas()), list(r.ISR()), list(r.MaximalISR()))
		if p := r.Pending(); p != nil {
			fmt.Fprintf(&b, "pending: %s\n", alterString(p))
		}
		for _, id := range r.Replicas() {
			if f, ok := r.Follower(id); ok {
				fmt.Fprintf(&b, "follower %d: leo=%d last-fetch=%d caught-up=%d broker-epoch=%d\n",
					id, f.LogEndOffset, f.LastFetchTimeMs, f.LastCaughtUpTimeMs, f.BrokerEpoch)
			}
		}
	} else if r.Role() == RoleFollower {
		fmt.Fprintf(&b, "replicas=%s\n", list(r.Replicas()))
	}
	var epochs []string
	for _, e := range r.Epochs().Entries() {
		epochs = append(epochs, fmt.Sprintf("%d@%d", e.Epoch, e.StartOffset))
	}
	fmt.Fprintf(&b, "epochs: %s\n", strings.Join(epochs, " "))
	return b.String()
}

func list[T int32 | int64](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(int64(x), 10)
	}
	return "(" + strings.Join(s, ",") + ")"
}

func codeName(code int16) string {
	if code == 0 {
		return "ok"
	}
	return kerr.ErrorForCode(code).(*kerr.Error).Message
}

func errorCode(t *testing.T, d *datadriven.TestData) int16 {
	arg, _ := d.Arg("error")
	name := arg.SingleVal(t)
	for code := int16(1); code < 200; code++ {
		if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e.Message == name {
			return code
		}
	}
	d.Fatalf(t, "unknown error %q", name)
	return 0
}

func intArg(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	arg, ok := d.Arg(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(arg.SingleVal(t), 10, 64)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return n
}

func int64s(t *testing.T, d *datadriven.TestData, key string) []int64 {
	arg, ok := d.Arg(key)
	if !ok {
		return nil
	}
	out := []int64{}
	for _, v := range arg.Vals {
		if v == "" { // isr=()
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			d.Fatalf(t, "%s: %v", key, err)
		}
		out = append(out, n)
	}
	return out
}

func int32s(t *testing.T, d *datadriven.TestData, key string) []int32 {
	var out []int32
	for _, n := range int64s(t, d, key) {
		out = append(out, int32(n))
	}
	return out
}
