package acl

import (
	"cmp"
	"slices"
	"sync"
)

// Config is the part of a broker's configuration the authorizer reads.
type Config struct {
	// SuperUsers are principals ("User:admin") allowed everything whatever
	// the ACLs say: super.users, already split (see ParseSuperUsers).
	SuperUsers []string

	// AllowEveryoneIfNoACLFound is allow.everyone.if.no.acl.found: what to
	// answer for a resource no ACL applies to at all. Kafka's default,
	// false, denies.
	AllowEveryoneIfNoACLFound bool
}

// Authorizer holds the current ACLs and answers whether a principal may do
// an operation on a resource, with Kafka's StandardAuthorizer rules.
//
// Reads (Authorize, AuthorizeByResourceType, Bindings, Contains, Len) may
// run from any number of goroutines while Add, Remove and Replace change
// the set: mu is a sync.RWMutex held for reading for the length of one
// lookup and for writing for the length of one change. The package
// documentation says why a lock rather than a copied snapshot.
type Authorizer struct {
	// Fixed by New, read without the lock.
	superUsers   map[string]struct{}
	allowIfNoACL bool

	mu    sync.RWMutex
	index index // guarded by mu
}

// New returns an authorizer with no ACLs. It fails on a super user that is
// not "Type:name", as Kafka refuses such a super.users at startup.
func New(cfg Config) (*Authorizer, error) {
	a := &Authorizer{
		superUsers:   make(map[string]struct{}, len(cfg.SuperUsers)),
		allowIfNoACL: cfg.AllowEveryoneIfNoACLFound,
	}
	for _, user := range cfg.SuperUsers {
		if _, _, err := SplitPrincipal(user); err != nil {
			return nil, err
		}
		a.superUsers[user] = struct{}{}
	}
	return a, nil
}

// IsSuperUser reports whether principal is one of super.users.
func (a *Authorizer) IsSuperUser(principal string) bool {
	_, ok := a.superUsers[principal]
	return ok
}

// Add adds bindings. Every binding is validated first (Binding.Validate)
// and nothing is added if one fails, so the set never holds a binding
// Kafka would not have created. Adding a binding already present does
// nothing: like Kafka's controller, the set holds each binding once.
func (a *Authorizer) Add(bindings ...Binding) error {
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range bindings {
		a.index.add(b)
	}
	return nil
}

// Remove removes bindings and returns how many were present.
func (a *Authorizer) Remove(bindings ...Binding) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	removed := 0
	for _, b := range bindings {
		if a.index.remove(b) {
			removed++
		}
	}
	return removed
}

// Replace swaps the whole set for bindings, as loading a metadata snapshot
// does (Kafka's loadSnapshot). The new set is built before the lock is
// taken, so readers wait only for the swap. On a validation error the
// current set is kept.
func (a *Authorizer) Replace(bindings []Binding) error {
	var fresh index
	for _, b := range bindings {
		if err := b.Validate(); err != nil {
			return err
		}
		fresh.add(b)
	}
	a.mu.Lock()
	a.index = fresh
	a.mu.Unlock()
	return nil
}

// Len is the number of bindings held.
func (a *Authorizer) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.index.count
}

// Contains reports whether exactly this binding is held.
func (a *Authorizer) Contains(b Binding) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	set := a.index.set(b.Resource)
	return set != nil && slices.Contains(set.byPrincipal[b.Entry.Principal], b.Entry)
}

