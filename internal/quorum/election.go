package quorum

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// uncleanElections runs on the active controller after each change of the
// image (the liveness watcher's tick): every partition with no leader and
// no live ISR member — but an empty ISR, which awaits recovery
// (recovery.go) — whose unclean.leader.election.enable resolves true
// (Config.UncleanLeaderElection: the topic's config, else the dynamic
// broker config, else the static one) gets its first live replica, in
// replica order, as leader (an unclean metadata.ElectLeader, which makes it
// the ISR alone), and a warning in
// the log: the records only the old ISR had are lost. Kafka's controller
// does the same for leaderless partitions when the config allows it.
func (c *Controller) uncleanElections(img *metadata.Image) {
	allowed := c.cfg.UncleanLeaderElection
	if allowed == nil {
		return
	}
	for name, t := range img.Topics { // each proposal stands alone: order does not matter
		for _, p := range t.Partitions {
			if p.AwaitsRecovery() || !img.NeedsUncleanElection(p) || !allowed(t, img.BrokerConfigs) {
				continue
			}
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Liveness.SessionTimeout)
			_, err := c.propose(ctx, metadata.ElectLeader{TopicID: t.ID, Partition: p.Partition, Unclean: true})
			cancel()
			if err != nil {
				c.logger.Warn("quorum: unclean leader election failed", "topic", name, "partition", p.Partition, "err", err)
				continue
			}
			var leader int32 = -1
			if now := c.Image().Topics[name]; now != nil && int(p.Partition) < len(now.Partitions) {
				leader = now.Partitions[p.Partition].Leader
			}
			c.logger.Warn("quorum: unclean leader election (unclean.leader.election.enable): an out-of-sync replica leads a partition that had no live in-sync replica; records only the old ISR had are lost",
				"topic", name, "partition", p.Partition, "leader", leader, "old-isr", p.ISR)
		}
	}
}
