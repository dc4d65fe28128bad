package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// offsetMove is one partition's planned reset.
type offsetMove struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"` // -1: nothing committed
	New       int64  `json:"new"`
	Error     string `json:"error,omitempty"`
}

type resetReport struct {
	Group    string       `json:"group"`
	Executed bool         `json:"executed"`
	Offsets  []offsetMove `json:"offsets"`
}

func newGroupResetOffsetsCommand(g *globals) *cobra.Command {
	var (
		topics           []string
		to, format       string
		shift            int64
		allTopics, apply bool
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP",
		Short: "Move a group's committed offsets (dry run unless --execute)",
		Long: `Compute new committed offsets for a group and show them next to the current
ones. Nothing changes unless --execute is given; the group must then have no
active members.

--to earliest | latest | OFFSET | @TIMESTAMP (RFC 3339 or ms) | -DURATION ago,
or --shift-by N (negative to go back). New offsets are kept within each
partition's log start and end. --topic TOPIC or TOPIC:P,P picks partitions;
--all-topics takes every topic the group has offsets for.`,
		Example: `  samsa group reset-offsets audit --topic orders --to earliest
  samsa group reset-offsets audit --topic orders:0,1 --to 1200 --execute
  samsa group reset-offsets audit --all-topics --shift-by -100 --execute
  samsa group reset-offsets audit --topic orders --to @2024-05-01T00:00:00Z`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeGroups(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			if err := checkFormat(format); err != nil {
				return err
			}
			shifting := cmd.Flags().Changed("shift-by")
			if (to != "") == shifting {
				return fmt.Errorf("give exactly one of --to or --shift-by")
			}
			if (len(topics) > 0) == allTopics {
				return fmt.Errorf("give --topic or --all-topics")
			}
			var spec startSpec
			if to != "" {
				var err error
				if spec, err = parseResetTarget(to, time.Now()); err != nil {
					return err
				}
			}
			ctx := commandContext(cmd)
			adm, err := g.admin(ctx)
			if err != nil {
				return err
			}
			defer adm.Close()
			current, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				return fmt.Errorf("group %s: %w", group, err)
			}
			var set kadm.TopicsSet
			if allTopics {
				set = kadm.TopicsSet{}
				current.Each(func(o kadm.OffsetResponse) { set.Add(o.Topic, o.Partition) })
				if len(set) == 0 {
					return fmt.Errorf("group %s has no committed offsets", group)
				}
			} else if set, err = parseTopicPartitions(ctx, adm, topics); err != nil {
				return err
			}
			moves, err := planReset(ctx, adm, set, current, spec, shifting, shift)
			if err != nil {
				return err
			}
			report := resetReport{Group: group, Offsets: moves}
			if apply {
				offsets := kadm.Offsets{}
				for _, m := range moves {
					if m.Error == "" {
						offsets.Add(kadm.Offset{Topic: m.Topic, Partition: m.Partition, At: m.New, LeaderEpoch: -1})
					}
				}
				resp, err := adm.CommitOffsets(ctx, group, offsets)
				if err != nil {
					return fmt.Errorf("group %s: %w", group, err)
				}
				for i, m := range moves {
					if r, ok := resp.Lookup(m.Topic, m.Partition); ok && r.Err != nil {
						moves[i].Error = r.Err.Error()
					}
				}
				report.Executed = true
			}
			if format == formatJSON {
				if err := writeJSON(cmd.OutOrStdout(), report); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				t := newTable(w, "TOPIC", "PARTITION", "CURRENT", "NEW", "STATUS")
				for _, m := range moves {
					cur := strconv.FormatInt(m.Current, 10)
					if m.Current < 0 {
						cur = "-"
					}
					status := "would move"
					switch {
					case m.Error != "":
						status = m.Error
					case apply:
						status = "moved"
					}
					t.row(m.Topic, m.Partition, cur, m.New, status)
				}
				if err := t.flush(); err != nil {
					return err
				}
				if !apply {
					fmt.Fprintln(w, "\nDry run: nothing changed. Run again with --execute to commit these offsets.")
				}
			}
			failed := 0
			for _, m := range moves {
				if m.Error != "" {
					failed++
				}
			}
			return itemError(failed, len(moves), "partitions")
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&topics, "topic", "t", nil, "TOPIC or TOPIC:P,P to reset (repeatable)")
	f.BoolVar(&allTopics, "all-topics", false, "every topic the group has committed offsets for")
	f.StringVar(&to, "to", "", "earliest, latest, OFFSET, @TIMESTAMP or -DURATION")
	f.Int64Var(&shift, "shift-by", 0, "move each committed offset by N (negative: back)")
	f.BoolVar(&apply, "execute", false, "commit the new offsets (default: only show them)")
	addFormatFlag(cmd, &format)
	return cmd
}

// parseResetTarget reads --to: like consume's --offset, but a negative
// number is not allowed (use --shift-by).
func parseResetTarget(s string, now time.Time) (startSpec, error) {
	spec, err := parseStart(s, now)
	if err != nil || spec.kind == startFromEnd {
		return startSpec{}, fmt.Errorf("--to %q: want earliest, latest, OFFSET, @TIMESTAMP or -DURATION", s)
	}
	return spec, nil
}

// planReset computes each partition's new offset.
func planReset(ctx context.Context, adm *kadm.Client, set kadm.TopicsSet, current kadm.OffsetResponses, spec startSpec, shifting bool, shift int64) ([]offsetMove, error) {
	topics := set.Topics()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	var atTime kadm.ListedOffsets
	if !shifting && spec.kind == startTimestamp {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, spec.n, topics...); err != nil {
			return nil, err
		}
	}
	var moves []offsetMove
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			m := offsetMove{Topic: tp.Topic, Partition: p, Current: -1}
			if c, ok := current.Lookup(tp.Topic, p); ok && c.Err == nil {
				m.Current = c.At
			}
			s, okS := starts.Lookup(tp.Topic, p)
			e, okE := ends.Lookup(tp.Topic, p)
			if !okS || !okE || s.Err != nil || e.Err != nil {
				m.Error = "cannot list offsets"
				if okE && e.Err != nil {
					m.Error = e.Err.Error()
				}
				moves = append(moves, m)
				continue
			}
			var n int64
			switch {
			case shifting:
				base := m.Current
				if base < 0 {
					base = s.Offset
				}
				n = base + shift
			case spec.kind == startBeginning:
				n = s.Offset
			case spec.kind == startEnd:
				n = e.Offset
			case spec.kind == startOffset:
				n = spec.n
			case spec.kind == startTimestamp:
				n = e.Offset
				if t, ok := atTime.Lookup(tp.Topic, p); ok && t.Err == nil && t.Offset >= 0 {
					n = t.Offset
				}
			}
			m.New = min(max(n, s.Offset), e.Offset)
			moves = append(moves, m)
		}
	}
	sort.SliceStable(moves, func(i, j int) bool {
		return moves[i].Topic < moves[j].Topic || moves[i].Topic == moves[j].Topic && moves[i].Partition < moves[j].Partition
	})
	return moves, nil
}
