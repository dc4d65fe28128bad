package acl

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	// Wildcard as a LITERAL resource name matches every name of the
	// resource type; as an entry's host it matches every host.
	Wildcard = "*"

	// WildcardPrincipal as an entry's principal matches every principal,
	// whatever its type: Kafka compares an ACL's principal against the
	// session's principal and against User:* only.
	WildcardPrincipal = "User:*"

	// ClusterName is the name of the one CLUSTER resource.
	ClusterName = "kafka-cluster"
)

// Resource is Kafka's ResourcePattern: a resource type, a name and how the
// name matches. Bindings use LITERAL or PREFIXED; Authorize takes a LITERAL
// resource (the thing being touched).
type Resource struct {
	Type        ResourceType
	Name        string
	PatternType PatternType
}

// String is Kafka's ResourcePattern.toString:
// ResourcePattern(resourceType=TOPIC, name=foo, patternType=LITERAL).
func (r Resource) String() string {
	return "ResourcePattern(resourceType=" + r.Type.String() + ", name=" + r.Name +
		", patternType=" + r.PatternType.String() + ")"
}

// Entry is Kafka's AccessControlEntry: who, from where, doing what, allowed
// or denied. Principal is "Type:name" (User:alice, User:*); Host is an IP
// address in the form the broker reports clients' addresses, or "*".
type Entry struct {
	Principal  string
	Host       string
	Operation  Operation
	Permission Permission
}

// String is Kafka's AccessControlEntry.toString:
// (principal=User:alice, host=*, operation=READ, permissionType=ALLOW).
func (e Entry) String() string {
	return "(principal=" + e.Principal + ", host=" + e.Host + ", operation=" +
		e.Operation.String() + ", permissionType=" + e.Permission.String() + ")"
}

// Binding is Kafka's AclBinding: one ACL.
type Binding struct {
	Resource Resource
	Entry    Entry
}

// String is Kafka's AclBinding.toString: (pattern=…, entry=…).
func (b Binding) String() string {
	return "(pattern=" + b.Resource.String() + ", entry=" + b.Entry.String() + ")"
}

// Filter returns the filter that matches exactly this binding, as Kafka's
// AclBinding.toFilter does.
func (b Binding) Filter() Filter {
	name, principal, host := b.Resource.Name, b.Entry.Principal, b.Entry.Host
	return Filter{
		Resource: ResourceFilter{Type: b.Resource.Type, Name: &name, PatternType: b.Resource.PatternType},
		Entry:    EntryFilter{Principal: &principal, Host: &host, Operation: b.Entry.Operation, Permission: b.Entry.Permission},
	}
}

// RequestError is a binding or filter Kafka would refuse, with the Kafka
// error to answer (always kerr.InvalidRequest today) and Kafka's message.
// errors.Is(err, kerr.InvalidRequest) holds for it.
type RequestError struct {
	Err     *kerr.Error
	Message string
}

func (e *RequestError) Error() string { return "acl: " + e.Message }

func (e *RequestError) Unwrap() error { return e.Err }

// Code is the Kafka error code to put in the response.
func (e *RequestError) Code() int16 { return e.Err.Code }

func invalidRequest(format string, args ...any) error {
	return &RequestError{Err: kerr.InvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a binding the way a Kafka 4.x broker and controller check
// a CreateAcls creation (CreateAclsRequest.validate, AclApis.handleCreateAcls,
// AclControlManager.validateNewAcl), answering INVALID_REQUEST for:
//   - an UNKNOWN or ANY resource type, operation or permission, and a
//     pattern type other than LITERAL or PREFIXED;
//   - a CLUSTER resource not named kafka-cluster;
//   - an empty resource name;
//   - a principal without the colon of "Type:name" (KAFKA-18051).
//
// Kafka refuses a request holding an UNKNOWN element as a whole; here each
// binding answers for itself, so the caller may do either.
func (b Binding) Validate() error {
	r, e := b.Resource, b.Entry
	if r.Type.IsUnknown() || r.Type == ResourceAny {
		return invalidRequest("Invalid resourceType %s", r.Type)
	}
	if r.PatternType != PatternLiteral && r.PatternType != PatternPrefixed {
		return invalidRequest("Invalid patternType %s", r.PatternType)
	}
	if e.Operation.IsUnknown() || e.Operation == OperationAny {
		return invalidRequest("Invalid operation %s", e.Operation)
	}
	if e.Permission != PermissionAllow && e.Permission != PermissionDeny {
		return invalidRequest("Invalid permissionType %s", e.Permission)
	}
	if r.Type == ResourceCluster && r.Name != ClusterName {
		return invalidRequest("The only valid name for the CLUSTER resource is %s", ClusterName)
	}
	if r.Name == "" {
		return invalidRequest("Invalid empty resource name")
	}
	if _, _, err := SplitPrincipal(e.Principal); err != nil {
		return invalidRequest("Could not parse principal from `%s` (no colon is present separating the principal type from the principal name)", e.Principal)
	}
	return nil
}

// SplitPrincipal splits "Type:name" at its first colon, as Kafka's
// SecurityUtils.parseKafkaPrincipal does; either half may be empty, but the
// colon must be there.
func SplitPrincipal(principal string) (principalType, name string, err error) {
	principalType, name, ok := strings.Cut(principal, ":")
	if !ok {
		return "", "", fmt.Errorf("acl: expected a string in format principalType:principalName but got %q", principal)
	}
	return principalType, name, nil
}

// ParseSuperUsers reads the super.users config: principals separated by
// semicolons (distinguished names hold commas), blanks around them
// ignored, each one "Type:name" — Kafka's
// StandardAuthorizer.getConfiguredSuperUsers.
func ParseSuperUsers(value string) ([]string, error) {
	var users []string
	for _, part := range strings.Split(value, ";") {
		user := strings.TrimSpace(part)
		if user == "" {
			continue
		}
		if _, _, err := SplitPrincipal(user); err != nil {
			return nil, err
		}
		users = append(users, user)
	}
	return users, nil
}
