package acl

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseNames(t *testing.T) {
	tests := []struct {
		parse func(string) (int8, error)
		input string
		want  int8
	}{
		{parseOp, "Read", int8(OperationRead)},
		{parseOp, "read", int8(OperationRead)},
		{parseOp, "READ", int8(OperationRead)},
		{parseOp, " Write ", int8(OperationWrite)},
		{parseOp, "DescribeConfigs", int8(OperationDescribeConfigs)},
		{parseOp, "describe-configs", int8(OperationDescribeConfigs)},
		{parseOp, "DESCRIBE_CONFIGS", int8(OperationDescribeConfigs)},
		{parseOp, "IdempotentWrite", int8(OperationIdempotentWrite)},
		{parseOp, "ClusterAction", int8(OperationClusterAction)},
		{parseOp, "two-phase-commit", int8(OperationTwoPhaseCommit)},
		{parseOp, "All", int8(OperationAll)},
		{parseOp, "any", int8(OperationAny)},
		{parsePermission, "Allow", int8(PermissionAllow)},
		{parsePermission, "DENY", int8(PermissionDeny)},
		{parsePermission, "any", int8(PermissionAny)},
		{parseResourceType, "topic", int8(ResourceTopic)},
		{parseResourceType, "Group", int8(ResourceGroup)},
		{parseResourceType, "CLUSTER", int8(ResourceCluster)},
		{parseResourceType, "transactional-id", int8(ResourceTransactionalID)},
		{parseResourceType, "TransactionalId", int8(ResourceTransactionalID)},
		{parseResourceType, "TRANSACTIONAL_ID", int8(ResourceTransactionalID)},
		{parseResourceType, "delegation-token", int8(ResourceDelegationToken)},
		{parseResourceType, "User", int8(ResourceUser)},
		{parsePattern, "Literal", int8(PatternLiteral)},
		{parsePattern, "prefixed", int8(PatternPrefixed)},
		{parsePattern, "MATCH", int8(PatternMatch)},
		{parsePattern, "Any", int8(PatternAny)},
	}
	for _, test := range tests {
		got, err := test.parse(test.input)
		if err != nil || got != test.want {
			t.Errorf("parse %q = %d, %v; want %d", test.input, got, err, test.want)
		}
	}

	for _, bad := range []string{"", "unknown", "UNKNOWN", "reed", "topics", "read write"} {
		for _, parse := range []func(string) (int8, error){parseOp, parsePermission, parseResourceType, parsePattern} {
			if got, err := parse(bad); err == nil {
				t.Errorf("parse %q = %d, want an error", bad, got)
			}
		}
	}
}

func parseOp(s string) (int8, error)           { v, err := ParseOperation(s); return int8(v), err }
func parsePermission(s string) (int8, error)   { v, err := ParsePermission(s); return int8(v), err }
func parseResourceType(s string) (int8, error) { v, err := ParseResourceType(s); return int8(v), err }
func parsePattern(s string) (int8, error)      { v, err := ParsePatternType(s); return int8(v), err }

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{OperationDescribeConfigs.String(), "DESCRIBE_CONFIGS"},
		{OperationDescribeConfigs.PascalCase(), "DescribeConfigs"},
		{OperationTwoPhaseCommit.String(), "TWO_PHASE_COMMIT"},
		{Operation(99).String(), "UNKNOWN"},
		{ResourceTransactionalID.String(), "TRANSACTIONAL_ID"},
		{ResourceTransactionalID.PascalCase(), "TransactionalId"},
		{ResourceTopic.PascalCase(), "Topic"},
		{ResourceType(-3).String(), "UNKNOWN"},
		{PatternPrefixed.String(), "PREFIXED"},
		{PermissionAllow.String(), "ALLOW"},
	}
	for _, test := range tests {
		if test.got != test.want {
			t.Errorf("got %q, want %q", test.got, test.want)
		}
	}
	// Every name parses back to its own code.
	for op := OperationAny; op <= OperationTwoPhaseCommit; op++ {
		for _, name := range []string{op.String(), op.PascalCase()} {
			if got, err := ParseOperation(name); err != nil || got != op {
				t.Errorf("ParseOperation(%q) = %v, %v; want %v", name, got, err, op)
			}
		}
	}
	for rt := ResourceAny; rt <= ResourceUser; rt++ {
		if got, err := ParseResourceType(rt.PascalCase()); err != nil || got != rt {
			t.Errorf("ParseResourceType(%q) = %v, %v; want %v", rt.PascalCase(), got, err, rt)
		}
	}
}

// The enums are meant to convert from and to kmsg's by a type conversion.
func TestCodesMatchKmsg(t *testing.T) {
	pairs := []struct{ ours, theirs int8 }{
		{int8(ResourceAny), int8(kmsg.ACLResourceTypeAny)},
		{int8(ResourceTopic), int8(kmsg.ACLResourceTypeTopic)},
		{int8(ResourceGroup), int8(kmsg.ACLResourceTypeGroup)},
		{int8(ResourceCluster), int8(kmsg.ACLResourceTypeCluster)},
		{int8(ResourceTransactionalID), int8(kmsg.ACLResourceTypeTransactionalId)},
		{int8(ResourceDelegationToken), int8(kmsg.ACLResourceTypeDelegationToken)},
		{int8(ResourceUser), int8(kmsg.ACLResourceTypeUser)},
		{int8(PatternAny), int8(kmsg.ACLResourcePatternTypeAny)},
		{int8(PatternMatch), int8(kmsg.ACLResourcePatternTypeMatch)},
		{int8(PatternLiteral), int8(kmsg.ACLResourcePatternTypeLiteral)},
		{int8(PatternPrefixed), int8(kmsg.ACLResourcePatternTypePrefixed)},
		{int8(PermissionAny), int8(kmsg.ACLPermissionTypeAny)},
		{int8(PermissionDeny), int8(kmsg.ACLPermissionTypeDeny)},
		{int8(PermissionAllow), int8(kmsg.ACLPermissionTypeAllow)},
		{int8(OperationAll), int8(kmsg.ACLOperationAll)},
		{int8(OperationRead), int8(kmsg.ACLOperationRead)},
		{int8(OperationDescribe), int8(kmsg.ACLOperationDescribe)},
		{int8(OperationAlterConfigs), int8(kmsg.ACLOperationAlterConfigs)},
		{int8(OperationIdempotentWrite), int8(kmsg.ACLOperationIdempotentWrite)},
		{int8(OperationDescribeTokens), int8(kmsg.ACLOperationDescribeTokens)},
	}
	for _, p := range pairs {
		if p.ours != p.theirs {
			t.Errorf("code %d, kmsg has %d", p.ours, p.theirs)
		}
	}
}