// Bindings returns the bindings filter matches — DescribeAcls, and the
// bindings a DeleteAcls filter deletes — sorted by resource type, name,
// pattern type, principal, host, operation and permission, so that the
// answer does not depend on map order. The caller validates the filter
// (Filter.Validate) first if it came from a request.
func (a *Authorizer) Bindings(filter Filter) []Binding {
	a.mu.RLock()
	var out []Binding
	for t := range a.index.types {
		ti := a.index.types[t]
		if ti == nil || (filter.Resource.Type != ResourceAny && filter.Resource.Type != ResourceType(t)) {
			continue
		}
		for _, sets := range [2]map[string]*aclSet{ti.literal, ti.prefixed} {
			for _, set := range sets {
				if !filter.Resource.Matches(set.resource) {
					continue
				}
				for _, entries := range set.byPrincipal {
					for _, e := range entries {
						if filter.Entry.Matches(e) {
							out = append(out, Binding{Resource: set.resource, Entry: e})
						}
					}
				}
			}
		}
	}
	a.mu.RUnlock()
	slices.SortFunc(out, compareBindings)
	return out
}

func compareBindings(x, y Binding) int {
	return cmp.Or(
		cmp.Compare(x.Resource.Type, y.Resource.Type),
		cmp.Compare(x.Resource.Name, y.Resource.Name),
		cmp.Compare(x.Resource.PatternType, y.Resource.PatternType),
		cmp.Compare(x.Entry.Principal, y.Entry.Principal),
		cmp.Compare(x.Entry.Host, y.Entry.Host),
		cmp.Compare(x.Entry.Operation, y.Entry.Operation),
		cmp.Compare(x.Entry.Permission, y.Entry.Permission),
	)
}

