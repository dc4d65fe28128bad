package api

// Authorization: the one place requests are checked against the ACLs.
//
// With authorizer.class.name set, Serve calls authorize for every request
// before its handler, as Kafka's KafkaApis checks each request against its
// Authorizer. authorize looks up the request's row in authorizers (by API
// key), which checks the operations Kafka checks for that API on the
// principal of the connection (session) from its host. A row either
// refuses the whole request with a response of Kafka's code for it
// (CLUSTER_AUTHORIZATION_FAILED, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
// ...), or takes the resources the principal may not touch out of the
// request before the handler sees them and puts them back into the
// response with their error (TOPIC_AUTHORIZATION_FAILED,
// GROUP_AUTHORIZATION_FAILED), or, for reads that list what exists
// (Metadata of all topics, ListGroups), leaves out of the response what
// the principal may not describe. An API without a row is refused whole:
// nothing is served that was not thought through.
//
// The authorizer follows the ACLs of the metadata image: it is rebuilt
// when the image's ACLs change (aclFollower).

import (
	"context"
	"net"
	"reflect"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/acl"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/server"
)

// authz is one request's view of the authorizer: who asks, from where.
type authz struct {
	h         *Handlers
	az        *acl.Authorizer
	principal string
	host      string
}

// allowed reports whether the principal may do op on the resource.
func (a *authz) allowed(op acl.Operation, t acl.ResourceType, name string) bool {
	d := a.az.Authorize(a.principal, a.host, op, acl.Resource{Type: t, Name: name, PatternType: acl.PatternLiteral})
	if !d.Allowed {
		// Kafka's authorizer logger writes denials at INFO; here they are
		// Debug, as clients probing (Metadata of all topics) make many.
		a.h.Logger.Debug("authorization denied", "principal", a.principal, "host", a.host, "operation", op.String(), "resource_type", t.String(), "resource", name, "rule", d.String())
	}
	return d.Allowed
}

func (a *authz) cluster(op acl.Operation) bool {
	return a.allowed(op, acl.ResourceCluster, acl.ClusterName)
}
func (a *authz) topic(op acl.Operation, name string) bool {
	return a.allowed(op, acl.ResourceTopic, name)
}
func (a *authz) group(op acl.Operation, name string) bool {
	return a.allowed(op, acl.ResourceGroup, name)
}
func (a *authz) txnID(op acl.Operation, id string) bool {
	return a.allowed(op, acl.ResourceTransactionalID, id)
}

// check is one API's authorization: deny, when non-nil, is the whole
// request's answer; otherwise the handler serves req (which check may
// have narrowed) and after, when non-nil, completes its response.
type check func(a *authz, req kmsg.Request) (deny kmsg.Response, after func(kmsg.Response))

// authorize applies the request's row of authorizers; with the authorizer
// off it allows everything.
func (h *Handlers) authorize(ctx context.Context, key int16, req kmsg.Request) (kmsg.Response, func(kmsg.Response)) {
	az := h.acls.authorizer(h)
	if az == nil || key == 18 || saslKey(key) {
		return nil, nil
	}
	c := client(ctx).conn
	a := &authz{h: h, az: az, principal: Anonymous, host: ""}
	if c != nil {
		a.principal = h.sessionOf(c).principal
		a.host = hostOf(c)
	}
	fn := authorizers[key]
	if fn == nil {
		return denyAll(req), nil
	}
	return fn(a, req)
}

// hostOf is the client's address as Kafka's ACLs name hosts: the IP.
func hostOf(c *server.Conn) string {
	if a, ok := c.Remote.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.Remote.String())
	if err != nil {
		return c.Remote.String()
	}
	return host
}

// aclFollower keeps the authorizer in step with the image's ACLs.
type aclFollower struct {
	mu   sync.Mutex
	az   *acl.Authorizer
	from uintptr // the image ACL map az was built from
	off  bool
}

// authorizer returns the authorizer of the current image, or nil when
// authorizer.class.name is not set.
func (f *aclFollower) authorizer(h *Handlers) *acl.Authorizer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.off {
		return nil
	}
	if f.az == nil {
		if h.Config == nil || !h.Config.Static().Security.Authorizer {
			f.off = true
			return nil
		}
		sec := h.Config.Static().Security
		az, err := acl.New(acl.Config{SuperUsers: sec.SuperUsers, AllowEveryoneIfNoACLFound: sec.AllowEveryoneIfNoACLFound})
		if err != nil {
			// The config was checked at start-up; refuse everything.
			h.Logger.Error("the authorizer cannot be built; every request is refused", "err", err)
			az, _ = acl.New(acl.Config{})
		}
		f.az, f.from = az, 1 // never a map's address: the first call builds
	}
	acls := h.image().ACLs
	if p := reflect.ValueOf(acls).Pointer(); p != f.from {
		if err := f.az.Replace(bindings(acls)); err != nil {
			h.Logger.Error("an ACL of the metadata log is invalid; keeping the previous ACLs", "err", err)
		}
		f.from = p
	}
	return f.az
}

// bindings converts the image's ACLs.
func bindings(acls map[metadata.ACL]bool) []acl.Binding {
	out := make([]acl.Binding, 0, len(acls))
	for a := range acls {
		out = append(out, bindingOf(a))
	}
	return out
}

func bindingOf(a metadata.ACL) acl.Binding {
	return acl.Binding{
		Resource: acl.Resource{Type: acl.ResourceType(a.ResourceType), Name: a.ResourceName, PatternType: acl.PatternType(a.PatternType)},
		Entry:    acl.Entry{Principal: a.Principal, Host: a.Host, Operation: acl.Operation(a.Operation), Permission: acl.Permission(a.Permission)},
	}
}

func aclOf(b acl.Binding) metadata.ACL {
	return metadata.ACL{
		ResourceType: int8(b.Resource.Type), ResourceName: b.Resource.Name, PatternType: int8(b.Resource.PatternType),
		Principal: b.Entry.Principal, Host: b.Entry.Host, Operation: int8(b.Entry.Operation), Permission: int8(b.Entry.Permission),
	}
}
