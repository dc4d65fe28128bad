package quota

import (
	"math"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestPlanValidation(t *testing.T) {
	name := func(s string) *string { return &s }
	user := []Component{{EntityTypeUser, name("user")}}
	tests := []struct {
		name    string
		entity  []Component
		ops     []Op
		message string // "" is success
	}{
		{"request_percentage may be fractional", user, []Op{{Key: "request_percentage", Value: 12.34}}, ""},
		{"controller_mutation_rate may be fractional", user, []Op{{Key: "controller_mutation_rate", Value: 0.5}}, ""},
		{"whole byte rate", user, []Op{{Key: "producer_byte_rate", Value: 10000}}, ""},
		{"default user and client-id", []Component{{EntityTypeUser, nil}, {EntityTypeClientID, nil}}, []Op{{Key: "consumer_byte_rate", Value: 1}}, ""},
		{"removal of an absent key", user, []Op{{Key: "producer_byte_rate", Remove: true}}, ""},
		{"empty user name", []Component{{EntityTypeUser, name("")}}, []Op{{Key: "request_percentage", Value: 12.34}}, "Empty user not supported"},
		{"empty client-id", []Component{{EntityTypeClientID, name("")}}, []Op{{Key: "request_percentage", Value: 12.34}}, "Empty client-id not supported"},
		{"empty entity type", []Component{{"", name("name")}}, []Op{{Key: "request_percentage", Value: 12.34}}, "Unhandled client quota entity type: "},
		{"unknown entity type", []Component{{"group", name("name")}}, []Op{{Key: "request_percentage", Value: 1}}, "Unhandled client quota entity type: group"},
		{"empty entity", nil, []Op{{Key: "producer_byte_rate", Value: 10000}}, "Invalid empty client quota entity"},
		{"repeated entity type", []Component{{EntityTypeUser, name("a")}, {EntityTypeUser, name("b")}}, []Op{{Key: "producer_byte_rate", Value: 1}}, "Invalid client quota entity, duplicate entity entry user"},
		{"unknown key", user, []Op{{Key: "bad", Value: 1}}, "Invalid configuration key bad"},
		{"ip key on a user", user, []Op{{Key: "connection_creation_rate", Value: 1}}, "Invalid configuration key connection_creation_rate"},
		{"fractional byte rate", user, []Op{{Key: "producer_byte_rate", Value: 10000.5}}, "producer_byte_rate cannot be a fractional value."},
		{"zero", user, []Op{{Key: "consumer_byte_rate", Value: 0}}, "Quota consumer_byte_rate must be greater than 0"},
		{"negative", user, []Op{{Key: "request_percentage", Value: -1}}, "Quota request_percentage must be greater than 0"},
		{"NaN", user, []Op{{Key: "request_percentage", Value: math.NaN()}}, "Quota request_percentage must be a finite number"},
		{"infinity", user, []Op{{Key: "controller_mutation_rate", Value: math.Inf(1)}}, "Quota controller_mutation_rate must be a finite number"},
		{"too large for a LONG", user, []Op{{Key: "producer_byte_rate", Value: 1e19}}, "Proposed value for producer_byte_rate is too large for a LONG."},
		{"ip with user", []Component{{EntityTypeUser, name("u")}, {EntityTypeIP, name("1.2.3.4")}}, []Op{{Key: "request_percentage", Value: 12.34}}, "Invalid quota entity combination, IP entity should not be combined with User or ClientId"},
		{"ip alone", []Component{{EntityTypeIP, name("1.2.3.4")}}, []Op{{Key: "connection_creation_rate", Value: 10}}, "IP quotas (connection_creation_rate) are not supported by this broker"},
		{"repeated key", user, []Op{{Key: "producer_byte_rate", Value: 1}, {Key: "producer_byte_rate", Value: 2}}, "Ignoring duplicate entity ClientQuotaEntity(entries={user=user})"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			results, changes := NewStore().Plan([]Alteration{{Entity: test.entity, Ops: test.ops}})
			if len(results) != 1 {
				t.Fatalf("%d results", len(results))
			}
			err := results[0].Err
			switch {
			case test.message == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case test.message != "" && err == nil:
				t.Fatalf("accepted, changes %v; want %q", changes, test.message)
			case test.message != "":
				if err.Code != kerr.InvalidRequest || err.Message != test.message {
					t.Fatalf("got %v %q, want INVALID_REQUEST %q", err.Code, err.Message, test.message)
				}
				if len(changes) != 0 {
					t.Fatalf("failed alteration produced changes %v", changes)
				}
			}
		})
	}
}

