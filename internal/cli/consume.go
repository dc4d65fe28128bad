package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newConsumeCommand(g *globals) *cobra.Command {
	var (
		offset, group, format string
		isolation             string
		partitions            []int32
		count                 int
		exitAtEnd             bool
	)
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print a topic's records",
		Long: `Print records as they arrive (follow), or with --exit stop at the end of
the partitions as they were when the command started.

--offset picks where to start: beginning (default), end, an offset N in
each partition, -N for the last N records of each partition, @TIMESTAMP
(RFC 3339 or milliseconds since the epoch) or -DURATION ago (-15m, -2h).

With --group the command joins the consumer group, starts from the group's
committed offsets (--offset applies only to partitions with none), and
commits what it printed; with --exit it stops when the partitions assigned
to it have reached their end.

--isolation read_committed shows only the records of committed transactions
and stops at the last stable offset (an open transaction's first record);
read_uncommitted (the default, as Kafka's console consumer) shows every
record up to the high watermark, aborted transactions' included.

--format is "json" or a template; ` + templateHelp + `. The default is %v\n.`,
		Example: `  samsa consume greetings --exit
  samsa consume greetings -o beginning -e -f '%k=%v @%o\n'
  samsa consume orders -o -10 -n 10 --format json
  samsa consume orders -o -1h -p 0,1
  samsa consume orders --group audit -o @2024-05-01T00:00:00Z`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTopics(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			write, err := parseFormat(format)
			if err != nil {
				return err
			}
			committed := false
			switch isolation {
			case "read_uncommitted":
			case "read_committed":
				committed = true
			default:
				return fmt.Errorf("--isolation %q: want read_uncommitted or read_committed", isolation)
			}
			start, err := parseStart(offset, time.Now())
			if err != nil {
				return err
			}
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			adm := kadm.NewClient(cl)
			plan, err := planConsume(ctx, adm, topic, partitions, start, group, committed)
			cl.Close()
			if err != nil {
				return err
			}
			if exitAtEnd && plan.allDone() {
				return nil
			}

			// Control records are kept (not printed) to move past
			// transaction markers: the end of a partition can be one.
			opts := []kgo.Opt{kgo.FetchMaxWait(time.Second), kgo.KeepControlRecords()}
			if committed {
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			}
			if group == "" {
				assign := map[int32]kgo.Offset{}
				for p, o := range plan.start {
					assign[p] = kgo.NewOffset().At(o)
				}
				opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}))
			} else {
				plan.inGroup = true
				opts = append(opts,
					kgo.ConsumerGroup(group),
					kgo.ConsumeTopics(topic),
					kgo.ConsumeResetOffset(start.kgoOffset()),
					kgo.DisableAutoCommit(),
					kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { plan.assign(m[topic]) }),
					kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { plan.revoke(m[topic]) }),
					kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { plan.revoke(m[topic]) }),
				)
			}
			cl, err = g.client(ctx, opts...)
			if err != nil {
				return err
			}
			defer cl.Close()

			out := cmd.OutOrStdout()
			printed := 0
			for {
				// With --exit, polls return now and then even when nothing
				// arrives, so a member whose partitions are all at their end
				// notices.
				pollCtx, cancel := ctx, context.CancelFunc(func() {})
				if exitAtEnd {
					pollCtx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
				}
				fetches := cl.PollFetches(pollCtx)
				cancel()
				if ctx.Err() != nil {
					return nil // interrupted: not an error for a follower
				}
				if err := fetchError(fetches); err != nil {
					return err
				}
				var toCommit []*kgo.Record
				stop := false
				fetches.EachRecord(func(r *kgo.Record) {
					if stop || r.Partition >= 0 && !plan.wanted(r.Partition) {
						return
					}
					toCommit = append(toCommit, r)
					plan.advance(r.Partition, r.Offset+1)
					if r.Attrs.IsControl() {
						return
					}
					if err == nil {
						err = write(out, r)
					}
					printed++
					if count > 0 && printed >= count || exitAtEnd && plan.allDone() {
						stop = true
					}
				})
				if err != nil {
					return err
				}
				if group != "" && len(toCommit) > 0 {
					if err := cl.CommitRecords(ctx, toCommit...); err != nil {
						return fmt.Errorf("commit: %w", err)
					}
				}
				if stop || exitAtEnd && plan.allDone() {
					return nil
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVarP(&offset, "offset", "o", "beginning", "where to start: beginning, end, N, -N, @TIMESTAMP or -DURATION")
	f.Int32SliceVarP(&partitions, "partitions", "p", nil, "only these partitions (comma-separated; not with --group)")
	f.IntVarP(&count, "num", "n", 0, "exit after this many records")
	f.BoolVarP(&exitAtEnd, "exit", "e", false, "exit at the end of the partitions instead of following")
	f.StringVarP(&group, "group", "g", "", "consume as a member of this consumer group and commit")
	f.StringVarP(&format, "format", "f", `%v\n`, "json, or a template like '%k=%v @%p/%o\\n'")
	f.StringVar(&isolation, "isolation", "read_uncommitted", "read_uncommitted, or read_committed: only committed transactions' records")
	_ = cmd.RegisterFlagCompletionFunc("offset", cobra.FixedCompletions([]string{"beginning", "end"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.MarkFlagsMutuallyExclusive("partitions", "group")
	return cmd
}

// startKind says how a consume's starting offsets are found.
type startKind int

const (
	startBeginning startKind = iota
	startEnd
	startOffset    // an absolute offset in every partition
	startFromEnd   // n records before the end
	startTimestamp // the first record at or after a time
)

type startSpec struct {
	kind startKind
	n    int64 // offset, records from the end, or milliseconds
}

// parseStart reads --offset.
func parseStart(s string, now time.Time) (startSpec, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "beginning", "start", "oldest", "earliest":
		return startSpec{kind: startBeginning}, nil
	case "end", "newest", "latest":
		return startSpec{kind: startEnd}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return startSpec{kind: startFromEnd, n: -n}, nil
		}
		return startSpec{kind: startOffset, n: n}, nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		if ms, err := strconv.ParseInt(rest, 10, 64); err == nil {
			return startSpec{kind: startTimestamp, n: ms}, nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, rest); err == nil {
				return startSpec{kind: startTimestamp, n: t.UnixMilli()}, nil
			}
		}
		return startSpec{}, fmt.Errorf("--offset %q: want @ followed by RFC 3339 time or milliseconds", s)
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		if d, err := time.ParseDuration(rest); err == nil {
			return startSpec{kind: startTimestamp, n: now.Add(-d).UnixMilli()}, nil
		}
	}
	return startSpec{}, fmt.Errorf("--offset %q: want beginning, end, N, -N, @TIMESTAMP or -DURATION", s)
}

// kgoOffset is the spec as a reset offset for a group member.
func (s startSpec) kgoOffset() kgo.Offset {
	switch s.kind {
	case startEnd:
		return kgo.NewOffset().AtEnd()
	case startOffset:
		return kgo.NewOffset().At(s.n)
	case startFromEnd:
		return kgo.NewOffset().AtEnd().Relative(-s.n)
	case startTimestamp:
		return kgo.NewOffset().AfterMilli(s.n)
	}
	return kgo.NewOffset().AtStart()
}

// consumePlan is where each partition starts and, for --exit, where it
// ends. A group member is done when the partitions assigned to it are.
type consumePlan struct {
	start map[int32]int64
	next  map[int32]int64 // next offset to print
	end   map[int32]int64 // high watermark when the command started

	inGroup  bool
	mu       sync.Mutex     // guards assigned: kgo's rebalance callbacks set it
	assigned map[int32]bool // partitions of the topic this member holds
}

func (p *consumePlan) assign(partitions []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.assigned == nil {
		p.assigned = map[int32]bool{}
	}
	for _, part := range partitions {
		p.assigned[part] = true
	}
}

func (p *consumePlan) revoke(partitions []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range partitions {
		delete(p.assigned, part)
	}
}

func (p *consumePlan) wanted(partition int32) bool {
	_, ok := p.end[partition]
	return ok
}

func (p *consumePlan) advance(partition int32, next int64) { p.next[partition] = next }

func (p *consumePlan) allDone() bool {
	if p.inGroup {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.assigned) == 0 {
			return false // not yet joined
		}
		for part := range p.assigned {
			if p.next[part] < p.end[part] {
				return false
			}
		}
		return true
	}
	for part, end := range p.end {
		if p.next[part] < end {
			return false
		}
	}
	return true
}

