package acl

import (
	"fmt"
	"sync"
	"testing"
)

func newAuthorizer(t testing.TB, cfg Config, bindings ...Binding) *Authorizer {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(bindings...); err != nil {
		t.Fatal(err)
	}
	return a
}

// request is one Authorize call and its expected answer.
type request struct {
	principal string
	host      string
	op        Operation
	resource  Resource
	want      bool
}

const (
	host1 = "192.168.1.1"
	host2 = "192.168.1.2"
	local = "10.0.0.9" // the test's stand-in for InetAddress.getLocalHost
)

func bind(r Resource, e Entry) Binding { return Binding{Resource: r, Entry: e} }

// Scenarios ported from Kafka's StandardAuthorizerTest and AuthorizerTest
// (formerly AclAuthorizerTest), with Kafka's expected answers.
func TestAuthorize(t *testing.T) {
	fooPrefix := prefixed(ResourceTopic, "foo_")
	barGroup := literal(ResourceGroup, "bar")
	resource := literal(ResourceTopic, "foo-resource")
	wildcardTopic := literal(ResourceTopic, "*")
	super := Config{SuperUsers: []string{"User:superman", "User:superuser1", "User:superuser2"}}

	manyACLs := []Binding{
		bind(literal(ResourceTopic, "green2"), allowEntry("User:*", "*", OperationRead)),
		bind(prefixed(ResourceTopic, "green"), allowEntry("User:bob", "*", OperationRead)),
		bind(literal(ResourceTopic, "betamax4"), allowEntry("User:bob", "*", OperationRead)),
		bind(literal(ResourceTopic, "betamax"), allowEntry("User:bob", "*", OperationRead)),
		bind(prefixed(ResourceTopic, "beta"), allowEntry("User:*", "*", OperationRead)),
		bind(prefixed(ResourceTopic, "alpha"), allowEntry("User:*", "*", OperationRead)),
		bind(prefixed(ResourceTopic, "alp"), denyEntry("User:bob", "*", OperationRead)),
		bind(literal(ResourceGroup, "*"), allowEntry("User:bob", "*", OperationWrite)),
		bind(literal(ResourceGroup, "wheel"), denyEntry("User:*", "*", OperationWrite)),
	}

	tests := []struct {
		name     string
		config   Config
		bindings []Binding
		requests []request
	}{
		{
			name: "findResult implication: ALLOW ops that imply DESCRIBE",
			bindings: []Binding{
				bind(fooPrefix, allowEntry("User:bob", "*", OperationRead)),
			},
			requests: []request{
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "foo_bar"), true},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foo_bar"), true},
				{"User:bob", host1, OperationWrite, literal(ResourceTopic, "foo_bar"), false},
				{"User:bob", host1, OperationDescribeConfigs, literal(ResourceTopic, "foo_bar"), false},
			},
		},
		{
			name: "CREATE does not imply DESCRIBE",
			bindings: []Binding{
				bind(fooPrefix, allowEntry("User:bob", "*", OperationCreate)),
			},
			requests: []request{
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "foo_bar"), false},
				{"User:bob", host1, OperationCreate, literal(ResourceTopic, "foo_bar"), true},
			},
		},
		{
			name: "ALTER_CONFIGS implies DESCRIBE_CONFIGS, not DESCRIBE",
			bindings: []Binding{
				bind(fooPrefix, allowEntry("User:bob", "*", OperationAlterConfigs)),
			},
			requests: []request{
				{"User:bob", host1, OperationDescribeConfigs, literal(ResourceTopic, "foo_bar"), true},
				{"User:bob", host1, OperationAlterConfigs, literal(ResourceTopic, "foo_bar"), true},
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "foo_bar"), false},
			},
		},
		{
			name: "DENY does not imply: DENY READ leaves DESCRIBE to ALLOW ALL",
			bindings: []Binding{
				bind(fooPrefix, denyEntry("User:bob", "*", OperationRead)),
				bind(fooPrefix, denyEntry("User:bob", "*", OperationAlterConfigs)),
				bind(fooPrefix, allowEntry("User:bob", "*", OperationAll)),
			},
			requests: []request{
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foo_bar"), false},
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "foo_bar"), true},
				{"User:bob", host1, OperationAlterConfigs, literal(ResourceTopic, "foo_bar"), false},
				{"User:bob", host1, OperationDescribeConfigs, literal(ResourceTopic, "foo_bar"), true},
				{"User:bob", host1, OperationWrite, literal(ResourceTopic, "foo_bar"), true},
			},
		},
		{
			name: "findResult principal matching",
			bindings: []Binding{
				bind(fooPrefix, allowEntry("User:bob", "*", OperationRead)),
				bind(barGroup, denyEntry("User:*", "*", OperationRead)),
				bind(barGroup, allowEntry("User:alice", "*", OperationRead)),
			},
			requests: []request{
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foo_bar"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "foo_bar"), false},
				// The wildcard principal DENY applies to alice too and wins.
				{"User:alice", host1, OperationRead, barGroup, false},
				// User:* covers every principal type, not only User.
				{"Group:admins", host1, OperationRead, barGroup, false},
			},
		},
		{
			name: "simple authorizations",
			bindings: []Binding{
				bind(fooPrefix, allowEntry("User:bob", "*", OperationRead)),
				bind(fooPrefix, allowEntry("User:bob", "*", OperationWrite)),
				bind(barGroup, allowEntry("User:*", "*", OperationDescribeConfigs)),
				bind(barGroup, allowEntry("User:*", "*", OperationAlterConfigs)),
			},
			requests: []request{
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foo_"), true},
				{"User:fred", host1, OperationAlterConfigs, barGroup, true},
				{"User:fred", host1, OperationRead, barGroup, false},
			},
		},
		{
			name: "deny precedence with operation ALL",
			bindings: []Binding{
				bind(literal(ResourceTopic, "foo"), denyEntry("User:alice", "*", OperationAll)),
				bind(prefixed(ResourceTopic, "foo"), allowEntry("User:alice", "*", OperationRead)),
				bind(literal(ResourceTopic, "foo"), denyEntry("User:*", "*", OperationAll)),
				bind(prefixed(ResourceTopic, "foo"), allowEntry("User:*", "*", OperationDescribe)),
			},
			requests: []request{
				{"User:alice", host1, OperationWrite, literal(ResourceTopic, "foo"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:alice", host1, OperationDescribe, literal(ResourceTopic, "foo"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "foobar"), true},
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "foo"), false},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:bob", host1, OperationWrite, literal(ResourceTopic, "foo"), false},
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "foobaz"), true},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foobaz"), false},
			},
		},
		{
			name: "topic ACLs with operation ALL",
			bindings: []Binding{
				bind(literal(ResourceTopic, "foo"), allowEntry("User:*", "*", OperationAll)),
				bind(prefixed(ResourceTopic, "bar"), allowEntry("User:alice", "*", OperationAll)),
				bind(literal(ResourceTopic, "baz"), allowEntry("User:bob", "*", OperationAll)),
			},
			requests: []request{
				{"User:alice", host1, OperationWrite, literal(ResourceTopic, "foo"), true},
				{"User:alice", host1, OperationDescribeConfigs, literal(ResourceTopic, "bar"), true},
				{"User:alice", host1, OperationDescribe, literal(ResourceTopic, "baz"), false},
				{"User:bob", host1, OperationWrite, literal(ResourceTopic, "foo"), true},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "bar"), false},
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "baz"), true},
				{"User:malory", host1, OperationDescribe, literal(ResourceTopic, "foo"), true},
				{"User:malory", host1, OperationWrite, literal(ResourceTopic, "bar"), false},
				{"User:malory", host1, OperationRead, literal(ResourceTopic, "baz"), false},
			},
		},
		{
			name: "host address ACLs",
			bindings: []Binding{
				bind(literal(ResourceTopic, "foo"), denyEntry("User:alice", host1, OperationRead)),
				bind(literal(ResourceTopic, "foo"), allowEntry("User:alice", "*", OperationRead)),
				bind(literal(ResourceTopic, "bar"), allowEntry("User:bob", host2, OperationRead)),
				bind(literal(ResourceTopic, "bar"), allowEntry("User:*", local, OperationDescribe)),
			},
			requests: []request{
				{"User:alice", local, OperationRead, literal(ResourceTopic, "foo"), true},
				{"User:alice", local, OperationRead, literal(ResourceTopic, "bar"), false},
				{"User:alice", local, OperationDescribe, literal(ResourceTopic, "bar"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "bar"), false},
				{"User:alice", host1, OperationDescribe, literal(ResourceTopic, "bar"), false},
				{"User:alice", host2, OperationRead, literal(ResourceTopic, "foo"), true},
				{"User:alice", host2, OperationRead, literal(ResourceTopic, "bar"), false},
				{"User:alice", host2, OperationDescribe, literal(ResourceTopic, "bar"), false},
				{"User:bob", local, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:bob", local, OperationRead, literal(ResourceTopic, "bar"), false},
				{"User:bob", local, OperationDescribe, literal(ResourceTopic, "bar"), true},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "bar"), false},
				{"User:bob", host1, OperationDescribe, literal(ResourceTopic, "bar"), false},
				{"User:bob", host2, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:bob", host2, OperationRead, literal(ResourceTopic, "bar"), true},
				{"User:bob", host2, OperationDescribe, literal(ResourceTopic, "bar"), true},
			},
		},
		{
			name:     "many ACLs",
			bindings: manyACLs,
			requests: []request{
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "green1"), true},
				{"User:bob", host1, OperationWrite, literal(ResourceGroup, "wheel"), false},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "alpha"), false},
				{"User:bob", host1, OperationWrite, literal(ResourceGroup, "arbitrary"), true},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "ala"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "alpha"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "betamax4"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "green1"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "green2"), true},
			},
		},
		{
			name: "prefix ACLs",
			bindings: []Binding{
				bind(prefixed(ResourceTopic, "fooa"), allowEntry("User:alice", "*", OperationAll)),
				bind(literal(ResourceTopic, "foobar"), allowEntry("User:bob", "*", OperationAll)),
				bind(prefixed(ResourceTopic, "f"), allowEntry("User:bob", "*", OperationAll)),
			},
			requests: []request{
				{"User:bob", host1, OperationWrite, literal(ResourceTopic, "foobarr"), true},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "goobar"), false},
				{"User:bob", host1, OperationRead, literal(ResourceTopic, "fooa"), true},
				{"User:alice", host1, OperationDescribe, literal(ResourceTopic, "fooa"), true},
				{"User:alice", host1, OperationWrite, literal(ResourceTopic, "bar"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "baz"), false},
			},
		},
		{
			name:   "allow.everyone.if.no.acl.found enabled",
			config: Config{SuperUsers: []string{"User:alice", "User:chris"}, AllowEveryoneIfNoACLFound: true},
			bindings: []Binding{
				bind(literal(ResourceTopic, "topic1"), allowEntry("User:Alice", "*", OperationRead)),
			},
			requests: []request{
				{"User:Bob", host1, OperationRead, literal(ResourceTopic, "topic1"), false},
				{"User:Bob", host1, OperationRead, literal(ResourceTopic, "topic2"), true},
				// The ACL's principal is User:Alice; the super user is User:alice.
				{"User:alice", host1, OperationWrite, literal(ResourceTopic, "topic1"), true},
				{"User:Alice", host1, OperationWrite, literal(ResourceTopic, "topic1"), false},
			},
		},
		{
			name:   "allow.everyone.if.no.acl.found disabled",
			config: Config{SuperUsers: []string{"User:alice", "User:chris"}},
			bindings: []Binding{
				bind(literal(ResourceTopic, "topic1"), allowEntry("User:Alice", "*", OperationRead)),
			},
			requests: []request{
				{"User:Bob", host1, OperationRead, literal(ResourceTopic, "topic1"), false},
				{"User:Bob", host1, OperationRead, literal(ResourceTopic, "topic2"), false},
			},
		},
		{
			name: "topic ACL (AuthorizerTest.testTopicAcl)",
			bindings: []Binding{
				bind(resource, allowEntry("User:alice", host1, OperationRead)),
				bind(resource, allowEntry("User:alice", host2, OperationRead)),
				bind(resource, denyEntry("User:alice", host1, OperationRead)),
				bind(resource, allowEntry("User:alice", host1, OperationWrite)),
				bind(resource, allowEntry("User:alice", "*", OperationDescribe)),
				bind(resource, allowEntry("User:rob", "*", OperationRead)),
				bind(resource, allowEntry("User:batman", "*", OperationWrite)),
			},
			requests: []request{
				{"User:alice", host2, OperationRead, resource, true},
				{"User:alice", host1, OperationRead, resource, false},
				{"User:alice", host1, OperationWrite, resource, true},
				{"User:alice", host2, OperationWrite, resource, false},
				{"User:alice", host1, OperationDescribe, resource, true},
				{"User:alice", host2, OperationDescribe, resource, true},
				{"User:alice", host1, OperationAlter, resource, false},
				{"User:alice", host2, OperationAlter, resource, false},
				{"User:rob", host1, OperationDescribe, resource, true},
				{"User:batman", host1, OperationDescribe, resource, true},
				{"User:rob", host1, OperationRead, resource, true},
				{"User:batman", host1, OperationWrite, resource, true},
			},
		},
		{
			name: "deny takes precedence",
			bindings: []Binding{
				bind(resource, allowEntry("User:*", "*", OperationAll)),
				bind(resource, denyEntry("User:alice", "192.168.2.1", OperationAll)),
			},
			requests: []request{
				{"User:alice", "192.168.2.1", OperationRead, resource, false},
				{"User:alice", host1, OperationRead, resource, true},
				{"User:random", "192.168.2.1", OperationRead, resource, true},
			},
		},
		{
			name:     "allow all access",
			bindings: []Binding{bind(resource, allowEntry("User:*", "*", OperationAll))},
			requests: []request{{"User:random", "192.0.4.4", OperationRead, resource, true}},
		},
		{
			name:     "super users have access whatever the ACLs",
			config:   super,
			bindings: []Binding{bind(resource, denyEntry("User:*", "*", OperationAll))},
			requests: []request{
				{"User:superuser1", "192.0.4.4", OperationRead, resource, true},
				{"User:superuser2", "192.0.4.4", OperationRead, resource, true},
				{"User:superuser1", "192.0.4.4", OperationAlter, literal(ResourceCluster, ClusterName), true},
				// Principal type and name both count: Group:superuser1 is not a super user.
				{"Group:superuser1", "192.0.4.4", OperationRead, resource, false},
				{"User:random", "192.0.4.4", OperationRead, resource, false},
			},
		},
		{
			name: "wildcard resource ACLs",
			bindings: []Binding{
				bind(wildcardTopic, allowEntry("User:alice", "192.168.3.1", OperationRead)),
				bind(resource, allowEntry("User:alice", "192.168.3.1", OperationWrite)),
				bind(wildcardTopic, denyEntry("User:alice", "192.168.3.1", OperationWrite)),
			},
			requests: []request{
				{"User:alice", "192.168.3.1", OperationRead, resource, true},
				{"User:alice", "192.168.3.1", OperationWrite, resource, false},
				{"User:alice", "192.168.3.1", OperationRead, literal(ResourceTopic, "other"), true},
				{"User:alice", "192.168.3.1", OperationRead, literal(ResourceGroup, "other"), false},
			},
		},
		{
			name:     "no ACL found denies by default",
			requests: []request{{"User:alice", host1, OperationRead, resource, false}},
		},
		{
			name:     "no ACL found allowed when configured",
			config:   Config{AllowEveryoneIfNoACLFound: true},
			requests: []request{{"User:alice", host1, OperationRead, resource, true}},
		},
		{
			name: "ACLs of another resource type do not apply",
			bindings: []Binding{
				bind(literal(ResourceGroup, "foo-resource"), denyEntry("User:*", "*", OperationAll)),
			},
			config:   Config{AllowEveryoneIfNoACLFound: true},
			requests: []request{{"User:alice", host1, OperationRead, resource, true}},
		},
		{
			name:     "allow on wildcard resource",
			bindings: []Binding{bind(wildcardTopic, allowEntry("User:alice", "*", OperationRead))},
			requests: []request{{"User:alice", "192.168.0.1", OperationRead, resource, true}},
		},
		{
			name:     "allow on prefixed resource",
			bindings: []Binding{bind(prefixed(ResourceTopic, "foo"), allowEntry("User:alice", "*", OperationRead))},
			requests: []request{{"User:alice", "192.168.0.1", OperationRead, resource, true}},
		},
		{
			name: "authorize with prefixed resource among unrelated denies",
			bindings: []Binding{
				bind(literal(ResourceTopic, "a_other"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "a_other"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "foo-4b1e"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "foo-9c2f"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "foo-77aa-zzz"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "fooo-1234"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "fo-1234"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "fop-1234"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "fon-1234"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "fon-"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "z_other"), denyEntry("User:alice", "*", OperationRead)),
				bind(literal(ResourceTopic, "z_other"), denyEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "foo"), allowEntry("User:alice", "*", OperationRead)),
			},
			requests: []request{
				{"User:alice", "192.168.0.1", OperationRead, literal(ResourceTopic, "foo-0d3a"), true},
				{"User:alice", "192.168.0.1", OperationRead, literal(ResourceTopic, "foo-4b1e-1"), false},
				{"User:alice", "192.168.0.1", OperationRead, literal(ResourceTopic, "fon-"), false},
			},
		},
		{
			name: "single character resource ACLs",
			bindings: []Binding{
				bind(literal(ResourceTopic, "f"), allowEntry("User:alice", "*", OperationRead)),
				bind(prefixed(ResourceTopic, "_"), allowEntry("User:alice", "*", OperationRead)),
			},
			requests: []request{
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "f"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "foo"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "_foo"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "_"), true},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "foo_"), false},
			},
		},
		{
			name:     "empty resource name is matched by the wildcard",
			bindings: []Binding{bind(literal(ResourceGroup, "*"), allowEntry("User:alice", "*", OperationRead))},
			requests: []request{
				{"User:alice", host1, OperationRead, literal(ResourceGroup, ""), true},
				{"User:bob", host1, OperationRead, literal(ResourceGroup, ""), false},
			},
		},
		{
			name:     "a PREFIXED * matches only names starting with *",
			config:   Config{AllowEveryoneIfNoACLFound: true},
			bindings: []Binding{bind(prefixed(ResourceTopic, "*"), denyEntry("User:*", "*", OperationRead))},
			requests: []request{
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "*x"), false},
				{"User:alice", host1, OperationRead, literal(ResourceTopic, "x"), true},
			},
		},
		{
			name:     "a zero pattern type is taken as LITERAL",
			bindings: []Binding{bind(resource, allowEntry("User:alice", "*", OperationRead))},
			requests: []request{
				{"User:alice", host1, OperationRead, Resource{Type: ResourceTopic, Name: resource.Name}, true},
			},
		},
		{
			name:     "non-literal resources are refused",
			config:   Config{SuperUsers: []string{"User:admin"}, AllowEveryoneIfNoACLFound: true},
			bindings: []Binding{bind(prefixed(ResourceTopic, "foo"), allowEntry("User:alice", "*", OperationRead))},
			requests: []request{
				{"User:alice", host1, OperationRead, prefixed(ResourceTopic, "foo"), false},
				{"User:admin", host1, OperationRead, prefixed(ResourceTopic, "foo"), false},
				{"User:alice", host1, OperationRead, Resource{Type: ResourceTopic, Name: "foo", PatternType: PatternMatch}, false},
			},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			a := newAuthorizer(t, test.config, test.bindings...)
			for _, r := range test.requests {
				d := a.Authorize(r.principal, r.host, r.op, r.resource)
				if d.Allowed != r.want {
					t.Errorf("%s from %s %s %s: allowed %v (%v), want %v",
						r.principal, r.host, r.op, r.resource, d.Allowed, d, r.want)
				}
			}
		})
	}
}

