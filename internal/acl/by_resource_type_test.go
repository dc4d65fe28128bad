package acl

import "testing"

// step is one move of an AuthorizeByResourceType scenario: bindings to add
// or remove, then a question and its expected answer.
type step struct {
	add, remove []Binding
	principal   string
	host        string
	op          Operation
	t           ResourceType
	want        bool
}

// Scenarios ported from Kafka's BaseAuthorizerTest, which every Kafka
// authorizer passes, in the same order of adds, removes and checks.
func TestAuthorizeByResourceType(t *testing.T) {
	const user1, user2 = "User:user1", "User:user2"
	resource1 := literal(ResourceTopic, "sb1-5f3c")
	resource2 := literal(ResourceTopic, "sb2-81aa")

	multipleAddRemove := func() []step {
		allowRead := bind(resource1, allowEntry(user1, host1, OperationRead))
		denyRead := bind(resource1, denyEntry(user1, host1, OperationRead))
		var steps []step
		for range 3 {
			steps = append(steps,
				step{principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				step{add: []Binding{allowRead}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: true})
			for range 3 {
				steps = append(steps,
					step{add: []Binding{denyRead}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
					step{remove: []Binding{denyRead}, add: []Binding{allowRead}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: true})
			}
			steps = append(steps,
				step{remove: []Binding{allowRead}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false})
		}
		return steps
	}

	tests := []struct {
		name   string
		config Config
		steps  []step
	}{
		{name: "multiple add and remove", steps: multipleAddRemove()},
		{
			name: "unrelated deny does not dominate allow",
			steps: []step{
				{add: []Binding{
					bind(resource1, denyEntry(user1, host1, OperationRead)),
					bind(resource1, denyEntry(user2, host1, OperationRead)),
					bind(resource1, denyEntry(user1, host2, OperationWrite)),
					bind(resource1, denyEntry(user2, host2, OperationRead)),
					bind(resource1, allowEntry(user1, host2, OperationRead)),
					bind(resource2, denyEntry(user1, host2, OperationRead)),
					bind(prefixed(ResourceGroup, "s"), denyEntry(user1, host2, OperationRead)),
				}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: false},
				{principal: user1, host: host1, op: OperationRead, t: ResourceTransactionalID, want: false},
				{principal: user1, host: host1, op: OperationRead, t: ResourceCluster, want: false},
				{principal: user1, host: host2, op: OperationRead, t: ResourceTopic, want: true},
			},
		},
		{
			name: "deny takes precedence",
			steps: []step{
				{add: []Binding{bind(resource1, allowEntry(user1, host1, OperationWrite))}, principal: user1, host: host1, op: OperationWrite, t: ResourceTopic, want: true},
				{add: []Binding{bind(resource1, denyEntry(user1, host1, OperationWrite))}, principal: user1, host: host1, op: OperationWrite, t: ResourceTopic, want: false},
			},
		},
		{
			name: "prefixed resource deny dominates",
			steps: []step{
				{add: []Binding{bind(prefixed(ResourceGroup, "abcde"), allowEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: true},
				{add: []Binding{bind(prefixed(ResourceGroup, "abcd"), denyEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: false},
				{add: []Binding{bind(prefixed(ResourceGroup, "abc"), allowEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: true},
				{add: []Binding{bind(prefixed(ResourceGroup, "a"), denyEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: false},
				{add: []Binding{bind(prefixed(ResourceGroup, "ab"), allowEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: false},
			},
		},
		{
			name: "wildcard resource deny dominates",
			steps: []step{
				{add: []Binding{bind(prefixed(ResourceGroup, "hello"), allowEntry(user1, host1, OperationWrite))}, principal: user1, host: host1, op: OperationWrite, t: ResourceGroup, want: true},
				{add: []Binding{bind(literal(ResourceGroup, "*"), denyEntry(user1, host1, OperationWrite))}, principal: user1, host: host1, op: OperationWrite, t: ResourceGroup, want: false},
				{add: []Binding{bind(literal(ResourceGroup, "*"), allowEntry(user1, host1, OperationWrite))}, principal: user1, host: host1, op: OperationWrite, t: ResourceGroup, want: false},
				{add: []Binding{bind(literal(ResourceGroup, "aloha"), allowEntry(user1, host1, OperationWrite))}, principal: user1, host: host1, op: OperationWrite, t: ResourceGroup, want: false},
			},
		},
		{
			name: "ALL operation entries",
			steps: []step{
				{principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{
					bind(resource1, denyEntry(user1, host1, OperationWrite)),
					bind(resource1, allowEntry(user1, host1, OperationAll)),
				}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: true},
				{add: []Binding{bind(resource1, denyEntry(user1, host1, OperationAll))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
			},
		},
		{
			name: "all-host entries",
			steps: []step{
				{principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{bind(resource1, allowEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: true},
				{add: []Binding{bind(resource1, denyEntry(user1, "*", OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{bind(resource2, denyEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{principal: user1, host: host2, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{bind(resource2, allowEntry(user1, "*", OperationRead))}, principal: user1, host: host2, op: OperationRead, t: ResourceTopic, want: true},
				{add: []Binding{bind(resource2, denyEntry(user1, "*", OperationRead))}, principal: user1, host: host2, op: OperationRead, t: ResourceTopic, want: false},
			},
		},
		{
			name: "all-principal entries",
			steps: []step{
				{principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{bind(resource1, allowEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: true},
				{add: []Binding{bind(resource1, denyEntry("User:*", host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{bind(resource2, denyEntry(user1, host1, OperationRead))}, principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{principal: user2, host: host1, op: OperationRead, t: ResourceTopic, want: false},
				{add: []Binding{bind(resource2, allowEntry("User:*", host1, OperationRead))}, principal: user2, host: host1, op: OperationRead, t: ResourceTopic, want: true},
				{add: []Binding{bind(resource2, denyEntry("User:*", host1, OperationRead))}, principal: user2, host: host1, op: OperationRead, t: ResourceTopic, want: false},
			},
		},
		{
			name:   "super user has access",
			config: Config{SuperUsers: []string{"User:superuser1"}},
			steps: []step{
				{add: []Binding{
					bind(literal(ResourceTopic, "*"), denyEntry("User:*", "*", OperationAll)),
					bind(literal(ResourceGroup, "*"), denyEntry("User:*", "*", OperationAll)),
					bind(literal(ResourceTransactionalID, "*"), denyEntry("User:*", "*", OperationAll)),
				}, principal: "User:superuser1", host: "192.0.4.4", op: OperationRead, t: ResourceTopic, want: true},
				{principal: "User:superuser1", host: "192.0.4.4", op: OperationRead, t: ResourceCluster, want: true},
				{principal: "User:superuser1", host: "192.0.4.4", op: OperationRead, t: ResourceGroup, want: true},
				{principal: "User:superuser1", host: "192.0.4.4", op: OperationRead, t: ResourceTransactionalID, want: true},
				{principal: user1, host: "192.0.4.4", op: OperationRead, t: ResourceTopic, want: false},
			},
		},
		{
			name:   "no ACL found override",
			config: Config{AllowEveryoneIfNoACLFound: true},
			steps: []step{
				{principal: "User:alice", host: host1, op: OperationRead, t: ResourceTopic, want: true},
				{principal: "User:alice", host: host1, op: OperationWrite, t: ResourceTopic, want: true},
				// Kafka's first step authorizes the name "hardcode": with no ACL
				// there, allow.everyone allows even though alice is denied the
				// one topic that has ACLs.
				{add: []Binding{bind(resource1, denyEntry("User:alice", "*", OperationWrite))},
					principal: "User:alice", host: host1, op: OperationWrite, t: ResourceTopic, want: true},
				// A DENY through "*" applies to "hardcode", and to everything.
				{add: []Binding{bind(literal(ResourceTopic, "*"), denyEntry("User:alice", "*", OperationWrite))},
					principal: "User:alice", host: host1, op: OperationWrite, t: ResourceTopic, want: false},
			},
		},
		{
			name: "no implication, unlike Authorize",
			steps: []step{
				{add: []Binding{bind(resource1, allowEntry(user1, "*", OperationRead))},
					principal: user1, host: host1, op: OperationDescribe, t: ResourceTopic, want: false},
				{principal: user1, host: host1, op: OperationRead, t: ResourceTopic, want: true},
				{principal: user1, host: host1, op: OperationRead, t: ResourceGroup, want: false},
			},
		},
		{
			name: "a prefixed allow is not dominated by a literal deny of its name",
			steps: []step{
				{add: []Binding{
					bind(prefixed(ResourceTopic, "orders"), allowEntry(user1, "*", OperationWrite)),
					bind(literal(ResourceTopic, "orders"), denyEntry(user1, "*", OperationWrite)),
				}, principal: user1, host: host1, op: OperationWrite, t: ResourceTopic, want: true},
				{add: []Binding{bind(prefixed(ResourceTopic, "orders"), denyEntry(user1, "*", OperationWrite))},
					principal: user1, host: host1, op: OperationWrite, t: ResourceTopic, want: false},
			},
		},
		{
			name:   "filter arguments are denied",
			config: Config{SuperUsers: []string{"User:superuser1"}, AllowEveryoneIfNoACLFound: true},
			steps: []step{
				{principal: "User:superuser1", host: host1, op: OperationAny, t: ResourceTopic, want: false},
				{principal: "User:superuser1", host: host1, op: OperationRead, t: ResourceAny, want: false},
				{principal: "User:superuser1", host: host1, op: OperationRead, t: ResourceUnknown, want: false},
			},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			a := newAuthorizer(t, test.config)
			for i, s := range test.steps {
				a.Remove(s.remove...)
				if err := a.Add(s.add...); err != nil {
					t.Fatal(err)
				}
				d := a.AuthorizeByResourceType(s.principal, s.host, s.op, s.t)
				if d.Allowed != s.want {
					t.Errorf("step %d: %s from %s %s on some %s: allowed %v (%v), want %v",
						i, s.principal, s.host, s.op, s.t, d.Allowed, d, s.want)
				}
			}
		})
	}
}

// The ALLOW reported does not depend on map order.
func TestAuthorizeByResourceTypeDeterministic(t *testing.T) {
	var bindings []Binding
	for _, name := range []string{"m", "c", "x", "a", "q", "b"} {
		bindings = append(bindings, bind(literal(ResourceTopic, name), allowEntry("User:u", "*", OperationWrite)))
	}
	want := bindings[3] // topic "a"
	for range 20 {
		a := newAuthorizer(t, Config{}, bindings...)
		d := a.AuthorizeByResourceType("User:u", host1, OperationWrite, ResourceTopic)
		if !d.Allowed || d.Binding != want {
			t.Fatalf("got %+v, want allowed by %v", d, want)
		}
	}
}
