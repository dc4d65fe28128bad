package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		name, value string
		err         string // "" for valid
	}{
		{"retention.ms", "1000", ""},
		{"retention.ms", "-1", ""},
		{"retention.ms", "abc", "invalid value 'abc' for config retention.ms: not a long"},
		{"retention.ms", "-2", "invalid value '-2' for config retention.ms: must be at least -1"},
		{"segment.bytes", "99999999999", "invalid value '99999999999' for config segment.bytes: not an int"},
		{"segment.bytes", "13", "invalid value '13' for config segment.bytes: must be at least 14"},
		{"cleanup.policy", "compact,delete", ""},
		{"cleanup.policy", " delete ", ""},
		{"cleanup.policy", "foo", "invalid value 'foo' for config cleanup.policy: cleanup.policy must be a list of delete, compact"},
		{"cleanup.policy", "", "invalid value '' for config cleanup.policy: cleanup.policy must be a list of delete, compact"},
		{"message.timestamp.type", "LogAppendTime", ""},
		{"message.timestamp.type", "logappendtime", "invalid value 'logappendtime' for config message.timestamp.type: message.timestamp.type must be one of CreateTime, LogAppendTime"},
		{"compression.type", "zstd", ""},
		{"compression.type", "brotli", "invalid value 'brotli' for config compression.type: compression.type must be one of uncompressed, zstd, lz4, snappy, gzip, producer"},
		{"min.cleanable.dirty.ratio", "0.1", ""},
		{"min.cleanable.dirty.ratio", "1.5", "invalid value '1.5' for config min.cleanable.dirty.ratio: must be between 0 and 1"},
		{"min.cleanable.dirty.ratio", "NaN", "invalid value 'NaN' for config min.cleanable.dirty.ratio: not a double"},
		{"min.insync.replicas", "0", "invalid value '0' for config min.insync.replicas: must be at least 1"},
		{"retention.bytes", "-5", ""},
		{"log.retention.ms", "1", "unknown config 'log.retention.ms'"},
		{"x", "1", "unknown config 'x'"},
	}
	for _, tt := range tests {
		err := ValidateTopic(tt.name, tt.value)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("ValidateTopic(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.err)
		}
	}
}

