package acl

import "strings"

// ResourceFilter is Kafka's ResourcePatternFilter. A nil Name matches
// every name. PatternType selects how Name is compared:
//   - ANY: patterns of every type whose name equals Name;
//   - MATCH: the patterns that would match a resource called Name — the
//     LITERAL pattern of that name, the LITERAL wildcard "*", and every
//     PREFIXED pattern that is a prefix of Name;
//   - LITERAL or PREFIXED: patterns of that type whose name equals Name.
//
// A Type of ANY matches every resource type.
type ResourceFilter struct {
	Type        ResourceType
	Name        *string
	PatternType PatternType
}

// Matches is Kafka's ResourcePatternFilter.matches.
func (f ResourceFilter) Matches(r Resource) bool {
	if f.Type != ResourceAny && f.Type != r.Type {
		return false
	}
	if f.PatternType != PatternAny && f.PatternType != PatternMatch && f.PatternType != r.PatternType {
		return false
	}
	if f.Name == nil {
		return true
	}
	name := *f.Name
	if f.PatternType == PatternAny || f.PatternType == r.PatternType {
		return name == r.Name
	}
	// Only MATCH is left.
	switch r.PatternType {
	case PatternLiteral:
		return name == r.Name || r.Name == Wildcard
	case PatternPrefixed:
		return strings.HasPrefix(name, r.Name)
	default:
		return false
	}
}

// String is Kafka's ResourcePatternFilter.toString, "<any>" for a nil name.
func (f ResourceFilter) String() string {
	return "ResourcePattern(resourceType=" + f.Type.String() + ", name=" + orAny(f.Name) +
		", patternType=" + f.PatternType.String() + ")"
}

// EntryFilter is Kafka's AccessControlEntryFilter: a nil Principal or Host
// matches every principal or host, ANY operation or permission every one.
// The comparison is exact: a filter for User:alice does not return the
// User:* entries that would apply to alice.
type EntryFilter struct {
	Principal  *string
	Host       *string
	Operation  Operation
	Permission Permission
}

// Matches is Kafka's AccessControlEntryFilter.matches.
func (f EntryFilter) Matches(e Entry) bool {
	if f.Principal != nil && *f.Principal != e.Principal {
		return false
	}
	if f.Host != nil && *f.Host != e.Host {
		return false
	}
	if f.Operation != OperationAny && f.Operation != e.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != e.Permission {
		return false
	}
	return true
}

// String is Kafka's AccessControlEntryFilter.toString.
func (f EntryFilter) String() string {
	return "(principal=" + orAny(f.Principal) + ", host=" + orAny(f.Host) + ", operation=" +
		f.Operation.String() + ", permissionType=" + f.Permission.String() + ")"
}

// Filter is Kafka's AclBindingFilter, the selector of DescribeAcls and of
// each DeleteAcls filter.
type Filter struct {
	Resource ResourceFilter
	Entry    EntryFilter
}

// MatchAll is the filter that matches every binding (AclBindingFilter.ANY).
var MatchAll = Filter{
	Resource: ResourceFilter{Type: ResourceAny, PatternType: PatternAny},
	Entry:    EntryFilter{Operation: OperationAny, Permission: PermissionAny},
}

// Matches is Kafka's AclBindingFilter.matches.
func (f Filter) Matches(b Binding) bool {
	return f.Resource.Matches(b.Resource) && f.Entry.Matches(b.Entry)
}

// String is Kafka's AclBindingFilter.toString.
func (f Filter) String() string {
	return "(patternFilter=" + f.Resource.String() + ", entryFilter=" + f.Entry.String() + ")"
}

// Validate refuses a filter with an UNKNOWN element with INVALID_REQUEST,
// as Kafka's AclControlManager.validateFilter does for DeleteAcls (and
// DescribeAclsRequest does for DescribeAcls): an unknown code could only
// come from a newer client, and guessing what it meant could delete too
// much.
func (f Filter) Validate() error {
	if f.Resource.Type.IsUnknown() || f.Resource.PatternType.IsUnknown() {
		return invalidRequest("Unknown patternFilter.")
	}
	if f.Entry.Operation.IsUnknown() || f.Entry.Permission.IsUnknown() {
		return invalidRequest("Unknown entryFilter.")
	}
	return nil
}

func orAny(s *string) string {
	if s == nil {
		return "<any>"
	}
	return *s
}
