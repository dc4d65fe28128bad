package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Options selects the clusters and the matrix to run.
type Options struct {
	Brokers []string // cluster A: bootstrap addresses
	Compare []string // cluster B, optional: run every row against both

	Sizes      []int    // record value sizes in bytes; default 100 and 1024
	Partitions []int32  // partitions per topic; default 1 and 8
	Acks       []string // "1" or "all"; default both

	// Records is the number of records produced per run; 0 picks 256 MiB
	// worth, between 200,000 and 2,000,000 (a run of well under a second
	// measures mostly noise). Duration, when set, produces for
	// that long instead.
	Records  int
	Duration time.Duration

	Producers int // concurrent producer clients; default 1
	Runs      int // runs per row and cluster, reported as medians; default 3 with Compare, else 1

	// Progress, when set, receives one line per finished run.
	Progress io.Writer
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Brokers) == 0 {
		return o, fmt.Errorf("bench: no brokers")
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{100, 1024}
	}
	if len(o.Partitions) == 0 {
		o.Partitions = []int32{1, 8}
	}
	if len(o.Acks) == 0 {
		o.Acks = []string{"1", "all"}
	}
	if o.Producers <= 0 {
		o.Producers = 1
	}
	if o.Runs <= 0 {
		o.Runs = 1
		if len(o.Compare) > 0 {
			o.Runs = 3
		}
	}
	for _, s := range o.Sizes {
		if s < 1 {
			return o, fmt.Errorf("bench: record size %d: must be at least 1 byte", s)
		}
	}
	for _, p := range o.Partitions {
		if p < 1 {
			return o, fmt.Errorf("bench: %d partitions: must be at least 1", p)
		}
	}
	for i, a := range o.Acks {
		norm, err := ParseAcks(a)
		if err != nil {
			return o, err
		}
		o.Acks[i] = norm
	}
	if o.Records < 0 {
		return o, fmt.Errorf("bench: %d records: must not be negative", o.Records)
	}
	return o, nil
}

// recordsFor returns how many records a run of the given size produces when
// Records is left at 0.
func (o Options) recordsFor(size int) int {
	if o.Records > 0 {
		return o.Records
	}
	n := 256 << 20 / size
	return min(max(n, 200_000), 2_000_000)
}

// ParseAcks normalises an acks setting: "1", or "all" (also "-1").
func ParseAcks(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "leader":
		return "1", nil
	case "all", "-1":
		return "all", nil
	}
	return "", fmt.Errorf("bench: acks %q: want 1 or all", s)
}

// ParseSize parses a record size: bytes, or with a suffix B, KiB/K/KB or
// MiB/M/MB (binary multiples: record sizes are usually thought of in KiB).
func ParseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, suffix := range []struct {
		text string
		mult int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, suffix.text) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, suffix.text)), suffix.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("bench: record size %q: want a positive number of bytes, e.g. 100 or 1KiB", s)
	}
	return n * mult, nil
}

// formatSize is the inverse of ParseSize, for table rows.
func formatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}
