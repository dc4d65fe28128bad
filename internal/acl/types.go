package acl

import (
	"fmt"
	"strings"
)

// The four enums below carry Kafka's wire codes (the same numbers as
// kmsg.ACLResourceType, kmsg.ACLResourcePatternType, kmsg.ACLOperation and
// kmsg.ACLPermissionType), so a request field converts with a plain type
// conversion: acl.Operation(creation.Operation). A code Kafka does not know
// is treated as UNKNOWN, as Kafka's fromCode does.

// ResourceType is the kind of thing an ACL protects.
type ResourceType int8

const (
	ResourceUnknown         ResourceType = 0
	ResourceAny             ResourceType = 1 // filters only
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4 // the one name is ClusterName
	ResourceTransactionalID ResourceType = 5
	ResourceDelegationToken ResourceType = 6
	ResourceUser            ResourceType = 7
)

var resourceTypeNames = [...]string{"UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"}

// String is Kafka's enum name: TOPIC, TRANSACTIONAL_ID, …
func (t ResourceType) String() string { return enumName(resourceTypeNames[:], int(t)) }

// PascalCase is the name Kafka's audit log and kafka-acls print: Topic,
// TransactionalId, …
func (t ResourceType) PascalCase() string { return pascalCase(t.String()) }

// IsUnknown reports whether Kafka would read the code as UNKNOWN.
func (t ResourceType) IsUnknown() bool { return t <= 0 || int(t) >= len(resourceTypeNames) }

// ParseResourceType reads a resource type the way people type it: any case,
// with or without underscores, dashes or dots — "topic", "Topic",
// "TRANSACTIONAL_ID", "transactional-id" and "TransactionalId" are all
// accepted, a superset of what Kafka's SecurityUtils.resourceType and the
// kafka-acls flags take. "any" parses (it is meaningful in filters); an
// unrecognised name is an error, never UNKNOWN.
func ParseResourceType(s string) (ResourceType, error) {
	v, err := parseEnum("resource type", resourceTypeNames[:], s)
	return ResourceType(v), err
}

// PatternType says how an ACL's resource name matches resource names.
type PatternType int8

const (
	PatternUnknown  PatternType = 0
	PatternAny      PatternType = 1 // filters only: any pattern type, exact name
	PatternMatch    PatternType = 2 // filters only: every pattern that would match the name
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

var patternTypeNames = [...]string{"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"}

// String is Kafka's enum name: LITERAL, PREFIXED, …
func (p PatternType) String() string { return enumName(patternTypeNames[:], int(p)) }

// IsUnknown reports whether Kafka would read the code as UNKNOWN.
func (p PatternType) IsUnknown() bool { return p <= 0 || int(p) >= len(patternTypeNames) }

// ParsePatternType reads "literal", "Prefixed", "ANY", "match", … in any case.
func ParsePatternType(s string) (PatternType, error) {
	v, err := parseEnum("pattern type", patternTypeNames[:], s)
	return PatternType(v), err
}

// Operation is what a principal asks to do to a resource.
type Operation int8

const (
	OperationUnknown         Operation = 0
	OperationAny             Operation = 1 // filters only
	OperationAll             Operation = 2 // in an ACL, every operation
	OperationRead            Operation = 3
	OperationWrite           Operation = 4
	OperationCreate          Operation = 5
	OperationDelete          Operation = 6
	OperationAlter           Operation = 7
	OperationDescribe        Operation = 8
	OperationClusterAction   Operation = 9
	OperationDescribeConfigs Operation = 10
	OperationAlterConfigs    Operation = 11
	OperationIdempotentWrite Operation = 12
	OperationCreateTokens    Operation = 13
	OperationDescribeTokens  Operation = 14
	OperationTwoPhaseCommit  Operation = 15 // KIP-939, Kafka 4.0
)

var operationNames = [...]string{
	"UNKNOWN", "ANY", "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
	"CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
	"CREATE_TOKENS", "DESCRIBE_TOKENS", "TWO_PHASE_COMMIT",
}

// String is Kafka's enum name: READ, DESCRIBE_CONFIGS, …
func (o Operation) String() string { return enumName(operationNames[:], int(o)) }

// PascalCase is the name kafka-acls prints: Read, DescribeConfigs, …
func (o Operation) PascalCase() string { return pascalCase(o.String()) }

// IsUnknown reports whether Kafka would read the code as UNKNOWN.
func (o Operation) IsUnknown() bool { return o <= 0 || int(o) >= len(operationNames) }

// ParseOperation reads "Read", "read", "READ", "describe-configs",
// "DescribeConfigs", "DESCRIBE_CONFIGS", … ; "any" and "all" parse.
func ParseOperation(s string) (Operation, error) {
	v, err := parseEnum("operation", operationNames[:], s)
	return Operation(v), err
}

// Permission is whether an ACL allows or denies.
type Permission int8

const (
	PermissionUnknown Permission = 0
	PermissionAny     Permission = 1 // filters only
	PermissionDeny    Permission = 2
	PermissionAllow   Permission = 3
)

var permissionNames = [...]string{"UNKNOWN", "ANY", "DENY", "ALLOW"}

// String is Kafka's enum name: ALLOW or DENY (or ANY, UNKNOWN).
func (p Permission) String() string { return enumName(permissionNames[:], int(p)) }

// IsUnknown reports whether Kafka would read the code as UNKNOWN.
func (p Permission) IsUnknown() bool { return p <= 0 || int(p) >= len(permissionNames) }

// ParsePermission reads "allow", "Deny", "ANY", … in any case.
func ParsePermission(s string) (Permission, error) {
	v, err := parseEnum("permission type", permissionNames[:], s)
	return Permission(v), err
}

func enumName(names []string, code int) string {
	if code <= 0 || code >= len(names) {
		return names[0]
	}
	return names[code]
}

// parseEnum never returns code 0 (UNKNOWN): a name nobody recognises is a
// mistake to report, not a value to store.
func parseEnum(what string, names []string, s string) (int, error) {
	want := normalizeName(s)
	for code := 1; code < len(names); code++ {
		if normalizeName(names[code]) == want {
			return code, nil
		}
	}
	return 0, fmt.Errorf("acl: unknown %s %q", what, s)
}

// normalizeName folds the spellings of one name together: case, and the
// separators people put between words.
func normalizeName(s string) string {
	var b strings.Builder
	for _, c := range strings.TrimSpace(s) {
		switch c {
		case '_', '-', '.', ' ':
			continue
		}
		b.WriteString(strings.ToLower(string(c)))
	}
	return b.String()
}

// pascalCase is Kafka's SecurityUtils.toPascalCase: DESCRIBE_CONFIGS becomes
// DescribeConfigs.
func pascalCase(name string) string {
	var b strings.Builder
	upper := true
	for _, c := range name {
		if c == '_' {
			upper = true
			continue
		}
		if upper {
			b.WriteString(strings.ToUpper(string(c)))
			upper = false
		} else {
			b.WriteString(strings.ToLower(string(c)))
		}
	}
	return b.String()
}