func TestValidateBrokerDynamic(t *testing.T) {
	tests := []struct {
		name, value string
		err         string
	}{
		{"log.retention.ms", "1000", ""},
		{"message.max.bytes", "2000000", ""},
		{"auto.create.topics.enable", "FALSE", ""},
		{"auto.create.topics.enable", "no", "invalid value 'no' for config auto.create.topics.enable: not a boolean"},
		{"num.partitions", "0", "invalid value '0' for config num.partitions: must be at least 1"},
		{"node.id", "2", "config node.id is read-only: it cannot be updated dynamically"},
		{"log.dirs", "/tmp", "config log.dirs is read-only: it cannot be updated dynamically"},
		{"retention.ms", "1", "unknown config 'retention.ms'"},
	}
	for _, tt := range tests {
		err := ValidateBrokerDynamic(tt.name, tt.value)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err {
			t.Errorf("ValidateBrokerDynamic(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.err)
		}
	}
}

func TestNewBroker(t *testing.T) {
	if _, err := NewBroker(map[string]string{"node.id": "3", "log.dirs": "/data"}); err != nil {
		t.Fatal(err)
	}
	for static, want := range map[string]string{
		"nope=1":        "unknown config 'nope'",
		"node.id=x":     "invalid value 'x' for config node.id: not an int",
		"node.id=-1":    "invalid value '-1' for config node.id: must be at least 0",
		"retention.ms=": "unknown config 'retention.ms'",
	} {
		k, v, _ := strings.Cut(static, "=")
		_, err := NewBroker(map[string]string{k: v})
		if err == nil || err.Error() != want {
			t.Errorf("NewBroker(%s) = %v, want %q", static, err, want)
		}
	}
}

func TestBrokerResolution(t *testing.T) {
	b, err := NewBroker(map[string]string{"log.retention.hours": "24", "num.partitions": "3", "auto.create.topics.enable": "false"})
	if err != nil {
		t.Fatal(err)
	}
	dyn := map[string]string{"num.partitions": "5"}
	tests := []struct {
		name string
		dyn  map[string]string
		str  string
		i64  int64
	}{
		{"num.partitions", nil, "3", 3},
		{"num.partitions", dyn, "5", 5},
		{"default.replication.factor", dyn, "1", 1},
		{"log.retention.hours", nil, "24", 24},
		{"log.retention.minutes", nil, "", 24 * 3600 * 1000},
		{"log.retention.ms", nil, "", 24 * 3600 * 1000},
		{"log.retention.ms", map[string]string{"log.retention.minutes": "2"}, "", 120000},
		{"log.retention.ms", map[string]string{"log.retention.ms": "7"}, "7", 7},
		{"log.roll.ms", nil, "", 168 * 3600 * 1000},
		{"log.flush.interval.ms", nil, "", 9223372036854775807},
		{"message.max.bytes", nil, "1048588", 1048588},
		{"unknown.thing", nil, "", 0},
	}
	for _, tt := range tests {
		if got := b.Get(tt.name, tt.dyn); got != tt.str {
			t.Errorf("Get(%s, %v) = %q, want %q", tt.name, tt.dyn, got, tt.str)
		}
		if got := b.Int64(tt.name, tt.dyn); got != tt.i64 {
			t.Errorf("Int64(%s, %v) = %d, want %d", tt.name, tt.dyn, got, tt.i64)
		}
	}
	if b.Bool("auto.create.topics.enable", nil) {
		t.Error("auto.create.topics.enable: static false not honoured")
	}
	if !b.Bool("auto.create.topics.enable", map[string]string{"auto.create.topics.enable": "true"}) {
		t.Error("auto.create.topics.enable: dynamic true not honoured")
	}
	if !b.Bool("delete.topic.enable", nil) {
		t.Error("delete.topic.enable default should be true")
	}
	if got := b.Int32("socket.request.max.bytes", nil); got != 104857600 {
		t.Errorf("socket.request.max.bytes = %d", got)
	}
}

func TestResolveTopic(t *testing.T) {
	def, _ := NewBroker(nil)
	got := def.ResolveTopic(nil, nil)
	want := Topic{
		RetentionMs: 604800000, RetentionBytes: -1, SegmentBytes: 1073741824, SegmentMs: 604800000,
		FlushMessages: 9223372036854775807, FlushMs: 9223372036854775807,
		IndexIntervalBytes: 4096, MaxMessageBytes: 1048588, MinInsyncReplicas: 1,
		CleanupPolicy: []string{"delete"}, TimestampType: "CreateTime", CompressionType: "producer",
		DeleteRetentionMs: 86400000, MinCompactionLagMs: 0, MaxCompactionLagMs: 9223372036854775807,
		MinCleanableDirtyRatio: 0.5, MessageTimestampBeforeMaxMs: 9223372036854775807, MessageTimestampAfterMaxMs: 3600000,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}

	b, err := NewBroker(map[string]string{
		"log.retention.hours": "1", "log.roll.hours": "2", "log.segment.bytes": "1000",
		"log.flush.scheduler.interval.ms": "500", "message.max.bytes": "2000",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc         string
		topic, dyn   map[string]string
		check        func(Topic) int64
		want         int64
		wantPolicies []string
	}{
		{"static hours", nil, nil, func(t Topic) int64 { return t.RetentionMs }, 3600000, nil},
		{"dynamic minutes beat static hours", nil, map[string]string{"log.retention.minutes": "3"}, func(t Topic) int64 { return t.RetentionMs }, 180000, nil},
		{"dynamic ms beats minutes", nil, map[string]string{"log.retention.minutes": "3", "log.retention.ms": "5"}, func(t Topic) int64 { return t.RetentionMs }, 5, nil},
		{"topic beats all", map[string]string{"retention.ms": "9"}, map[string]string{"log.retention.ms": "5"}, func(t Topic) int64 { return t.RetentionMs }, 9, nil},
		{"roll hours", nil, nil, func(t Topic) int64 { return t.SegmentMs }, 7200000, nil},
		{"roll ms", nil, map[string]string{"log.roll.ms": "10"}, func(t Topic) int64 { return t.SegmentMs }, 10, nil},
		{"segment bytes static", nil, nil, func(t Topic) int64 { return t.SegmentBytes }, 1000, nil},
		{"segment bytes dynamic", nil, map[string]string{"log.segment.bytes": "2000"}, func(t Topic) int64 { return t.SegmentBytes }, 2000, nil},
		{"flush.ms falls back to scheduler interval", nil, nil, func(t Topic) int64 { return t.FlushMs }, 500, nil},
		{"flush.ms from interval", nil, map[string]string{"log.flush.interval.ms": "50"}, func(t Topic) int64 { return t.FlushMs }, 50, nil},
		{"max.message.bytes from message.max.bytes", nil, nil, func(t Topic) int64 { return int64(t.MaxMessageBytes) }, 2000, nil},
		{"cleanup policy list", map[string]string{"cleanup.policy": "compact, delete"}, nil, func(t Topic) int64 { return 0 }, 0, []string{"compact", "delete"}},
		{"cleanup policy broker", nil, map[string]string{"log.cleanup.policy": "compact"}, func(t Topic) int64 { return 0 }, 0, []string{"compact"}},
	}
	for _, tt := range tests {
		got := b.ResolveTopic(tt.topic, tt.dyn)
		if v := tt.check(got); v != tt.want {
			t.Errorf("%s: got %d, want %d", tt.desc, v, tt.want)
		}
		if tt.wantPolicies != nil && !reflect.DeepEqual(got.CleanupPolicy, tt.wantPolicies) {
			t.Errorf("%s: policy %v, want %v", tt.desc, got.CleanupPolicy, tt.wantPolicies)
		}
	}
}

func TestDescribeTopicSynonyms(t *testing.T) {
	b, err := NewBroker(map[string]string{"log.retention.hours": "24", "log.retention.minutes": "90"})
	if err != nil {
		t.Fatal(err)
	}
	entries := b.DescribeTopic(
		map[string]string{"retention.ms": "1000"},
		map[string]string{"log.retention.ms": "5000"},
		[]string{"retention.ms", "segment.bytes", "no.such.config"}, true, true)
	if len(entries) != 2 {
		t.Fatalf("got %d entries, want 2: %+v", len(entries), entries)
	}
	r := entries[0]
	if r.Name != "retention.ms" || r.Value != "1000" || r.Source != SourceDynamicTopic || r.ReadOnly || r.Type != TypeLong || r.Doc == "" {
		t.Errorf("retention.ms entry: %+v", r)
	}
	wantSyn := []Synonym{
		{Name: "retention.ms", Value: "1000", Source: SourceDynamicTopic},
		{Name: "log.retention.ms", Value: "5000", Source: SourceDynamicDefaultBroker},
		{Name: "log.retention.minutes", Value: "90", Source: SourceStaticBroker},
		{Name: "log.retention.hours", Value: "24", Source: SourceStaticBroker},
		{Name: "log.retention.hours", Value: "168", Source: SourceDefault},
	}
	if !reflect.DeepEqual(r.Synonyms, wantSyn) {
		t.Errorf("retention.ms synonyms:\n got %+v\nwant %+v", r.Synonyms, wantSyn)
	}
	s := entries[1]
	wantSeg := Entry{Name: "segment.bytes", Value: "1073741824", Source: SourceDefault, Type: TypeInt,
		Doc:      topicByName["segment.bytes"].doc,
		Synonyms: []Synonym{{Name: "log.segment.bytes", Value: "1073741824", Source: SourceDefault}}}
	if !reflect.DeepEqual(s, wantSeg) {
		t.Errorf("segment.bytes:\n got %+v\nwant %+v", s, wantSeg)
	}

	// Without an override, the value and source come from the broker synonym.
	e := b.DescribeTopic(nil, nil, []string{"retention.ms"}, false, false)[0]
	if e.Value != "5400000" || e.Source != SourceStaticBroker || e.Synonyms != nil || e.Doc != "" {
		t.Errorf("retention.ms from static minutes: %+v", e)
	}
	if all := b.DescribeTopic(nil, nil, nil, false, false); len(all) != len(topicDefinitions) {
		t.Errorf("describe all: %d entries, want %d", len(all), len(topicDefinitions))
	}
}

func TestDescribeBroker(t *testing.T) {
	b, err := NewBroker(map[string]string{"log.retention.ms": "100", "log.dirs": "/data"})
	if err != nil {
		t.Fatal(err)
	}
	entries := b.Describe(map[string]string{"log.retention.hours": "2"},
		[]string{"log.retention.hours", "log.retention.ms", "log.dirs", "advertised.listeners"}, true, false)
	want := []Entry{
		{Name: "advertised.listeners", Null: true, Source: SourceDefault, ReadOnly: true, Type: TypeString},
		{Name: "log.dirs", Value: "/data", Source: SourceStaticBroker, ReadOnly: true, Type: TypeString,
			Synonyms: []Synonym{{Name: "log.dirs", Value: "/data", Source: SourceStaticBroker}}},
		{Name: "log.retention.hours", Value: "2", Source: SourceDynamicDefaultBroker, Type: TypeInt,
			Synonyms: []Synonym{
				{Name: "log.retention.hours", Value: "2", Source: SourceDynamicDefaultBroker},
				{Name: "log.retention.hours", Value: "168", Source: SourceDefault},
			}},
		{Name: "log.retention.ms", Value: "100", Source: SourceStaticBroker, Type: TypeLong,
			Synonyms: []Synonym{
				{Name: "log.retention.hours", Value: "2", Source: SourceDynamicDefaultBroker},
				{Name: "log.retention.ms", Value: "100", Source: SourceStaticBroker},
				{Name: "log.retention.hours", Value: "168", Source: SourceDefault},
			}},
	}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("Describe:\n got %+v\nwant %+v", entries, want)
	}
	if all := b.Describe(nil, nil, false, true); len(all) != len(brokerDefinitions) || all[0].Doc == "" {
		t.Errorf("describe all: %d entries, want %d", len(all), len(brokerDefinitions))
	}
}

func TestParseProperties(t *testing.T) {
	input := `# a comment
! another comment
node.id=3
  log.dirs = /var/lib/samsa   
listeners: PLAINTEXT://:9092
num.partitions 4
key\=with\:escapes = tab\there
long.value = one,\
    two,\
    three
unicode=\u00e9
empty=

`
	got, err := ParseProperties(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"node.id":          "3",
		"log.dirs":         "/var/lib/samsa",
		"listeners":        "PLAINTEXT://:9092",
		"num.partitions":   "4",
		"key=with:escapes": "tab\there",
		"long.value":       "one,two,three",
		"unicode":          "é",
		"empty":            "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseProperties:\n got %q\nwant %q", got, want)
	}
	if _, err := ParseProperties(strings.NewReader(`bad=\uzz`)); err == nil {
		t.Error("malformed \\u escape: want an error")
	}
}
