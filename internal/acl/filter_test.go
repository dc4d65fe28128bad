package acl

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func name(s string) *string { return &s }

// The cases of Kafka's ResourcePatternFilterTest, and a few more.
func TestResourceFilterMatches(t *testing.T) {
	tests := []struct {
		name     string
		filter   ResourceFilter
		resource Resource
		want     bool
	}{
		{"different type", ResourceFilter{ResourceGroup, name("Name"), PatternPrefixed}, prefixed(ResourceTopic, "Name"), false},
		{"different name", ResourceFilter{ResourceTopic, name("Different"), PatternPrefixed}, prefixed(ResourceTopic, "Name"), false},
		{"name differs in case", ResourceFilter{ResourceTopic, name("NAME"), PatternPrefixed}, prefixed(ResourceTopic, "Name"), false},
		{"different pattern type", ResourceFilter{ResourceTopic, name("Name"), PatternLiteral}, prefixed(ResourceTopic, "Name"), false},
		{"any type", ResourceFilter{ResourceAny, name("Name"), PatternPrefixed}, prefixed(ResourceTopic, "Name"), true},
		{"nil name", ResourceFilter{ResourceTopic, nil, PatternPrefixed}, prefixed(ResourceTopic, "Name"), true},
		{"nil name wrong pattern", ResourceFilter{ResourceTopic, nil, PatternLiteral}, prefixed(ResourceTopic, "Name"), false},
		{"exact literal", ResourceFilter{ResourceTopic, name("Name"), PatternLiteral}, literal(ResourceTopic, "Name"), true},
		{"exact prefixed", ResourceFilter{ResourceTopic, name("Name"), PatternPrefixed}, prefixed(ResourceTopic, "Name"), true},
		{"any pattern literal", ResourceFilter{ResourceTopic, name("Name"), PatternAny}, literal(ResourceTopic, "Name"), true},
		{"any pattern prefixed", ResourceFilter{ResourceTopic, name("Name"), PatternAny}, prefixed(ResourceTopic, "Name"), true},
		// ANY compares names exactly: the wildcard and prefixes are not included.
		{"any pattern not wildcard", ResourceFilter{ResourceTopic, name("Name"), PatternAny}, literal(ResourceTopic, "*"), false},
		{"any pattern not prefix", ResourceFilter{ResourceTopic, name("Name"), PatternAny}, prefixed(ResourceTopic, "Na"), false},
		{"wildcard filter literal only", ResourceFilter{ResourceTopic, name("*"), PatternLiteral}, literal(ResourceTopic, "*"), true},
		{"wildcard filter not other names", ResourceFilter{ResourceTopic, name("*"), PatternLiteral}, literal(ResourceTopic, "Name"), false},
		{"match literal", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, literal(ResourceTopic, "Name"), true},
		{"match literal wildcard", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, literal(ResourceTopic, "*"), true},
		{"match prefix", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, prefixed(ResourceTopic, "Na"), true},
		{"match whole name as prefix", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, prefixed(ResourceTopic, "Name"), true},
		{"match not longer prefix", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, prefixed(ResourceTopic, "Names"), false},
		{"match not other literal", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, literal(ResourceTopic, "Nam"), false},
		{"match not prefixed star", ResourceFilter{ResourceTopic, name("Name"), PatternMatch}, prefixed(ResourceTopic, "*"), false},
		{"match nil name", ResourceFilter{ResourceTopic, nil, PatternMatch}, prefixed(ResourceTopic, "x"), true},
		{"match other type", ResourceFilter{ResourceGroup, name("Name"), PatternMatch}, literal(ResourceTopic, "*"), false},
	}
	for _, test := range tests {
		if got := test.filter.Matches(test.resource); got != test.want {
			t.Errorf("%s: %v matches %v = %v, want %v", test.name, test.filter, test.resource, got, test.want)
		}
	}
}

