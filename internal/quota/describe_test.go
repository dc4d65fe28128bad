package quota

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The entities of Kafka's ClientQuotasRequestTest (without its ip ones),
// each with request_percentage set.
var describeEntities = []Entity{
	{User: Specific("user-1"), ClientID: Specific("client-id-1")},
	{User: Specific("user-2"), ClientID: Specific("client-id-1")},
	{User: Specific("user-3"), ClientID: Specific("client-id-2")},
	{User: Default(), ClientID: Specific("client-id-1")},
	{User: Specific("user-1"), ClientID: Default()},
	{User: Specific("user-3"), ClientID: Default()},
	{User: Specific("user-1")},
	{User: Specific("user-2")},
	{User: Specific("user-3")},
	{User: Default()},
	{ClientID: Specific("client-id-2")},
}

func describeStore() *Store {
	store := NewStore()
	for i, entity := range describeEntities {
		store.Set(entity, RequestPercentage, float(50.5+float64(i)))
	}
	return store
}

// filterFor is the strict filter that names exactly entity.
func filterFor(entity Entity) []FilterComponent {
	var components []FilterComponent
	for _, component := range entity.Components() {
		matchType := MatchExact
		if component.Name == nil {
			matchType = MatchDefault
		}
		components = append(components, FilterComponent{EntityType: component.EntityType, MatchType: matchType, Match: component.Name})
	}
	return components
}

func TestDescribeExact(t *testing.T) {
	store := describeStore()
	for i, entity := range describeEntities {
		got, err := store.Describe(filterFor(entity), true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Entity != entity || got[0].Values[RequestPercentage] != 50.5+float64(i) {
			t.Errorf("%s: got %+v", entity, got)
		}
	}
	notStored := []Entity{
		{User: Specific("user-1"), ClientID: Specific("client-id-2")},
		{User: Specific("user-3"), ClientID: Specific("client-id-1")},
		{User: Specific("user-2"), ClientID: Default()},
		{User: Specific("user-4")},
		{User: Default(), ClientID: Specific("client-id-2")},
		{ClientID: Specific("client-id-1")},
		{ClientID: Specific("client-id-3")},
	}
	for _, entity := range notStored {
		if got, err := store.Describe(filterFor(entity), true); err != nil || len(got) != 0 {
			t.Errorf("%s: got %+v, %v", entity, got, err)
		}
	}
}

func TestDescribeFilters(t *testing.T) {
	name := func(s string) *string { return &s }
	user := func(s string) FilterComponent {
		return FilterComponent{EntityType: EntityTypeUser, MatchType: MatchExact, Match: name(s)}
	}
	clientID := func(s string) FilterComponent {
		return FilterComponent{EntityType: EntityTypeClientID, MatchType: MatchExact, Match: name(s)}
	}
	// The counts are those Kafka's ClientQuotasRequestTest expects.
	tests := []struct {
		name       string
		components []FilterComponent
		strict     bool
		want       int
	}{
		{"open existing user", []FilterComponent{user("user-1")}, false, 3},
		{"strict existing user", []FilterComponent{user("user-1")}, true, 1},
		{"open unknown user", []FilterComponent{user("unknown")}, false, 0},
		{"open existing client-id", []FilterComponent{clientID("client-id-2")}, false, 2},
		{"open default user", []FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchDefault}}, false, 2},
		{"strict existing user-2", []FilterComponent{user("user-2")}, true, 1},
		{"strict client-id with no client-only entity", []FilterComponent{clientID("client-id-1")}, true, 0},
		{"strict any user (default included)", []FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchSpecified}}, true, 4},
		{"open any user", []FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchSpecified}}, false, 10},
		{"strict any client-id", []FilterComponent{{EntityType: EntityTypeClientID, MatchType: MatchSpecified}}, true, 1},
		{"open any client-id", []FilterComponent{{EntityType: EntityTypeClientID, MatchType: MatchSpecified}}, false, 7},
		{"user and any client-id", []FilterComponent{user("user-1"), {EntityType: EntityTypeClientID, MatchType: MatchSpecified}}, false, 2},
		{"default user and client-id", []FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchDefault}, clientID("client-id-1")}, true, 1},
		{"open ip matches nothing here", []FilterComponent{{EntityType: EntityTypeIP, MatchType: MatchSpecified}}, false, 0},
		{"open empty filter matches all", nil, false, len(describeEntities)},
		{"strict empty filter matches none", nil, true, 0},
	}
	store := describeStore()
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := store.Describe(test.components, test.strict)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != test.want {
				t.Errorf("matched %d, want %d: %v", len(got), test.want, got)
			}
			for i := 1; i < len(got); i++ {
				if !entityLess(got[i-1].Entity, got[i].Entity) {
					t.Errorf("not sorted: %s before %s", got[i-1].Entity, got[i].Entity)
				}
			}
		})
	}
}

func TestDescribeErrors(t *testing.T) {
	name := func(s string) *string { return &s }
	tests := []struct {
		components []FilterComponent
		code       *kerr.Error
		message    string
	}{
		{[]FilterComponent{{EntityType: "", MatchType: MatchSpecified}}, kerr.InvalidRequest, "Invalid empty entity type."},
		{[]FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchSpecified}, {EntityType: EntityTypeUser, MatchType: MatchDefault}}, kerr.InvalidRequest, "Entity type user cannot appear more than once in the filter."},
		{[]FilterComponent{{EntityType: "group", MatchType: MatchSpecified}}, kerr.UnsupportedVersion, "Unsupported entity type group"},
		{[]FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchExact}}, kerr.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null."},
		{[]FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchDefault, Match: name("a")}}, kerr.InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."},
		{[]FilterComponent{{EntityType: EntityTypeUser, MatchType: MatchSpecified, Match: name("a")}}, kerr.InvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."},
		{[]FilterComponent{{EntityType: EntityTypeUser, MatchType: 7}}, kerr.InvalidRequest, "Unknown match type 7"},
		{[]FilterComponent{{EntityType: EntityTypeIP, MatchType: MatchSpecified}, {EntityType: EntityTypeUser, MatchType: MatchSpecified}}, kerr.InvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."},
	}
	store := describeStore()
	for _, test := range tests {
		t.Run(fmt.Sprint(test.components), func(t *testing.T) {
			_, err := store.Describe(test.components, false)
			if err == nil || err.Code != test.code || err.Message != test.message {
				t.Fatalf("got %v, want %v %q", err, test.code, test.message)
			}
			if !errors.Is(err, test.code) {
				t.Errorf("errors.Is(%v, %v) is false", err, test.code)
			}
		})
	}
}
