// Package acl is Kafka's authorizer: ACL bindings, the filters of
// DescribeAcls and DeleteAcls, the checks CreateAcls makes, and the
// decision whether a principal may do an operation on a resource. It is
// pure logic — no networking, no persistence: the caller stores bindings
// in its own metadata records and feeds them to an Authorizer with Add,
// Remove and Replace as the replicated log is applied.
//
// # Rules
//
// The semantics are Apache Kafka 4.x's StandardAuthorizer
// (StandardAuthorizerData.authorize) and, for clients' types, AclBinding,
// ResourcePattern(Filter) and AccessControlEntry(Filter):
//
//   - super.users are allowed everything, whatever the ACLs say;
//   - the ACLs that apply to a resource are those of its type named
//     literally after it, those named "*" (LITERAL), and the PREFIXED
//     ones whose name is a prefix of its name;
//   - an entry matches a request if its principal is the request's or
//     User:* (any principal, of any type), its host is the client's
//     address or "*", and its operation is the one asked for or ALL; an
//     ALLOW also matches the operations it implies — READ, WRITE, DELETE
//     and ALTER imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS —
//     but a DENY denies only what it names;
//   - a matching DENY wins over any ALLOW; with no match, the request is
//     denied if any ACL applies to the resource, and if none does,
//     allow.everyone.if.no.acl.found (default false) decides.
//
// AuthorizeByResourceType is Kafka's Authorizer.authorizeByResourceType,
// "may this principal do op on some resource of this type", which
// InitProducerId asks for an idempotent producer without a transactional
// id. Principals, hosts and names are compared as exact strings, as Kafka
// compares them: the broker must pass the client's address in the form
// the ACLs were written in.
//
// # Lookup
//
// The index holds, per resource type, a map of LITERAL names and a map of
// PREFIXED names, each pattern's entries by principal. Authorize does one
// lookup for the name, one for "*", and one per distinct length of the
// PREFIXED names of that type — the prefixes of the name that could be
// ACLs — and then reads only the entries of the request's principal and of
// User:*. Its cost grows with the distinct prefix lengths and with the
// entries of that principal on the patterns that apply, not with the
// number of ACLs or of principals. Kafka walks a sorted set instead; the
// answers are the same.
//
// # Concurrency
//
// An Authorizer is safe for concurrent use. Its ACLs are guarded by a
// sync.RWMutex: Authorize and the other reads hold it for reading for one
// lookup, Add, Remove and Replace for writing for one change. Kafka swaps
// an immutable snapshot built with persistent collections; in Go a
// snapshot copied on every change would cost O(ACLs) per metadata record —
// quadratic over a replayed log — while an uncontended read lock costs
// nanoseconds. Replace builds its new index before taking the lock, so a
// snapshot load blocks readers only for the swap. The package starts no
// goroutines.
//
// # Why our own
//
// No Go library implements Kafka's ACL semantics. franz-go's kmsg gives
// the wire codes, which the enums here share, so request fields convert
// with a type conversion; its kerr gives INVALID_REQUEST, the error every
// refused binding or filter answers.
//
// Not here: CIDR host patterns (not in a released Kafka), the
// "authorizer not ready" state before the first metadata load (the
// caller's), and audit logging (Decision.String names the rule as
// Kafka's audit log does).
package acl
