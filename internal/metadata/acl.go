package metadata

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TypeAlterACLs tags AlterACLs.
const TypeAlterACLs RecordType = 17

// ACL is one access control entry on a resource pattern, with Kafka's
// codes for its enums (resource type, pattern type, operation,
// permission), as CreateAcls carries them. The authorizer (package acl)
// gives them their meaning; the metadata only keeps them.
type ACL struct {
	ResourceType int8
	ResourceName string
	PatternType  int8
	Principal    string
	Host         string
	Operation    int8
	Permission   int8
}

// AlterACLs deletes, then creates, ACLs (CreateAcls and DeleteAcls; the
// proposer resolves DeleteAcls filters to the ACLs they match and checks
// what it creates). Creating an ACL that exists, or deleting one that
// does not, changes nothing, so a retried request is harmless.
type AlterACLs struct {
	Create []ACL `json:",omitempty"`
	Delete []ACL `json:",omitempty"`
}

func (AlterACLs) Type() RecordType { return TypeAlterACLs }

// validACL is the shape every kept ACL has: the proposer's checks (the
// acl package's Validate) are stricter.
func validACL(a ACL) bool {
	return a.ResourceName != "" && a.Principal != "" && a.Host != "" &&
		a.ResourceType > 1 && a.PatternType > 2 && a.Operation > 1 && a.Permission > 1
}

func (img *Image) applyAlterACLs(index uint64, r AlterACLs) (*Image, Result) {
	for _, a := range r.Create {
		if !validACL(a) {
			return img, reject(kerr.InvalidRequest)
		}
	}
	acls := make(map[ACL]bool, len(img.ACLs)+len(r.Create))
	for a := range img.ACLs {
		acls[a] = true
	}
	for _, a := range r.Delete {
		delete(acls, a)
	}
	for _, a := range r.Create {
		acls[a] = true
	}
	n := img.next(index)
	n.ACLs = acls
	return n, Result{}
}

// ACLList returns the ACLs in a fixed order.
func (img *Image) ACLList() []ACL {
	out := make([]ACL, 0, len(img.ACLs))
	for a := range img.ACLs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b ACL) int {
		return cmp.Or(cmp.Compare(a.ResourceType, b.ResourceType), cmp.Compare(a.ResourceName, b.ResourceName),
			cmp.Compare(a.PatternType, b.PatternType), cmp.Compare(a.Principal, b.Principal), cmp.Compare(a.Host, b.Host),
			cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Permission, b.Permission))
	})
	return out
}
