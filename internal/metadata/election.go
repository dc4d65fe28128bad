package metadata

// NeedsUncleanElection reports whether p has no leader and no live
// (registered, unfenced, its replica not Offline) ISR member while a
// replica is live so: the
// partitions the active controller elects a leader of, with an ElectLeader
// record of Unclean, when unclean.leader.election.enable allows it — at
// once, or, for a partition that AwaitsRecovery, once the recovery
// election has waited a broker session for its candidates.
func (img *Image) NeedsUncleanElection(p Partition) bool {
	if p.Leader != -1 {
		return false
	}
	for _, id := range p.ISR {
		if img.electable(p, id) {
			return false // the ISR elects: unfencing it leads again
		}
	}
	for _, id := range p.Replicas {
		if img.electable(p, id) {
			return true
		}
	}
	return false
}