// Ported from AuthorizerTest.testAclInheritance: what an ALLOW or a DENY of
// one operation on the cluster means for every other operation.
func TestOperationImplications(t *testing.T) {
	cluster := literal(ResourceCluster, ClusterName)
	every := []Operation{}
	for op := OperationRead; op <= OperationTwoPhaseCommit; op++ {
		every = append(every, op)
	}
	tests := []struct {
		permission Permission
		op         Operation
		implied    []Operation // besides op itself
	}{
		{PermissionAllow, OperationAll, every},
		{PermissionDeny, OperationAll, every},
		{PermissionAllow, OperationRead, []Operation{OperationDescribe}},
		{PermissionAllow, OperationWrite, []Operation{OperationDescribe}},
		{PermissionAllow, OperationDelete, []Operation{OperationDescribe}},
		{PermissionAllow, OperationAlter, []Operation{OperationDescribe}},
		{PermissionAllow, OperationAlterConfigs, []Operation{OperationDescribeConfigs}},
		{PermissionAllow, OperationCreate, nil},
		{PermissionAllow, OperationDescribe, nil},
		{PermissionAllow, OperationIdempotentWrite, nil},
		{PermissionDeny, OperationRead, nil},
		{PermissionDeny, OperationAlter, nil},
		{PermissionDeny, OperationDescribe, nil},
		{PermissionDeny, OperationAlterConfigs, nil},
		{PermissionDeny, OperationDescribeConfigs, nil},
	}
	for _, test := range tests {
		entry := Entry{Principal: "User:alice", Host: "*", Operation: test.op, Permission: test.permission}
		bindings := []Binding{bind(cluster, entry)}
		if test.permission == PermissionDeny {
			// As Kafka's testImplicationsOfDeny: everything else is allowed.
			bindings = append(bindings, bind(cluster, allowEntry("User:alice", "*", OperationAll)))
		}
		a := newAuthorizer(t, Config{}, bindings...)
		for _, op := range every {
			affected := op == test.op
			for _, implied := range test.implied {
				affected = affected || implied == op
			}
			want := affected == (test.permission == PermissionAllow)
			if got := a.Authorize("User:alice", "192.168.3.1", op, cluster).Allowed; got != want {
				t.Errorf("%s %s: %s allowed %v, want %v", test.permission, test.op, op, got, want)
			}
		}
	}
}

