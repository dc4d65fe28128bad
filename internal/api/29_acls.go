package api

// DescribeAcls, CreateAcls and DeleteAcls v0-v3: the ACLs of the metadata
// log (metadata.AlterACLs), as Kafka's AclControlManager keeps them.
// CreateAcls checks each creation alone (acl.Binding.Validate: Kafka's
// INVALID_REQUEST cases) and proposes the valid ones in one record;
// DeleteAcls resolves each filter to the ACLs it matches in the image and
// deletes them in one record, answering every match. Pattern types other
// than LITERAL arrive from v1 on; kmsg's defaults give v0 LITERAL, as
// Kafka does. Who may call them (ALTER and DESCRIBE on the cluster) is
// the authorization rules' business (authorize_rules.go).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/acl"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// aclFilter builds a filter from the protocol's fields; Validate says
// what Kafka refuses.
func aclFilter(rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) acl.Filter {
	return acl.Filter{
		Resource: acl.ResourceFilter{Type: acl.ResourceType(rt), Name: name, PatternType: acl.PatternType(pt)},
		Entry:    acl.EntryFilter{Principal: principal, Host: host, Operation: acl.Operation(op), Permission: acl.Permission(perm)},
	}
}

// requestError is the code and message of an error from the acl package.
func requestError(err error) (int16, *string) {
	var re *acl.RequestError
	if errors.As(err, &re) {
		return re.Code(), strp(re.Message)
	}
	return errorCode(err), errorMessage(err)
}

func describeACLs(h *Handlers, _ context.Context, req *kmsg.DescribeACLsRequest) (*kmsg.DescribeACLsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := aclFilter(req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host, req.Operation, req.PermissionType)
	if err := f.Validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = requestError(err)
		return resp, nil
	}
	for _, a := range h.image().ACLList() { // sorted by resource first
		b := bindingOf(a)
		if !f.Matches(b) {
			continue
		}
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != kmsg.ACLResourceType(a.ResourceType) ||
			resp.Resources[n-1].ResourceName != a.ResourceName || resp.Resources[n-1].ResourcePatternType != kmsg.ACLResourcePatternType(a.PatternType) {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			resp.Resources = append(resp.Resources, r)
			n++
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host, e.Operation, e.PermissionType = a.Principal, a.Host, kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, e)
	}
	return resp, nil
}

func createACLs(h *Handlers, ctx context.Context, req *kmsg.CreateACLsRequest) (*kmsg.CreateACLsResponse, error) {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	var record metadata.AlterACLs
	var valid []int
	for i, c := range req.Creations {
		resp.Results = append(resp.Results, kmsg.NewCreateACLsResponseResult())
		b := acl.Binding{
			Resource: acl.Resource{Type: acl.ResourceType(c.ResourceType), Name: c.ResourceName, PatternType: acl.PatternType(c.ResourcePatternType)},
			Entry:    acl.Entry{Principal: c.Principal, Host: c.Host, Operation: acl.Operation(c.Operation), Permission: acl.Permission(c.PermissionType)},
		}
		if err := b.Validate(); err != nil {
			resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = requestError(err)
			continue
		}
		record.Create = append(record.Create, aclOf(b))
		valid = append(valid, i)
	}
	if len(record.Create) > 0 {
		if err := h.Controller.AlterACLs(ctx, record); err != nil {
			for _, i := range valid {
				resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errorMessage(err)
			}
		}
	}
	return resp, nil
}

func deleteACLs(h *Handlers, ctx context.Context, req *kmsg.DeleteACLsRequest) (*kmsg.DeleteACLsResponse, error) {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	acls := h.image().ACLList()
	var record metadata.AlterACLs
	deleting := map[metadata.ACL]bool{}
	for _, rf := range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		f := aclFilter(rf.ResourceType, rf.ResourceName, rf.ResourcePatternType, rf.Principal, rf.Host, rf.Operation, rf.PermissionType)
		if err := f.Validate(); err != nil {
			r.ErrorCode, r.ErrorMessage = requestError(err)
			resp.Results = append(resp.Results, r)
			continue
		}
		for _, a := range acls {
			if !f.Matches(bindingOf(a)) {
				continue
			}
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host, m.Operation, m.PermissionType = a.Principal, a.Host, kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
			r.MatchingACLs = append(r.MatchingACLs, m)
			if !deleting[a] {
				deleting[a] = true
				record.Delete = append(record.Delete, a)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	if len(record.Delete) > 0 {
		if err := h.Controller.AlterACLs(ctx, record); err != nil {
			for i := range resp.Results {
				if resp.Results[i].ErrorCode == 0 {
					resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errorCode(err), errorMessage(err)
					resp.Results[i].MatchingACLs = nil
				}
			}
		}
	}
	return resp, nil
}
