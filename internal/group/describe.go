package group

import (
	"cmp"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/batch"
)

// Description is a group as DescribeGroups reports it.
type Description struct {
	Err          int16
	Group        string
	State        string
	ProtocolType string
	Protocol     string
	Members      []MemberDescription
}

// MemberDescription is one member as DescribeGroups reports it.
type MemberDescription struct {
	MemberID   string
	InstanceID *string
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// DescribeGroup describes a group; an unknown group is reported Dead with
// GROUP_ID_NOT_FOUND in Err (callers of old versions drop the error). The
// description is taken under the group's lock and answered once every
// record the group had written by then is committed (read), so it never
// shows a state a failover could take back; if they are not committed
// within CommitTimeout, Err is the code a failed write gets.
func (c *Coordinator) DescribeGroup(groupID string) Description {
	d := Description{Group: groupID}
	_, g, code := c.lookup(groupID, false)
	if code != 0 {
		d.Err = code
		return d
	}
	if g == nil {
		d.Err, d.State = kerr.GroupIDNotFound.Code, Dead.String()
		return d
	}
	if code := g.read(func() { g.describe(&d) }); code != 0 {
		return Description{Group: groupID, Err: code}
	}
	return d
}

// describe fills d in. g.mu is held.
func (g *group) describe(d *Description) {
	d.State, d.ProtocolType = g.state.String(), g.protocolType
	if g.consumer != nil {
		d.Err, d.State = kerr.GroupIDNotFound.Code, Dead.String() // not a classic group
		return
	}
	if g.state == Dead {
		d.Err = kerr.GroupIDNotFound.Code
		return
	}
	if g.state == Stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.sorted() {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == Stable {
			md.Metadata, md.Assignment = m.metadataFor(g.protocol), m.assignment
		}
		d.Members = append(d.Members, md)
	}
}

// Listing is one group as ListGroups reports it.
type Listing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic" or "consumer" (KIP-848)
}

// ListGroups lists the groups this broker coordinates, filtered by state
// and type (case-insensitive; empty filters match everything). Each
// group's listing waits, as DescribeGroup, for the group's records to be
// committed; the first code of one that is not is returned with the
// listings of the others.
func (c *Coordinator) ListGroups(states, types []string) ([]Listing, int16) {
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	var out []Listing
	var failed int16
	for _, s := range c.allShards() {
		for _, g := range s.all() {
			var l Listing
			code := g.read(func() {
				l = Listing{Group: g.id, ProtocolType: g.protocolType, State: g.state.String(), Type: "classic"}
				if g.consumer != nil && g.state != Dead {
					l.State, l.Type = g.consumer.state(), "consumer"
				}
			})
			if code != 0 {
				failed = cmp.Or(failed, code)
				continue
			}
			if l.State != Dead.String() && match(states, l.State) && match(types, l.Type) {
				out = append(out, l)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, failed
}

// DeleteGroup deletes an empty group and its offsets.
func (c *Coordinator) DeleteGroup(groupID string) int16 {
	s, g, code := c.lookup(groupID, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	return g.write(func() int16 { return g.delete(s) })
}

// delete is DeleteGroup under g.mu.
func (g *group) delete(s *shard) int16 {
	switch {
	case g.state == Dead:
		return kerr.GroupIDNotFound.Code
	case g.consumer != nil && len(g.consumer.members) > 0:
		return kerr.NonEmptyGroup.Code
	case g.state != Empty:
		return kerr.NonEmptyGroup.Code
	}
	var recs []batch.Record
	for topic, ps := range g.offsets {
		for p := range ps {
			recs = append(recs, batch.Record{Key: offsetKey(g.id, topic, p)})
		}
	}
	// As Kafka's deleteAllOffsets, a partition with only pending
	// transactional commits gets a tombstone too, which drops them.
	tombstoned := map[TopicPartition]bool{}
	for _, ps := range g.pendingTxn {
		for tp := range ps {
			if _, ok := g.offsets[tp.Topic][tp.Partition]; !ok && !tombstoned[tp] {
				tombstoned[tp] = true
				recs = append(recs, batch.Record{Key: offsetKey(g.id, tp.Topic, tp.Partition)})
			}
		}
	}
	recs = append(recs, g.deathRecords()...)
	if code := g.append(recs); code != 0 {
		return code
	}
	g.offsets = map[string]map[int32]Offset{}
	g.recordOf = map[TopicPartition]int64{}
	g.pendingTxn = nil
	g.stopTimer()
	g.state = Dead
	s.remove(g)
	return 0
}