func TestPlanChanges(t *testing.T) {
	name := func(s string) *string { return &s }
	store := NewStore()
	entity := Entity{User: Specific("user"), ClientID: Specific("client-id")}
	store.Set(entity, ProducerByteRate, float(10000))
	store.Set(entity, ConsumerByteRate, float(20000))
	components := []Component{{EntityTypeUser, name("user")}, {EntityTypeClientID, name("client-id")}}

	// Kafka's mixed update: a new value, a removal, an addition, an
	// unchanged value and the removal of an absent key.
	results, changes := store.Plan([]Alteration{{Entity: components, Ops: []Op{
		{Key: "producer_byte_rate", Value: 20000},
		{Key: "consumer_byte_rate", Remove: true},
		{Key: "request_percentage", Value: 12.3},
		{Key: "controller_mutation_rate", Remove: true},
	}}})
	if results[0].Err != nil {
		t.Fatal(results[0].Err)
	}
	want := []Change{
		{Entity: entity, Key: ProducerByteRate, Value: float(20000)},
		{Entity: entity, Key: ConsumerByteRate},
		{Entity: entity, Key: RequestPercentage, Value: float(12.3)},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("changes = %v, want %v", changes, want)
	}
	if _, changes := store.Plan([]Alteration{{Entity: components, Ops: []Op{{Key: "producer_byte_rate", Value: 10000}}}}); len(changes) != 0 {
		t.Fatalf("an unchanged value produced %v", changes)
	}
	// Plan applies nothing.
	if got := store.Quotas(entity); got[ProducerByteRate] != 10000 || len(got) != 2 {
		t.Fatalf("store changed: %v", got)
	}
	for _, change := range want {
		store.Set(change.Entity, change.Key, change.Value)
	}
	if got := store.Quotas(entity); !reflect.DeepEqual(got, map[Key]float64{ProducerByteRate: 20000, RequestPercentage: 12.3}) {
		t.Fatalf("after apply: %v", got)
	}
}

func TestPlanDuplicateEntity(t *testing.T) {
	name := func(s string) *string { return &s }
	// The same entity spelled in another order is the same entity.
	first := []Component{{EntityTypeUser, name("a")}, {EntityTypeClientID, nil}}
	second := []Component{{EntityTypeClientID, nil}, {EntityTypeUser, name("a")}}
	other := []Component{{EntityTypeUser, name("b")}}
	results, changes := NewStore().Plan([]Alteration{
		{Entity: first, Ops: []Op{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: other, Ops: []Op{{Key: "producer_byte_rate", Value: 2}}},
		{Entity: second, Ops: []Op{{Key: "producer_byte_rate", Value: 3}}},
	})
	if results[0].Err == nil || results[2].Err == nil || results[1].Err != nil {
		t.Fatalf("results = %+v", results)
	}
	if results[2].Err.Message != "Ignoring duplicate entity ClientQuotaEntity(entries={client-id=null, user=a})" {
		t.Fatalf("message %q", results[2].Err.Message)
	}
	// As Kafka, the first entry's record is still written.
	if len(changes) != 2 || *changes[0].Value != 1 || *changes[1].Value != 2 {
		t.Fatalf("changes = %v", changes)
	}
}
