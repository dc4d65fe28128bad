package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// clusterInfo is what `samsa cluster info` shows.
type clusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Brokers    []brokerInfo `json:"brokers"`
	// Quorum is nil when no broker serves DescribeQuorum or it failed
	// (QuorumError says why).
	Quorum      *quorumInfo `json:"quorum"`
	QuorumError string      `json:"quorum_error,omitempty"`
}

type brokerInfo struct {
	ID           int32        `json:"id"`
	Host         string       `json:"host"`
	Port         int32        `json:"port"`
	Rack         *string      `json:"rack"`
	Fenced       *bool        `json:"fenced"` // nil unless DescribeCluster v2+ says
	APICount     int          `json:"api_count"`
	VersionGuess string       `json:"version_guess"` // kversion's guess of the Kafka release with the same API versions
	APIs         []apiVersion `json:"apis,omitempty"`
}

type apiVersion struct {
	Key  int16  `json:"key"`
	Name string `json:"name"`
	Min  int16  `json:"min"`
	Max  int16  `json:"max"`
}

func newClusterInfoCommand(g *globals) *cobra.Command {
	var (
		format string
		apis   bool
	)
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the cluster ID, controller, brokers, their versions and the quorum",
		Long: `Show the cluster ID, the active controller and every broker with its
address, rack, whether it is fenced (a broker the controller stopped hearing
from; reported by DescribeCluster v2, else "-"), how many Kafka APIs it
serves, and the Kafka release whose API versions match its ApiVersions
answer (franz-go's kversion guess, judged on the APIs the broker serves).
Then the controller quorum (DescribeQuorum on the metadata log): its leader,
epoch and high watermark, and each voter and observer with its log end
offset, lag behind the leader and when it last fetched and caught up.
--apis lists every API each broker serves with its version range.`,
		Example: `  samsa cluster info
  samsa cluster info --apis
  samsa cluster info --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := commandContext(cmd)
			cl, err := g.client(ctx)
			if err != nil {
				return err
			}
			adm := kadm.NewClient(cl)
			defer adm.Close()
			meta, err := adm.BrokerMetadata(ctx)
			if err != nil {
				return err
			}
			versions, err := adm.ApiVersions(ctx)
			if err != nil {
				return err
			}
			info := clusterInfo{ClusterID: meta.Cluster, Controller: meta.Controller, Brokers: []brokerInfo{}}
			for _, b := range meta.Brokers {
				bi := brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, VersionGuess: "unknown"}
				if v, ok := versions[b.NodeID]; ok && v.Err == nil {
					bi.VersionGuess = versionGuess(v)
					v.EachKeySorted(func(int16, int16, int16) { bi.APICount++ })
					if apis {
						v.EachKeySorted(func(key, lo, hi int16) {
							bi.APIs = append(bi.APIs, apiVersion{Key: key, Name: kmsg.NameForKey(key), Min: lo, Max: hi})
						})
					}
				}
				info.Brokers = append(info.Brokers, bi)
			}
			addFenced(ctx, cl, &info)
			if servesKey(versions, 55) {
				if info.Quorum, err = describeQuorum(ctx, cl); err != nil {
					info.QuorumError = err.Error()
				}
			}
			if format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			return writeClusterInfo(cmd.OutOrStdout(), info, time.Now())
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().BoolVar(&apis, "apis", false, "list the APIs each broker serves and their versions")
	return cmd
}

// versionGuess is kversion's guess of the Kafka release whose API versions
// the broker's match, judged only on the APIs the broker serves: Samsa (and
// kfake) leave out whole APIs, such as SASL and ACLs, which would otherwise
// pin the guess to the last release without them.
func versionGuess(v kadm.BrokerApiVersions) string {
	var missing []int16
	for key := int16(0); key <= kmsg.MaxKey; key++ {
		if _, _, ok := v.KeyVersions(key); !ok {
			missing = append(missing, key)
		}
	}
	return v.VersionGuess(kversion.SkipKeys(missing...))
}

// addFenced marks each broker fenced or not when DescribeCluster is v2 or
// later (KIP-1073), and adds the fenced brokers Metadata leaves out. Older
// answers, or none, leave Fenced unknown.
func addFenced(ctx context.Context, cl *kgo.Client, info *clusterInfo) {
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 || resp.Version < 2 {
		return
	}
	for _, b := range resp.Brokers {
		fenced := b.IsFenced
		i := slices.IndexFunc(info.Brokers, func(bi brokerInfo) bool { return bi.ID == b.NodeID })
		if i < 0 {
			info.Brokers = append(info.Brokers, brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, VersionGuess: "unknown"})
			i = len(info.Brokers) - 1
		}
		info.Brokers[i].Fenced = &fenced
	}
	slices.SortFunc(info.Brokers, func(a, b brokerInfo) int { return cmp.Compare(a.ID, b.ID) })
}

func writeClusterInfo(w io.Writer, info clusterInfo, now time.Time) error {
	summary := newTable(w)
	summary.row("CLUSTER", info.ClusterID)
	summary.row("CONTROLLER", info.Controller)
	if err := summary.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "ID", "HOST", "PORT", "RACK", "FENCED", "APIS", "KAFKA-VERSION-GUESS")
	for _, b := range info.Brokers {
		id := fmt.Sprint(b.ID)
		if b.ID == info.Controller {
			id += "*"
		}
		rack := ""
		if b.Rack != nil {
			rack = *b.Rack
		}
		var fenced any // "-": not reported
		if b.Fenced != nil {
			fenced = *b.Fenced
		}
		t.row(id, b.Host, b.Port, rack, fenced, b.APICount, b.VersionGuess)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := writeQuorum(w, info, now); err != nil {
		return err
	}
	for _, b := range info.Brokers {
		if len(b.APIs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nBROKER %d APIS\n", b.ID)
		t := newTable(w, "KEY", "NAME", "MIN", "MAX")
		for _, a := range b.APIs {
			t.row(a.Key, a.Name, a.Min, a.Max)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}
