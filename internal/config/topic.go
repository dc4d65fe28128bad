package config

import (
	"sort"
	"strconv"
	"strings"
)

// Topic is the resolved configuration of one topic, with every field set.
type Topic struct {
	RetentionMs, RetentionBytes, SegmentBytes, SegmentMs, FlushMessages, FlushMs int64
	IndexIntervalBytes, MaxMessageBytes, MinInsyncReplicas                       int32
	CleanupPolicy                                                                []string // delete, compact, or both
	TimestampType                                                                string   // CreateTime or LogAppendTime
	CompressionType                                                              string
	DeleteRetentionMs, MinCompactionLagMs, MaxCompactionLagMs                    int64
	MinCleanableDirtyRatio                                                       float64
	MessageTimestampBeforeMaxMs, MessageTimestampAfterMaxMs                      int64
	UncleanLeaderElection                                                        bool // unclean.leader.election.enable
}

// ValidateTopic checks a topic config override, as CreateTopics and
// AlterConfigs receive it.
func ValidateTopic(name, value string) error {
	def, ok := topicByName[name]
	if !ok {
		return unknown(name)
	}
	return def.validate(value)
}

// topicValue resolves one topic config: the topic's override, then its broker
// synonyms (dynamic > static, most specific name first, converted to the
// topic's unit), then the broker synonyms' defaults, then the topic default.
func (b *Broker) topicValue(def *definition, topicConfigs, dynamic map[string]string) (value string, source Source) {
	if v, ok := topicConfigs[def.name]; ok {
		return strings.TrimSpace(v), SourceDynamicTopic
	}
	for _, n := range def.synonyms {
		if v, ok := dynamic[n]; ok {
			return convert(n, v), SourceDynamicDefaultBroker
		}
		if v, ok := b.static[n]; ok {
			return convert(n, v), SourceStaticBroker
		}
	}
	for _, n := range def.synonyms {
		if bd := brokerByName[n]; bd != nil && bd.hasDefault() {
			return convert(n, bd.def), SourceDefault
		}
	}
	return def.def, SourceDefault
}

// convert turns a broker value in hours or minutes into milliseconds.
func convert(name, value string) string {
	value = strings.TrimSpace(value)
	if _, ok := unitMillis[name]; !ok {
		return value
	}
	if ms, ok := toMillis(name, value); ok {
		return strconv.FormatInt(ms, 10)
	}
	return value
}

// ResolveTopic returns a topic's effective configuration: the topic override,
// then the broker synonym (dynamic > static), then the default. Values are
// assumed validated; one that does not parse falls back to the default.
func (b *Broker) ResolveTopic(topicConfigs, dynamicBroker map[string]string) Topic {
	get := func(name string) string {
		v, _ := b.topicValue(topicByName[name], topicConfigs, dynamicBroker)
		return v
	}
	i64 := func(name string) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil {
			n, _ = strconv.ParseInt(topicByName[name].def, 10, 64)
		}
		return n
	}
	i32 := func(name string) int32 {
		n, err := strconv.ParseInt(get(name), 10, 32)
		if err != nil {
			n, _ = strconv.ParseInt(topicByName[name].def, 10, 32)
		}
		return int32(n)
	}
	ratio, err := strconv.ParseFloat(get("min.cleanable.dirty.ratio"), 64)
	if err != nil {
		ratio, _ = strconv.ParseFloat(topicByName["min.cleanable.dirty.ratio"].def, 64)
	}
	policy := splitList(get("cleanup.policy"))
	if len(policy) == 0 {
		policy = []string{"delete"}
	}
	return Topic{
		RetentionMs:                 i64("retention.ms"),
		RetentionBytes:              i64("retention.bytes"),
		SegmentBytes:                i64("segment.bytes"),
		SegmentMs:                   i64("segment.ms"),
		FlushMessages:               i64("flush.messages"),
		FlushMs:                     i64("flush.ms"),
		IndexIntervalBytes:          i32("index.interval.bytes"),
		MaxMessageBytes:             i32("max.message.bytes"),
		MinInsyncReplicas:           i32("min.insync.replicas"),
		CleanupPolicy:               policy,
		TimestampType:               get("message.timestamp.type"),
		CompressionType:             get("compression.type"),
		DeleteRetentionMs:           i64("delete.retention.ms"),
		MinCompactionLagMs:          i64("min.compaction.lag.ms"),
		MaxCompactionLagMs:          i64("max.compaction.lag.ms"),
		MinCleanableDirtyRatio:      ratio,
		MessageTimestampBeforeMaxMs: i64("message.timestamp.before.max.ms"),
		MessageTimestampAfterMaxMs:  i64("message.timestamp.after.max.ms"),
		UncleanLeaderElection:       strings.EqualFold(get("unclean.leader.election.enable"), "true"),
	}
}

// DescribeTopic describes a topic's configs, sorted by name; names nil means
// all, unknown names are skipped. An override has source DynamicTopic; other
// values carry the source of the broker synonym they come from. Synonyms are
// in Kafka's order: the topic override, then the broker synonyms by source
// (dynamic cluster-wide, static, default), most specific name first.
func (b *Broker) DescribeTopic(topicConfigs, dynamicBroker map[string]string, names []string, includeSynonyms, includeDocs bool) []Entry {
	var entries []Entry
	for i := range topicDefinitions {
		def := &topicDefinitions[i]
		if names != nil && !contains(names, def.name) {
			continue
		}
		value, source := b.topicValue(def, topicConfigs, dynamicBroker)
		e := Entry{
			Name:      def.name,
			Value:     value,
			Source:    source,
			Sensitive: def.typ == TypePassword,
			Type:      def.typ,
		}
		if includeDocs {
			e.Doc = def.doc
		}
		if includeSynonyms {
			if v, ok := topicConfigs[def.name]; ok {
				e.Synonyms = append(e.Synonyms, Synonym{Name: def.name, Value: strings.TrimSpace(v), Source: SourceDynamicTopic})
			}
			e.Synonyms = append(e.Synonyms, b.brokerSynonyms(def.synonyms, dynamicBroker)...)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries
}
