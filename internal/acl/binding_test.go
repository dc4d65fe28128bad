package acl

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func literal(t ResourceType, name string) Resource {
	return Resource{Type: t, Name: name, PatternType: PatternLiteral}
}

func prefixed(t ResourceType, name string) Resource {
	return Resource{Type: t, Name: name, PatternType: PatternPrefixed}
}

func allowEntry(principal, host string, op Operation) Entry {
	return Entry{Principal: principal, Host: host, Operation: op, Permission: PermissionAllow}
}

func denyEntry(principal, host string, op Operation) Entry {
	return Entry{Principal: principal, Host: host, Operation: op, Permission: PermissionDeny}
}

func TestStrings(t *testing.T) {
	b := Binding{Resource: prefixed(ResourceTopic, "foo_"), Entry: allowEntry("User:alice", "*", OperationRead)}
	tests := []struct{ got, want string }{
		{b.Entry.String(), "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"},
		{b.Resource.String(), "ResourcePattern(resourceType=TOPIC, name=foo_, patternType=PREFIXED)"},
		{b.String(), "(pattern=ResourcePattern(resourceType=TOPIC, name=foo_, patternType=PREFIXED), " +
			"entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))"},
		{MatchAll.String(), "(patternFilter=ResourcePattern(resourceType=ANY, name=<any>, patternType=ANY), " +
			"entryFilter=(principal=<any>, host=<any>, operation=ANY, permissionType=ANY))"},
		{b.Filter().String(), "(patternFilter=ResourcePattern(resourceType=TOPIC, name=foo_, patternType=PREFIXED), " +
			"entryFilter=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))"},
	}
	for _, test := range tests {
		if test.got != test.want {
			t.Errorf("got  %s\nwant %s", test.got, test.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := Binding{Resource: literal(ResourceTopic, "orders"), Entry: allowEntry("User:alice", "*", OperationRead)}
	with := func(change func(*Binding)) Binding {
		b := good
		change(&b)
		return b
	}
	tests := []struct {
		name    string
		binding Binding
		message string // "" when valid
	}{
		{"valid literal", good, ""},
		{"valid prefixed", with(func(b *Binding) { b.Resource.PatternType = PatternPrefixed }), ""},
		{"valid wildcard", with(func(b *Binding) { b.Resource.Name = "*"; b.Entry.Principal = "User:*" }), ""},
		{"valid cluster", with(func(b *Binding) { b.Resource = literal(ResourceCluster, "kafka-cluster") }), ""},
		{"valid deny all", with(func(b *Binding) { b.Entry.Operation = OperationAll; b.Entry.Permission = PermissionDeny }), ""},
		{"empty principal name", with(func(b *Binding) { b.Entry.Principal = "User:" }), ""},
		{"unknown resource type", with(func(b *Binding) { b.Resource.Type = ResourceUnknown }), "Invalid resourceType UNKNOWN"},
		{"out of range resource type", with(func(b *Binding) { b.Resource.Type = 42 }), "Invalid resourceType UNKNOWN"},
		{"any resource type", with(func(b *Binding) { b.Resource.Type = ResourceAny }), "Invalid resourceType ANY"},
		{"match pattern", with(func(b *Binding) { b.Resource.PatternType = PatternMatch }), "Invalid patternType MATCH"},
		{"any pattern", with(func(b *Binding) { b.Resource.PatternType = PatternAny }), "Invalid patternType ANY"},
		{"unset pattern", with(func(b *Binding) { b.Resource.PatternType = 0 }), "Invalid patternType UNKNOWN"},
		{"any operation", with(func(b *Binding) { b.Entry.Operation = OperationAny }), "Invalid operation ANY"},
		{"unknown operation", with(func(b *Binding) { b.Entry.Operation = 0 }), "Invalid operation UNKNOWN"},
		{"any permission", with(func(b *Binding) { b.Entry.Permission = PermissionAny }), "Invalid permissionType ANY"},
		{"unknown permission", with(func(b *Binding) { b.Entry.Permission = 9 }), "Invalid permissionType UNKNOWN"},
		{"cluster misnamed", with(func(b *Binding) { b.Resource = literal(ResourceCluster, "my-cluster") }),
			"The only valid name for the CLUSTER resource is kafka-cluster"},
		{"cluster wildcard", with(func(b *Binding) { b.Resource = literal(ResourceCluster, "*") }),
			"The only valid name for the CLUSTER resource is kafka-cluster"},
		{"empty name", with(func(b *Binding) { b.Resource.Name = "" }), "Invalid empty resource name"},
		{"principal without colon", with(func(b *Binding) { b.Entry.Principal = "alice" }),
			"Could not parse principal from `alice` (no colon is present separating the principal type from the principal name)"},
		{"empty principal", with(func(b *Binding) { b.Entry.Principal = "" }),
			"Could not parse principal from `` (no colon is present separating the principal type from the principal name)"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			err := test.binding.Validate()
			if test.message == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var requestError *RequestError
			if !errors.As(err, &requestError) {
				t.Fatalf("Validate = %v, want a *RequestError", err)
			}
			if !errors.Is(err, kerr.InvalidRequest) || requestError.Code() != 42 {
				t.Errorf("code %d (%v), want INVALID_REQUEST (42)", requestError.Code(), requestError.Err)
			}
			if requestError.Message != test.message {
				t.Errorf("message %q, want %q", requestError.Message, test.message)
			}
		})
	}
}

// Ported from StandardAuthorizerTest.testGetConfiguredSuperUsers.
func TestParseSuperUsers(t *testing.T) {
	tests := []struct {
		value   string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{" ", nil, false},
		{"User:bob;User:alice ", []string{"User:bob", "User:alice"}, false},
		{";  User:bob  ;  User:alice ", []string{"User:bob", "User:alice"}, false},
		{"User:CN=admin,O=example", []string{"User:CN=admin,O=example"}, false},
		{"bob;:alice", nil, true},
	}
	for _, test := range tests {
		got, err := ParseSuperUsers(test.value)
		if (err != nil) != test.wantErr || !slices.Equal(got, test.want) {
			t.Errorf("ParseSuperUsers(%q) = %q, %v; want %q, error %v", test.value, got, err, test.want, test.wantErr)
		}
	}
	if _, err := New(Config{SuperUsers: []string{"User:ok", "bob"}}); err == nil {
		t.Error("New accepted super user \"bob\"")
	}
}
