package broker

import (
	"fmt"
	"os"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/quorum"
)

// descriptorReserve is what CheckCapacity keeps free for everything else
// (connections, the segment handles storage caches, the metadata log): a
// tenth of the limit, at least 64.
func descriptorReserve(limit int) int { return max(64, limit/10) }

// CheckCapacity implements api.Partitions. A partition holds no descriptor
// of its own: storage opens segment files through one cache bounded at a
// quarter of the limit (see maxOpenSegments), so any number of partitions
// fits. But creating one opens files, so a broker already within the reserve
// of its file-descriptor limit (RLIMIT_NOFILE) refuses new partitions up
// front, before anything is proposed, with POLICY_VIOLATION (a limit of this
// broker that asking again will not lift; Kafka's nearest answer, as for its
// own per-request partition limit) and a message saying what to raise,
// instead of failing them one by one with "too many open files". Without a
// view of the open descriptors (no /proc) nothing is checked.
func (r *partitions) CheckCapacity(n int) error {
	limit, open, ok := descriptorUsage()
	if !ok || n <= 0 {
		return nil
	}
	if reserve := descriptorReserve(limit); open+reserve > limit {
		return &quorum.Error{Code: kerr.PolicyViolation, Message: fmt.Sprintf(
			"cannot create %d partitions: this broker has %d file descriptors open of its limit of %d and keeps %d free for connections and segments; raise the limit (ulimit -n, systemd LimitNOFILE) or close connections",
			n, open, limit, reserve)}
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
