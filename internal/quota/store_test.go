package quota

import (
	"math"
	"testing"
)

func float(value float64) *float64 { return &value }

// The eight levels of Kafka's precedence, most specific first, for the
// client (alice, app).
var precedenceLevels = []Entity{
	{User: Specific("alice"), ClientID: Specific("app")},
	{User: Specific("alice"), ClientID: Default()},
	{User: Specific("alice")},
	{User: Default(), ClientID: Specific("app")},
	{User: Default(), ClientID: Default()},
	{User: Default()},
	{ClientID: Specific("app")},
	{ClientID: Default()},
}

func TestResolvePrecedence(t *testing.T) {
	// With every level set to its rank, removing the most specific level
	// one at a time must walk down Kafka's list, and the tags must follow
	// the shape of the level that matched.
	tests := []struct {
		removed  int // levels removed from the top
		limit    float64
		user     string
		clientID string
	}{
		{0, 1, "alice", "app"},
		{1, 2, "alice", "app"},
		{2, 3, "alice", ""},
		{3, 4, "alice", "app"},
		{4, 5, "alice", "app"},
		{5, 6, "alice", ""},
		{6, 7, "", "app"},
		{7, 8, "", "app"},
	}
	for _, test := range tests {
		store := NewStore()
		for rank, entity := range precedenceLevels[test.removed:] {
			store.Set(entity, ProducerByteRate, float(float64(test.removed+rank+1)))
		}
		got := store.Resolve(ProducerByteRate, Client{User: "alice", ClientID: "app"})
		want := Resolution{Enabled: true, MetricUser: test.user, MetricClientID: test.clientID, Limit: test.limit}
		if got != want {
			t.Errorf("levels from %s: got %+v, want %+v", precedenceLevels[test.removed], got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	type quota struct {
		entity Entity
		key    Key
		value  float64
	}
	inf := math.Inf(1)
	tests := []struct {
		name   string
		quotas []quota
		client Client
		key    Key
		want   Resolution
	}{
		{
			name:   "no quotas: disabled, tagged by client-id",
			client: Client{"alice", "app"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: false, MetricClientID: "app", Limit: inf},
		},
		{
			name:   "client-id default only",
			quotas: []quota{{Entity{ClientID: Default()}, ProducerByteRate, 100}},
			client: Client{"alice", "app"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: true, MetricClientID: "app", Limit: 100},
		},
		{
			name: "specific client-id beats its default",
			quotas: []quota{
				{Entity{ClientID: Default()}, ProducerByteRate, 100},
				{Entity{ClientID: Specific("app")}, ProducerByteRate, 50},
			},
			client: Client{"alice", "app"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: true, MetricClientID: "app", Limit: 50},
		},
		{
			name:   "user default: one quota per user",
			quotas: []quota{{Entity{User: Default()}, ConsumerByteRate, 200}},
			client: Client{"bob", "app"},
			key:    ConsumerByteRate,
			want:   Resolution{Enabled: true, MetricUser: "bob", Limit: 200},
		},
		{
			name: "user beats client-id",
			quotas: []quota{
				{Entity{User: Specific("alice")}, ProducerByteRate, 300},
				{Entity{ClientID: Specific("app")}, ProducerByteRate, 50},
			},
			client: Client{"alice", "app"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: true, MetricUser: "alice", Limit: 300},
		},
		{
			name: "another user falls to the client-id",
			quotas: []quota{
				{Entity{User: Specific("alice")}, ProducerByteRate, 300},
				{Entity{ClientID: Specific("app")}, ProducerByteRate, 50},
			},
			client: Client{"bob", "app"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: true, MetricClientID: "app", Limit: 50},
		},
		{
			name: "multi-level with nothing matching: unlimited, tagged by client-id",
			quotas: []quota{
				{Entity{User: Specific("alice")}, ProducerByteRate, 300},
				{Entity{ClientID: Specific("app")}, ProducerByteRate, 50},
			},
			client: Client{"bob", "other"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: true, MetricClientID: "other", Limit: inf},
		},
		{
			name:   "user and client-id shape alone: tagged by both, default pair applies",
			quotas: []quota{{Entity{User: Default(), ClientID: Default()}, RequestPercentage, 5}},
			client: Client{"carol", "tool"},
			key:    RequestPercentage,
			want:   Resolution{Enabled: true, MetricUser: "carol", MetricClientID: "tool", Limit: 5},
		},
		{
			name:   "keys are resolved separately",
			quotas: []quota{{Entity{User: Specific("alice")}, ProducerByteRate, 300}},
			client: Client{"alice", "app"},
			key:    ConsumerByteRate,
			want:   Resolution{Enabled: false, MetricClientID: "app", Limit: inf},
		},
		{
			name: "user-only shape alone: another user has no quota",
			quotas: []quota{
				{Entity{User: Specific("alice")}, ProducerByteRate, 300},
			},
			client: Client{"bob", "app"},
			key:    ProducerByteRate,
			want:   Resolution{Enabled: true, MetricUser: "bob", Limit: inf},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			store := NewStore()
			for _, quota := range test.quotas {
				store.Set(quota.entity, quota.key, float(quota.value))
			}
			if got := store.Resolve(test.key, test.client); got != test.want {
				t.Errorf("got %+v, want %+v", got, test.want)
			}
		})
	}
}

func TestSetRemove(t *testing.T) {
	store := NewStore()
	entity := Entity{User: Specific("alice")}
	store.Set(entity, ProducerByteRate, float(10))
	store.Set(entity, ConsumerByteRate, float(20))
	store.Set(entity, ProducerByteRate, nil)
	if got := store.Resolve(ProducerByteRate, Client{User: "alice"}); got.Enabled {
		t.Fatalf("removed quota still enabled: %+v", got)
	}
	if got := store.Quotas(entity); len(got) != 1 || got[ConsumerByteRate] != 20 {
		t.Fatalf("quotas = %v", got)
	}
	store.Set(entity, ConsumerByteRate, nil)
	store.Set(entity, ConsumerByteRate, nil) // removing twice is harmless
	if described, _ := store.Describe(nil, false); len(described) != 0 {
		t.Fatalf("entity with no quotas still described: %v", described)
	}
	if got := store.Resolve(ConsumerByteRate, Client{User: "alice"}); got.Enabled {
		t.Fatalf("counts not decremented: %+v", got)
	}
}

func TestEntityFromComponents(t *testing.T) {
	name := func(s string) *string { return &s }
	tests := []struct {
		components []Component
		want       Entity
		ok         bool
	}{
		{[]Component{{EntityTypeUser, name("alice")}}, Entity{User: Specific("alice")}, true},
		{[]Component{{EntityTypeClientID, nil}, {EntityTypeUser, name("a")}}, Entity{User: Specific("a"), ClientID: Default()}, true},
		{[]Component{{EntityTypeIP, name("1.2.3.4")}}, Entity{}, false},
		{[]Component{{EntityTypeUser, nil}, {EntityTypeUser, nil}}, Entity{}, false},
		{nil, Entity{}, false},
	}
	for _, test := range tests {
		got, ok := EntityFromComponents(test.components)
		if got != test.want || ok != test.ok {
			t.Errorf("%v: got %v %v, want %v %v", test.components, got, ok, test.want, test.ok)
		}
	}
}
