package cli

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

type groupDescription struct {
	Group        string              `json:"group"`
	State        string              `json:"state"`
	ProtocolType string              `json:"protocol_type"`
	Protocol     string              `json:"protocol"`
	Coordinator  int32               `json:"coordinator"`
	Members      []groupMember       `json:"members"`
	Partitions   []groupPartitionLag `json:"partitions"`
	TotalLag     int64               `json:"total_lag"`
}

type groupMember struct {
	MemberID   string             `json:"member_id"`
	InstanceID *string            `json:"instance_id"`
	ClientID   string             `json:"client_id"`
	ClientHost string             `json:"client_host"`
	Assigned   map[string][]int32 `json:"assigned"`
}

type groupPartitionLag struct {
	Topic        string `json:"topic"`
	Partition    int32  `json:"partition"`
	MemberID     string `json:"member_id"`
	ClientID     string `json:"client_id"`
	Committed    int64  `json:"committed"` // -1: nothing committed
	LogEndOffset int64  `json:"log_end_offset"`
	Lag          int64  `json:"lag"`
	Error        string `json:"error,omitempty"`
}

func newGroupDescribeCommand(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show a group's members, assignments, committed offsets and lag",
		Long: `For each group: its state, protocol and coordinator; its members and what
each is assigned; per partition the committed offset, the log end offset and
the lag between them; and the group's total lag.`,
		Example: `  samsa group describe audit
  samsa group describe audit etl --format json`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeGroups(g),
		RunE: func(cmd *cobra.Command, groups []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			lags, err := adm.Lag(ctx, groups...)
			if err != nil {
				return err
			}
			var out []groupDescription
			for _, name := range groups {
				l, ok := lags[name]
				if !ok {
					return fmt.Errorf("group %s: no response", name)
				}
				if err := l.Error(); err != nil {
					return fmt.Errorf("group %s: %w", name, err)
				}
				out = append(out, describeGroupLag(l))
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			for i, d := range out {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				if err := writeGroupDescription(cmd.OutOrStdout(), d); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func describeGroupLag(l kadm.DescribedGroupLag) groupDescription {
	d := groupDescription{
		Group:        l.Group,
		State:        l.State,
		ProtocolType: l.ProtocolType,
		Protocol:     l.Protocol,
		Coordinator:  l.Coordinator.NodeID,
		Members:      []groupMember{},
		Partitions:   []groupPartitionLag{},
	}
	for _, m := range l.Members {
		gm := groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := append([]int32(nil), t.Partitions...)
				sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
				gm.Assigned[t.Topic] = ps
			}
		}
		d.Members = append(d.Members, gm)
	}
	for _, p := range l.Lag.Sorted() {
		gp := groupPartitionLag{Topic: p.Topic, Partition: p.Partition, Committed: p.Commit.At, LogEndOffset: p.End.Offset, Lag: p.Lag}
		if p.Member != nil {
			gp.MemberID, gp.ClientID = p.Member.MemberID, p.Member.ClientID
		}
		if p.Err != nil {
			gp.Error = p.Err.Error()
		}
		d.Partitions = append(d.Partitions, gp)
	}
	d.TotalLag = l.Lag.Total()
	return d
}

func writeGroupDescription(w io.Writer, d groupDescription) error {
	summary := newTable(w)
	summary.row("GROUP", d.Group)
	summary.row("STATE", d.State)
	protocol := d.ProtocolType
	if d.Protocol != "" {
		protocol += "/" + d.Protocol
	}
	summary.row("PROTOCOL", protocol)
	summary.row("COORDINATOR", d.Coordinator)
	summary.row("MEMBERS", len(d.Members))
	summary.row("TOTAL-LAG", d.TotalLag)
	if err := summary.flush(); err != nil {
		return err
	}
	if len(d.Members) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "MEMBER", "CLIENT-ID", "HOST", "ASSIGNED")
		for _, m := range d.Members {
			assigned := ""
			for i, topic := range sortedKeys(m.Assigned) {
				if i > 0 {
					assigned += " "
				}
				assigned += topic + cell(m.Assigned[topic])
			}
			t.row(m.MemberID, m.ClientID, m.ClientHost, assigned)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(d.Partitions) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t := newTable(w, "TOPIC", "PARTITION", "MEMBER", "COMMITTED", "LOG-END", "LAG")
	for _, p := range d.Partitions {
		committed, lag := fmt.Sprint(p.Committed), fmt.Sprint(p.Lag)
		if p.Committed < 0 {
			committed = "-"
		}
		if p.Error != "" {
			lag = p.Error
		}
		t.row(p.Topic, p.Partition, p.MemberID, committed, p.LogEndOffset, lag)
	}
	return t.flush()
}