// Authorize decides whether principal, connected from host, may do op on
// the resource r, whose name is taken literally (r.PatternType LITERAL, or
// left zero). The rules are StandardAuthorizerData.authorize's:
//
//  1. A super user is allowed.
//  2. The ACLs that apply to the resource are those on its type with the
//     LITERAL name r.Name, the LITERAL name "*", and every PREFIXED name
//     that is a prefix of r.Name (r.Name itself included).
//  3. Of those, an entry matches if its principal is principal or User:*,
//     its host is host or "*", and its operation is op or ALL — or, for an
//     ALLOW entry only, implies op: READ, WRITE, DELETE and ALTER imply
//     DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS.
//  4. A matching DENY denies, whatever else matches; otherwise a matching
//     ALLOW allows.
//  5. If nothing matched but some ACL applies to the resource, deny; if no
//     ACL applies to it at all, allow.everyone.if.no.acl.found decides.
//
// A resource of another pattern type is denied (Kafka throws there).
func (a *Authorizer) Authorize(principal, host string, op Operation, r Resource) Decision {
	if r.PatternType != PatternLiteral && r.PatternType != PatternUnknown {
		return Decision{Rule: RuleNotLiteral}
	}
	if _, ok := a.superUsers[principal]; ok {
		return Decision{Allowed: true, Rule: RuleSuperUser}
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.decide(principal, host, op, r.Type, r.Name)
}

// decide is Authorize past the super user check; mu is held for reading.
func (a *Authorizer) decide(principal, host string, op Operation, t ResourceType, name string) Decision {
	s := search{principal: principal, host: host, op: op}
	if ti := a.index.typeIndex(t); ti != nil {
		if s.check(ti.literal[name]) {
			return s.decision
		}
		for _, length := range ti.prefixLengths {
			if length > len(name) {
				break
			}
			if s.check(ti.prefixed[name[:length]]) {
				return s.decision
			}
		}
		if name != Wildcard && s.check(ti.literal[Wildcard]) {
			return s.decision
		}
	}
	switch {
	case s.allowed:
		return s.decision
	case s.applies:
		return Decision{Rule: RuleNoMatchingACL}
	default:
		return Decision{Allowed: a.allowIfNoACL, Rule: RuleNoACLs}
	}
}

// search gathers, across the ACL sets that apply to one resource, what
// step 3 to 5 of Authorize need.
type search struct {
	principal, host string
	op              Operation

	applies  bool     // some ACL applies to the resource
	allowed  bool     // a matching ALLOW was seen; decision holds it
	decision Decision // the first matching ALLOW, or the matching DENY
}

// check looks at one ACL set (nil when there is none) and reports whether a
// DENY matched, which ends the search.
func (s *search) check(set *aclSet) bool {
	if set == nil {
		return false
	}
	s.applies = true
	if s.scan(set, set.byPrincipal[s.principal]) {
		return true
	}
	return s.principal != WildcardPrincipal && s.scan(set, set.byPrincipal[WildcardPrincipal])
}

func (s *search) scan(set *aclSet, entries []Entry) bool {
	for i := range entries {
		e := &entries[i]
		if !entryMatches(e, s.host, s.op) {
			continue
		}
		if e.Permission == PermissionDeny {
			s.decision = Decision{Rule: RuleMatchingACL, Binding: Binding{Resource: set.resource, Entry: *e}}
			return true
		}
		if !s.allowed {
			s.allowed = true
			s.decision = Decision{Allowed: true, Rule: RuleMatchingACL, Binding: Binding{Resource: set.resource, Entry: *e}}
		}
	}
	return false
}

// entryMatches is StandardAuthorizerData.findResult past the principal
// check, which the caller has done by looking the principal up.
func entryMatches(e *Entry, host string, op Operation) bool {
	if e.Host != Wildcard && e.Host != host {
		return false
	}
	if e.Operation == OperationAll {
		return true
	}
	// Implication is for ALLOW only: DENY READ does not deny DESCRIBE.
	if e.Permission == PermissionAllow {
		switch op {
		case OperationDescribe:
			return impliesDescribe(e.Operation)
		case OperationDescribeConfigs:
			return e.Operation == OperationDescribeConfigs || e.Operation == OperationAlterConfigs
		}
	}
	return e.Operation == op
}

func impliesDescribe(op Operation) bool {
	switch op {
	case OperationDescribe, OperationRead, OperationWrite, OperationDelete, OperationAlter:
		return true
	}
	return false
}

// Decision is the answer to Authorize and why.
type Decision struct {
	Allowed bool
	Rule    Rule
	// Binding is the ACL that decided when Rule is RuleMatchingACL: the
	// DENY that denied, or an ALLOW that allowed.
	Binding Binding
}

// String names the rule as Kafka's audit log does ("based on rule …"):
// SuperUser, MatchingAcl(acl=StandardAcl(…)), DefaultAllow or DefaultDeny.
func (d Decision) String() string {
	switch d.Rule {
	case RuleSuperUser:
		return "SuperUser"
	case RuleMatchingACL:
		r, e := d.Binding.Resource, d.Binding.Entry
		return "MatchingAcl(acl=StandardAcl(resourceType=" + r.Type.String() + ", resourceName=" + r.Name +
			", patternType=" + r.PatternType.String() + ", principal=" + e.Principal + ", host=" + e.Host +
			", operation=" + e.Operation.String() + ", permissionType=" + e.Permission.String() + "))"
	case RuleNotLiteral:
		return "NotLiteral"
	}
	if d.Allowed {
		return "DefaultAllow"
	}
	return "DefaultDeny"
}

// Rule says which of Authorize's rules decided.
type Rule uint8

const (
	// RuleNoMatchingACL: ACLs apply to the resource but none matched the
	// request, so it is denied. It is the zero Rule so that a zero
	// Decision reads as a denial.
	RuleNoMatchingACL Rule = iota
	// RuleSuperUser: the principal is a super user.
	RuleSuperUser
	// RuleMatchingACL: Decision.Binding decided.
	RuleMatchingACL
	// RuleNoACLs: no ACL applies to the resource at all;
	// allow.everyone.if.no.acl.found decided.
	RuleNoACLs
	// RuleNotLiteral: the resource given to Authorize was not LITERAL.
	RuleNotLiteral
)

// index is the ACL set, arranged for Authorize: by resource type, then by
// pattern type and name, then by principal.
type index struct {
	types [int(ResourceUser) + 1]*typeIndex
	count int
}

type typeIndex struct {
	literal  map[string]*aclSet // LITERAL names, "*" among them
	prefixed map[string]*aclSet // PREFIXED names

	// prefixLengths are the distinct lengths of the PREFIXED names, sorted,
	// and prefixLengthCounts how many names have each. Authorize looks up
	// the prefixes of a name of just these lengths: a handful of map
	// lookups, however many ACLs there are.
	prefixLengths      []int
	prefixLengthCounts map[int]int
}

// aclSet is the entries of one resource pattern, by principal so that a
// topic with ACLs for a thousand principals costs one request the entries
// of its own principal and of User:* only.
type aclSet struct {
	resource    Resource
	byPrincipal map[string][]Entry
}

func (x *index) typeIndex(t ResourceType) *typeIndex {
	if t < 0 || int(t) >= len(x.types) {
		return nil
	}
	return x.types[t]
}

func (ti *typeIndex) sets(p PatternType) map[string]*aclSet {
	if p == PatternPrefixed {
		return ti.prefixed
	}
	return ti.literal
}

func (x *index) set(r Resource) *aclSet {
	ti := x.typeIndex(r.Type)
	if ti == nil {
		return nil
	}
	return ti.sets(r.PatternType)[r.Name]
}

// add adds a validated binding; it reports false if it was already there.
func (x *index) add(b Binding) bool {
	r := b.Resource
	ti := x.types[r.Type]
	if ti == nil {
		ti = &typeIndex{
			literal:            make(map[string]*aclSet),
			prefixed:           make(map[string]*aclSet),
			prefixLengthCounts: make(map[int]int),
		}
		x.types[r.Type] = ti
	}
	sets := ti.sets(r.PatternType)
	set := sets[r.Name]
	if set == nil {
		set = &aclSet{resource: r, byPrincipal: make(map[string][]Entry)}
		sets[r.Name] = set
		if r.PatternType == PatternPrefixed {
			ti.addPrefixLength(len(r.Name))
		}
	}
	entries := set.byPrincipal[b.Entry.Principal]
	if slices.Contains(entries, b.Entry) {
		return false
	}
	set.byPrincipal[b.Entry.Principal] = append(entries, b.Entry)
	x.count++
	return true
}

// remove removes a binding; it reports false if it was not there.
func (x *index) remove(b Binding) bool {
	set := x.set(b.Resource)
	if set == nil {
		return false
	}
	entries := set.byPrincipal[b.Entry.Principal]
	i := slices.Index(entries, b.Entry)
	if i < 0 {
		return false
	}
	entries = slices.Delete(entries, i, i+1)
	x.count--
	if len(entries) > 0 {
		set.byPrincipal[b.Entry.Principal] = entries
		return true
	}
	delete(set.byPrincipal, b.Entry.Principal)
	if len(set.byPrincipal) > 0 {
		return true
	}
	// The last entry of the pattern is gone: drop the pattern too, since
	// an empty set would still count as "ACLs apply" in Authorize.
	r := b.Resource
	ti := x.types[r.Type]
	delete(ti.sets(r.PatternType), r.Name)
	if r.PatternType == PatternPrefixed {
		ti.removePrefixLength(len(r.Name))
	}
	return true
}

func (ti *typeIndex) addPrefixLength(length int) {
	ti.prefixLengthCounts[length]++
	if ti.prefixLengthCounts[length] == 1 {
		i, _ := slices.BinarySearch(ti.prefixLengths, length)
		ti.prefixLengths = slices.Insert(ti.prefixLengths, i, length)
	}
}

func (ti *typeIndex) removePrefixLength(length int) {
	ti.prefixLengthCounts[length]--
	if ti.prefixLengthCounts[length] > 0 {
		return
	}
	delete(ti.prefixLengthCounts, length)
	if i, found := slices.BinarySearch(ti.prefixLengths, length); found {
		ti.prefixLengths = slices.Delete(ti.prefixLengths, i, i+1)
	}
}