func TestEntryFilterMatches(t *testing.T) {
	entry := allowEntry("User:alice", "10.0.0.1", OperationRead)
	tests := []struct {
		filter EntryFilter
		want   bool
	}{
		{MatchAll.Entry, true},
		{EntryFilter{name("User:alice"), nil, OperationAny, PermissionAny}, true},
		{EntryFilter{name("User:bob"), nil, OperationAny, PermissionAny}, false},
		// Exact comparison: the wildcard principal or host is not expanded.
		{EntryFilter{name("User:*"), nil, OperationAny, PermissionAny}, false},
		{EntryFilter{nil, name("*"), OperationAny, PermissionAny}, false},
		{EntryFilter{nil, name("10.0.0.1"), OperationRead, PermissionAllow}, true},
		{EntryFilter{nil, nil, OperationWrite, PermissionAny}, false},
		// ALL in a filter means the entries whose operation is ALL.
		{EntryFilter{nil, nil, OperationAll, PermissionAny}, false},
		{EntryFilter{nil, nil, OperationAny, PermissionDeny}, false},
	}
	for _, test := range tests {
		if got := test.filter.Matches(entry); got != test.want {
			t.Errorf("%v matches %v = %v, want %v", test.filter, entry, got, test.want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		change  func(*Filter)
		message string
	}{
		{func(*Filter) {}, ""},
		{func(f *Filter) { f.Resource.PatternType = PatternMatch; f.Resource.Name = name("x") }, ""},
		{func(f *Filter) { f.Resource.Type = ResourceUnknown }, "Unknown patternFilter."},
		{func(f *Filter) { f.Resource.PatternType = 17 }, "Unknown patternFilter."},
		{func(f *Filter) { f.Entry.Operation = 0 }, "Unknown entryFilter."},
		{func(f *Filter) { f.Entry.Permission = 0 }, "Unknown entryFilter."},
	}
	for _, test := range tests {
		f := MatchAll
		test.change(&f)
		err := f.Validate()
		var requestError *RequestError
		switch {
		case test.message == "" && err != nil:
			t.Errorf("%v: Validate = %v, want nil", f, err)
		case test.message != "" && (!errors.As(err, &requestError) || !errors.Is(err, kerr.InvalidRequest) || requestError.Message != test.message):
			t.Errorf("%v: Validate = %v, want INVALID_REQUEST %q", f, err, test.message)
		}
	}
}

// Ported from AuthorizerTest.testAclsFilter (the KRaft answers): each
// DeleteAcls filter is matched against the ACLs as they were before the
// request, so two filters may both report one binding.
func TestBindingsFilter(t *testing.T) {
	resource1 := literal(ResourceTopic, "foo-1")
	resource2 := literal(ResourceTopic, "bar-1")
	prefix := prefixed(ResourceTopic, "bar-")
	acl1 := Binding{resource1, allowEntry("User:alice", "*", OperationRead)}
	acl2 := Binding{resource1, allowEntry("User:alice", "192.168.0.1", OperationWrite)}
	acl3 := Binding{resource2, allowEntry("User:alice", "*", OperationDescribe)}
	acl4 := Binding{prefix, allowEntry("User:*", "*", OperationRead)}
	a := newAuthorizer(t, Config{}, acl1, acl2, acl3, acl4)

	resourceOnly := func(r Resource) Filter {
		f := MatchAll
		f.Resource = ResourceFilter{Type: r.Type, Name: name(r.Name), PatternType: r.PatternType}
		return f
	}
	matching := MatchAll
	matching.Resource = ResourceFilter{Type: ResourceAny, Name: name(resource2.Name), PatternType: PatternMatch}
	baz := MatchAll
	baz.Resource = ResourceFilter{Type: ResourceTopic, Name: name("baz"), PatternType: PatternAny}
	byPrincipal := MatchAll
	byPrincipal.Entry.Principal = name("User:alice")
	wildcardPrincipal := MatchAll
	wildcardPrincipal.Entry.Principal = name("User:*")

	tests := []struct {
		name   string
		filter Filter
		want   []Binding
	}{
		// Sorted by type, name, pattern type, principal, host, operation.
		{"any", MatchAll, []Binding{acl4, acl3, acl1, acl2}},
		{"one resource", resourceOnly(resource1), []Binding{acl1, acl2}},
		{"prefixed resource", resourceOnly(prefix), []Binding{acl4}},
		{"match", matching, []Binding{acl4, acl3}},
		{"exact binding", acl1.Filter(), []Binding{acl1}},
		{"other resource", resourceOnly(resource2), []Binding{acl3}},
		{"no such resource", baz, nil},
		{"principal alice", byPrincipal, []Binding{acl3, acl1, acl2}},
		{"principal wildcard", wildcardPrincipal, []Binding{acl4}},
	}
	for _, test := range tests {
		if got := a.Bindings(test.filter); !slices.Equal(got, test.want) {
			t.Errorf("%s: Bindings(%v)\n got  %v\n want %v", test.name, test.filter, got, test.want)
		}
	}

	// Deleting what a filter matched leaves the rest.
	if n := a.Remove(a.Bindings(matching)...); n != 2 {
		t.Fatalf("removed %d, want 2", n)
	}
	if got := a.Bindings(MatchAll); !slices.Equal(got, []Binding{acl1, acl2}) || a.Len() != 2 {
		t.Fatalf("after delete: %v (Len %d)", got, a.Len())
	}
}
