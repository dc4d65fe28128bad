package broker

import (
	"fmt"
	"os"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/quorum"
)

// descriptorsPerPartition is what storage keeps open per local partition:
// the active segment's append handle (read handles come from storage's
// shared, bounded cache). If storage opens segments lazily this
// overestimates, which only makes CheckCapacity cautious.
const descriptorsPerPartition = 1

// descriptorReserve is what CheckCapacity leaves free for everything else
// (connections, segment rolls, reads, the metadata log): a tenth of the
// limit, at least 64.
func descriptorReserve(limit int) int { return max(64, limit/10) }

// CheckCapacity implements api.Partitions: n more local partitions must fit
// the process's file-descriptor limit (RLIMIT_NOFILE) with the reserve to
// spare, or the request is refused before anything is proposed, with
// POLICY_VIOLATION (the request exceeds a limit of this broker and asking
// again will not help; Kafka's nearest answer, as for its own per-request
// partition limit) and a message saying what to raise. Without a view of
// the open descriptors (no /proc) nothing is checked.
func (r *partitions) CheckCapacity(n int) error {
	limit, open, ok := descriptorUsage()
	if !ok || n <= 0 {
		return nil
	}
	need := n * descriptorsPerPartition
	reserve := descriptorReserve(limit)
	if free := limit - open - reserve; need > free {
		return &quorum.Error{Code: kerr.PolicyViolation, Message: fmt.Sprintf(
			"creating %d partitions needs about %d more file descriptors, but this broker has %d open of its limit of %d and keeps %d free for connections and segments; raise the limit (ulimit -n, systemd LimitNOFILE) or create fewer partitions",
			n, need, open, limit, reserve)}
	}
	return nil
}

// descriptorUsage returns the soft RLIMIT_NOFILE and the descriptors open
// now (Go raises the soft limit to the hard one at start-up).
func descriptorUsage() (limit, open int, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<40 {
		return 0, 0, false
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0, false
	}
	return int(rl.Cur), len(fds) - 1, true // minus ReadDir's own
}