// The rule named by a decision is Kafka's audit log's ("based on rule …"),
// from StandardAuthorizerTest.testDenyAuditLogging and testAllowAuditLogging.
func TestDecisionRule(t *testing.T) {
	a := newAuthorizer(t, Config{SuperUsers: []string{"User:superman"}},
		bind(prefixed(ResourceTopic, "green"), allowEntry("User:bob", "*", OperationRead)),
		bind(prefixed(ResourceTopic, "alpha"), allowEntry("User:*", "*", OperationRead)),
		bind(prefixed(ResourceTopic, "alp"), denyEntry("User:bob", "*", OperationRead)),
	)
	tests := []struct {
		principal string
		resource  Resource
		want      Decision
		text      string
	}{
		{"User:bob", literal(ResourceTopic, "alpha"),
			Decision{Rule: RuleMatchingACL, Binding: bind(prefixed(ResourceTopic, "alp"), denyEntry("User:bob", "*", OperationRead))},
			"MatchingAcl(acl=StandardAcl(resourceType=TOPIC, resourceName=alp, patternType=PREFIXED, " +
				"principal=User:bob, host=*, operation=READ, permissionType=DENY))"},
		{"User:bob", literal(ResourceTopic, "green1"),
			Decision{Allowed: true, Rule: RuleMatchingACL, Binding: bind(prefixed(ResourceTopic, "green"), allowEntry("User:bob", "*", OperationRead))},
			"MatchingAcl(acl=StandardAcl(resourceType=TOPIC, resourceName=green, patternType=PREFIXED, " +
				"principal=User:bob, host=*, operation=READ, permissionType=ALLOW))"},
		{"User:superman", literal(ResourceTopic, "alpha"), Decision{Allowed: true, Rule: RuleSuperUser}, "SuperUser"},
		{"User:alice", literal(ResourceTopic, "green1"), Decision{Rule: RuleNoMatchingACL}, "DefaultDeny"},
		{"User:alice", literal(ResourceTopic, "red"), Decision{Rule: RuleNoACLs}, "DefaultDeny"},
	}
	for _, test := range tests {
		got := a.Authorize(test.principal, "127.0.0.1", OperationRead, test.resource)
		if got != test.want || got.String() != test.text {
			t.Errorf("%s %s:\n got  %+v %s\n want %+v %s", test.principal, test.resource, got, got, test.want, test.text)
		}
	}
	allowAll := newAuthorizer(t, Config{AllowEveryoneIfNoACLFound: true})
	if d := allowAll.Authorize("User:x", "h", OperationRead, literal(ResourceTopic, "t")); d.String() != "DefaultAllow" || d.Rule != RuleNoACLs {
		t.Errorf("no ACLs with allow.everyone: %+v %s", d, d)
	}
}