// planConsume resolves the start spec to offsets per partition. For a group
// member, partitions with a committed offset start there.
func planConsume(ctx context.Context, adm *kadm.Client, topic string, only []int32, spec startSpec, group string, readCommitted bool) (*consumePlan, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	listEnds := adm.ListEndOffsets
	if readCommitted {
		listEnds = adm.ListCommittedOffsets // the last stable offsets
	}
	ends, err := listEnds(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	var atTime kadm.ListedOffsets
	if spec.kind == startTimestamp {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, spec.n, topic); err != nil {
			return nil, err
		}
	}
	var committed kadm.OffsetResponses
	if group != "" {
		// A group the cluster has never seen has no offsets: not an error.
		if committed, err = adm.FetchOffsets(ctx, group); err != nil {
			committed = nil
		}
	}
	plan := &consumePlan{start: map[int32]int64{}, next: map[int32]int64{}, end: map[int32]int64{}}
	want, missing := map[int32]bool{}, map[int32]bool{}
	for _, p := range only {
		want[p], missing[p] = true, true
	}
	for p, e := range ends[topic] {
		if len(want) > 0 && !want[p] {
			continue
		}
		delete(missing, p)
		low := e.Offset
		if s, ok := starts.Lookup(topic, p); ok && s.Err == nil {
			low = s.Offset
		}
		var o int64
		switch spec.kind {
		case startBeginning:
			o = low
		case startEnd:
			o = e.Offset
		case startOffset:
			o = min(max(spec.n, low), e.Offset)
		case startFromEnd:
			o = max(e.Offset-spec.n, low)
		case startTimestamp:
			o = e.Offset
			if t, ok := atTime.Lookup(topic, p); ok && t.Err == nil && t.Offset >= 0 {
				o = t.Offset
			}
		}
		if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
			o = c.At
		}
		plan.start[p], plan.next[p], plan.end[p] = o, o, e.Offset
	}
	for p := range missing {
		return nil, fmt.Errorf("topic %s has no partition %d", topic, p)
	}
	if len(plan.end) == 0 {
		return nil, fmt.Errorf("topic %s: no partitions", topic)
	}
	return plan, nil
}

// fetchError returns the first fetch error that is not the end of the
// command's context.
func fetchError(fetches kgo.Fetches) error {
	var first error
	fetches.EachError(func(topic string, partition int32, err error) {
		if first != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if partition < 0 {
			first = err
			return
		}
		first = fmt.Errorf("%s[%d]: %w", topic, partition, err)
	})
	return first
}
