package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Describe and alter broker and topic configs",
		Example: `  samsa config describe topic orders
  samsa config describe broker 1 --changed
  samsa config alter topic orders --set retention.ms=3600000
  samsa config alter broker --set log.retention.hours=24`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newConfigDescribeCommand(g), newConfigAlterCommand(g))
	return cmd
}

// configEntry is one config as the commands print it.
type configEntry struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive,omitempty"`
}

// resource names what a config command is about: a topic, a broker, or (an
// empty broker name) the cluster-wide broker defaults.
type resource struct {
	kind kmsg.ConfigResourceType
	name string
}

// parseResource reads `topic NAME`, `broker [ID]`.
func parseResource(args []string) (resource, error) {
	if len(args) == 0 {
		return resource{}, fmt.Errorf("want topic NAME or broker [ID]")
	}
	switch args[0] {
	case "topic", "topics":
		if len(args) != 2 {
			return resource{}, fmt.Errorf("want topic NAME")
		}
		return resource{kmsg.ConfigResourceTypeTopic, args[1]}, nil
	case "broker", "brokers":
		switch len(args) {
		case 1:
			return resource{kmsg.ConfigResourceTypeBroker, ""}, nil
		case 2:
			if _, err := strconv.ParseInt(args[1], 10, 32); err != nil {
				return resource{}, fmt.Errorf("broker ID %q: want a number", args[1])
			}
			return resource{kmsg.ConfigResourceTypeBroker, args[1]}, nil
		}
		return resource{}, fmt.Errorf("want broker [ID]")
	}
	return resource{}, fmt.Errorf("%q: want topic or broker", args[0])
}

func (r resource) String() string {
	if r.kind == kmsg.ConfigResourceTypeTopic {
		return "topic " + r.name
	}
	if r.name == "" {
		return "cluster-wide broker defaults"
	}
	return "broker " + r.name
}

// describeConfigs returns a resource's configs sorted by name; with
// changedOnly, only those not at their default.
func describeConfigs(ctx context.Context, adm *kadm.Client, r resource, changedOnly bool) ([]configEntry, error) {
	var (
		rcs kadm.ResourceConfigs
		err error
	)
	if r.kind == kmsg.ConfigResourceTypeTopic {
		rcs, err = adm.DescribeTopicConfigs(ctx, r.name)
	} else if r.name == "" {
		rcs, err = adm.DescribeBrokerConfigs(ctx)
	} else {
		id, _ := strconv.ParseInt(r.name, 10, 32)
		rcs, err = adm.DescribeBrokerConfigs(ctx, int32(id))
	}
	if err != nil {
		return nil, err
	}
	if len(rcs) != 1 {
		return nil, fmt.Errorf("%s: no configs in the response", r)
	}
	rc := rcs[0]
	if rc.Err != nil {
		return nil, fmt.Errorf("%s: %s", r, errorText(rc.Err, rc.ErrMessage))
	}
	out := []configEntry{}
	for _, c := range rc.Configs {
		if changedOnly && !isChanged(c.Source) {
			continue
		}
		out = append(out, configEntry{Name: c.Key, Value: c.Value, Source: sourceName(c.Source), Sensitive: c.Sensitive})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// isChanged reports whether a config's value was set by someone rather
// than left at the default.
func isChanged(s kmsg.ConfigSource) bool {
	return s != kmsg.ConfigSourceDefaultConfig && s != kmsg.ConfigSourceUnknown
}

// sourceName turns DYNAMIC_TOPIC_CONFIG into dynamic-topic, shorter in a
// table and still Kafka's wording.
func sourceName(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "dynamic-topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "dynamic-broker"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "dynamic-cluster"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "static-broker"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "dynamic-logger"
	}
	return "unknown"
}

func writeConfigTable(t *table, entries []configEntry) {
	for _, c := range entries {
		value := "-"
		if c.Sensitive {
			value = "(sensitive)"
		} else if c.Value != nil {
			value = *c.Value
			if value == "" {
				value = `""`
			}
		}
		t.row(c.Name, value, c.Source)
	}
}

// alterConfigs applies --set and --delete to a resource incrementally
// (IncrementalAlterConfigs): configs not named keep their values.
func alterConfigs(ctx context.Context, adm *kadm.Client, r resource, sets map[string]string, deletes []string, dryRun bool) error {
	var alters []kadm.AlterConfig
	names := make([]string, 0, len(sets))
	for k := range sets {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := sets[k]
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range deletes {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 {
		return fmt.Errorf("nothing to change: give --set name=value or --delete name")
	}
	var (
		resp kadm.AlterConfigsResponses
		err  error
	)
	switch {
	case r.kind == kmsg.ConfigResourceTypeTopic && dryRun:
		resp, err = adm.ValidateAlterTopicConfigs(ctx, alters, r.name)
	case r.kind == kmsg.ConfigResourceTypeTopic:
		resp, err = adm.AlterTopicConfigs(ctx, alters, r.name)
	default:
		var brokers []int32
		if r.name != "" {
			id, _ := strconv.ParseInt(r.name, 10, 32)
			brokers = append(brokers, int32(id))
		}
		if dryRun {
			resp, err = adm.ValidateAlterBrokerConfigs(ctx, alters, brokers...)
		} else {
			resp, err = adm.AlterBrokerConfigs(ctx, alters, brokers...)
		}
	}
	if err != nil {
		return err
	}
	for _, rr := range resp {
		if rr.Err != nil {
			return fmt.Errorf("%s: %s", r, errorText(rr.Err, rr.ErrMessage))
		}
	}
	return nil
}