// Removing the last ACL of a resource gives the resource back to
// allow.everyone.if.no.acl.found; duplicates are held once.
func TestAddRemove(t *testing.T) {
	topic := literal(ResourceTopic, "orders")
	readAlice := bind(topic, allowEntry("User:alice", "*", OperationRead))
	readBob := bind(topic, allowEntry("User:bob", "*", OperationRead))
	prefix := bind(prefixed(ResourceTopic, "ord"), denyEntry("User:carol", "*", OperationRead))
	a := newAuthorizer(t, Config{AllowEveryoneIfNoACLFound: true})
	carol := func() bool { return a.Authorize("User:carol", host1, OperationRead, topic).Allowed }

	if !carol() {
		t.Fatal("no ACLs: carol denied")
	}
	if err := a.Add(readAlice, readAlice, readBob); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 2 || !a.Contains(readAlice) || !a.Contains(readBob) || a.Contains(prefix) {
		t.Fatalf("Len %d after adding a duplicate", a.Len())
	}
	if carol() {
		t.Fatal("ACLs on the topic: carol allowed")
	}
	if n := a.Remove(readAlice, readAlice); n != 1 {
		t.Fatalf("Remove of a binding twice removed %d", n)
	}
	if carol() {
		t.Fatal("one ACL left: carol allowed")
	}
	if n := a.Remove(readBob); n != 1 || !carol() {
		t.Fatalf("last ACL removed (%d): carol denied", n)
	}
	if err := a.Add(prefix); err != nil || carol() {
		t.Fatalf("prefixed DENY: carol allowed (%v)", err)
	}
	if n := a.Remove(prefix); n != 1 || !carol() || a.Len() != 0 {
		t.Fatalf("prefixed DENY removed (%d): carol denied, Len %d", n, a.Len())
	}
	// Nor does a removed PREFIXED name leave its length to be looked up.
	if lengths := a.index.types[ResourceTopic].prefixLengths; len(lengths) != 0 {
		t.Fatalf("prefix lengths %v left after the last PREFIXED ACL went", lengths)
	}

	// An invalid binding adds nothing, not even the valid ones beside it.
	bad := bind(literal(ResourceCluster, "nope"), allowEntry("User:alice", "*", OperationAlter))
	if err := a.Add(readAlice, bad); err == nil || a.Len() != 0 {
		t.Fatalf("Add with an invalid binding: %v, Len %d", err, a.Len())
	}

	// Replace swaps the whole set, or keeps it on error.
	if err := a.Replace([]Binding{readBob, prefix}); err != nil || a.Len() != 2 || a.Contains(readAlice) {
		t.Fatalf("Replace: %v, Len %d", err, a.Len())
	}
	if err := a.Replace([]Binding{readAlice, bad}); err == nil || a.Len() != 2 || !a.Contains(readBob) {
		t.Fatalf("Replace with an invalid binding: %v, Len %d", err, a.Len())
	}
}

