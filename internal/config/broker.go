package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Source is where a value comes from; the values are Kafka's DescribeConfigs
// ConfigSource.
type Source int8

const (
	SourceUnknown              Source = 0
	SourceDynamicTopic         Source = 1
	SourceDynamicBroker        Source = 2 // per-broker dynamic override
	SourceDynamicDefaultBroker Source = 3 // cluster-wide dynamic override
	SourceStaticBroker         Source = 4 // --config file and --set flags
	SourceDefault              Source = 5
)

// Synonym is one place a value could come from, as DescribeConfigs reports it.
type Synonym struct {
	Name, Value string
	Null        bool
	Source      Source
}

// Entry is one described config.
type Entry struct {
	Name, Value         string
	Null                bool
	Source              Source
	ReadOnly, Sensitive bool
	Type                int8 // Kafka ConfigType: TypeBoolean ... TypePassword
	Doc                 string
	Synonyms            []Synonym
}

// Broker holds the static broker configuration (from --config file and --set
// flags) and resolves values with dynamic cluster-wide overrides, which the
// caller passes in on every call: they live in the metadata log, not here.
// A Broker is immutable and safe for concurrent use.
type Broker struct {
	static map[string]string
	typed  Static
}

// NewBroker validates the names and values of a static configuration.
func NewBroker(static map[string]string) (*Broker, error) {
	copied := make(map[string]string, len(static))
	names := make([]string, 0, len(static))
	for name := range static {
		names = append(names, name)
	}
	sort.Strings(names) // report the first bad config deterministically
	for _, name := range names {
		value := strings.TrimSpace(static[name])
		def, ok := brokerByName[name]
		if !ok {
			def, ok = listenerDefinition(name)
		}
		if !ok {
			return nil, unknown(name)
		}
		if err := def.validate(value); err != nil {
			return nil, err
		}
		copied[name] = value
	}
	b := &Broker{static: copied}
	typed, err := b.resolveStatic()
	if err != nil {
		return nil, err
	}
	b.typed = typed
	return b, nil
}

// ValidateBrokerDynamic checks that a broker config may be changed at runtime,
// cluster-wide, and that value is valid for it.
func ValidateBrokerDynamic(name, value string) error {
	def, ok := brokerByName[name]
	if !ok {
		return unknown(name)
	}
	if !def.dynamic {
		return fmt.Errorf("config %s is read-only: it cannot be updated dynamically", name)
	}
	return def.validate(value)
}

// lookup returns a broker config's own value: dynamic, then static, then
// default. null reports that none of them is set.
func (b *Broker) lookup(name string, dynamic map[string]string) (value string, source Source, null bool) {
	if v, ok := dynamic[name]; ok {
		return v, SourceDynamicDefaultBroker, false
	}
	if v, ok := b.static[name]; ok {
		return v, SourceStaticBroker, false
	}
	if def, ok := brokerByName[name]; ok && def.hasDefault() {
		return def.def, SourceDefault, false
	}
	return "", SourceDefault, true
}

// Get returns the effective value of a broker config (dynamic > static >
// default), or "" for an unknown config or one without a value.
func (b *Broker) Get(name string, dynamic map[string]string) string {
	v, _, _ := b.lookup(name, dynamic)
	return v
}

// Int64 returns a numeric broker config. For a config that has coarser
// synonyms and no value of its own (log.retention.ms, log.roll.ms,
// log.flush.interval.ms), it falls back to them, converted to milliseconds.
// It returns 0 for an unknown or unset config.
func (b *Broker) Int64(name string, dynamic map[string]string) int64 {
	for _, n := range brokerSynonymsOf(name) {
		v, _, null := b.lookup(n, dynamic)
		if null {
			continue
		}
		if n == name {
			x, _ := strconv.ParseInt(v, 10, 64)
			return x
		}
		x, _ := toMillis(n, v)
		return x
	}
	return 0
}

// Int32 returns an int broker config, as Int64 does.
func (b *Broker) Int32(name string, dynamic map[string]string) int32 {
	return int32(b.Int64(name, dynamic))
}

// Bool returns a boolean broker config; false for an unknown one.
func (b *Broker) Bool(name string, dynamic map[string]string) bool {
	x, _ := parseBool(b.Get(name, dynamic))
	return x
}

// Describe describes broker configs, sorted by name; names nil means all.
// Unknown names are skipped: the caller decides whether that is an error.
func (b *Broker) Describe(dynamic map[string]string, names []string, includeSynonyms, includeDocs bool) []Entry {
	var entries []Entry
	for i := range brokerDefinitions {
		def := &brokerDefinitions[i]
		if names != nil && !contains(names, def.name) {
			continue
		}
		value, source, null := b.lookup(def.name, dynamic)
		e := Entry{
			Name:      def.name,
			Value:     value,
			Null:      null,
			Source:    source,
			ReadOnly:  !def.dynamic,
			Sensitive: def.typ == TypePassword,
			Type:      def.typ,
		}
		if e.Sensitive {
			e.Value, e.Null = "", true
		}
		if includeDocs {
			e.Doc = def.doc
		}
		if includeSynonyms {
			e.Synonyms = b.brokerSynonyms(brokerSynonymsOf(def.name), dynamic)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries
}

// brokerSynonyms lists where names could take a value from, in Kafka's order:
// by source (dynamic cluster-wide, static, default), and within a source from
// the most to the least specific name.
func (b *Broker) brokerSynonyms(names []string, dynamic map[string]string) []Synonym {
	var out []Synonym
	add := func(name, value string, source Source) {
		s := Synonym{Name: name, Value: value, Source: source}
		if def := brokerByName[name]; def != nil && def.typ == TypePassword {
			s.Value, s.Null = "", true
		}
		out = append(out, s)
	}
	for _, n := range names {
		if v, ok := dynamic[n]; ok {
			add(n, v, SourceDynamicDefaultBroker)
		}
	}
	for _, n := range names {
		if v, ok := b.static[n]; ok {
			add(n, v, SourceStaticBroker)
		}
	}
	for _, n := range names {
		if def := brokerByName[n]; def != nil && def.hasDefault() {
			add(n, def.def, SourceDefault)
		}
	}
	return out
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