// Readers run while a writer adds and removes; -race checks the locking and
// each answer must be one of the two states the writer moves between.
func TestConcurrentReaders(t *testing.T) {
	a := newAuthorizer(t, Config{})
	topic := literal(ResourceTopic, "orders")
	for i := range 100 {
		if err := a.Add(bind(prefixed(ResourceTopic, fmt.Sprintf("other-%d", i)), allowEntry("User:*", "*", OperationRead))); err != nil {
			t.Fatal(err)
		}
	}
	flip := bind(prefixed(ResourceTopic, "ord"), allowEntry("User:alice", "*", OperationRead))
	deny := bind(topic, denyEntry("User:bob", "*", OperationRead))
	if err := a.Add(deny); err != nil {
		t.Fatal(err)
	}

	var readers sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 8 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if a.Authorize("User:bob", host1, OperationRead, topic).Allowed {
					errs <- fmt.Errorf("bob allowed despite the DENY")
					return
				}
				a.Authorize("User:alice", host1, OperationRead, topic)
				a.AuthorizeByResourceType("User:alice", host1, OperationRead, ResourceTopic)
				a.Bindings(MatchAll)
			}
		}()
	}
	for range 2000 {
		if err := a.Add(flip); err != nil {
			t.Fatal(err)
		}
		a.Remove(flip)
	}
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
