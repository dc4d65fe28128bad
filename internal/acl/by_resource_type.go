package acl

// hardcodedName is the resource name Kafka's default
// Authorizer.authorizeByResourceType authorizes first, so that super users
// (and allow.everyone.if.no.acl.found) win over any DENY. It is kept
// exactly because it shows: an ACL that applies to a resource of that
// name — "*", a prefix such as "h" — decides this first step too.
const hardcodedName = "hardcode"

// AuthorizeByResourceType decides whether principal, from host, may do op
// on at least one resource of type t — what InitProducerId without a
// transactional id asks for idempotent writes ("may this principal WRITE
// to some topic"). It is Kafka's Authorizer.authorizeByResourceType, the
// default every Kafka authorizer uses:
//
//  1. If Authorize allows op on the LITERAL resource "hardcode" of type t
//     (a super user, or no ACL there with allow.everyone.if.no.acl.found,
//     or an ALLOW through "*" or a prefix), allow.
//  2. Otherwise look at the ACLs on type t whose principal is principal or
//     User:*, whose host is host or "*", and whose operation is op or ALL
//     (no implication here: ALLOW READ does not count for DESCRIBE):
//     a DENY on the LITERAL "*" denies; an ALLOW on the LITERAL "*"
//     allows; otherwise allow if some ALLOW pattern is not dominated by a
//     DENY — a LITERAL ALLOW is dominated by a LITERAL DENY of the same
//     name, and any ALLOW by a PREFIXED DENY that is a prefix of its name.
//  3. Otherwise deny.
//
// An ANY or UNKNOWN op or t is denied (Kafka throws there). The Decision's
// Binding is the ALLOW found in step 2, when that is what allowed.
func (a *Authorizer) AuthorizeByResourceType(principal, host string, op Operation, t ResourceType) Decision {
	if op.IsUnknown() || op == OperationAny || t.IsUnknown() || t == ResourceAny {
		return Decision{Rule: RuleNoMatchingACL}
	}
	if _, ok := a.superUsers[principal]; ok {
		return Decision{Allowed: true, Rule: RuleSuperUser}
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if d := a.decide(principal, host, op, t, hardcodedName); d.Allowed {
		return d
	}
	ti := a.index.typeIndex(t)
	if ti == nil {
		return Decision{Rule: RuleNoMatchingACL}
	}

	deniedLiteral := make(map[string]bool)
	deniedPrefixes := make(map[string]bool)
	var allows []Binding
	wildcardAllow := false
	for _, sets := range [2]map[string]*aclSet{ti.literal, ti.prefixed} {
		for _, set := range sets {
			for _, who := range [2]string{principal, WildcardPrincipal} {
				for _, e := range set.byPrincipal[who] {
					if e.Host != host && e.Host != Wildcard {
						continue
					}
					if e.Operation != op && e.Operation != OperationAll {
						continue
					}
					r := set.resource
					literalWildcard := r.PatternType == PatternLiteral && r.Name == Wildcard
					switch {
					case e.Permission == PermissionDeny && literalWildcard:
						return Decision{Rule: RuleMatchingACL, Binding: Binding{Resource: r, Entry: e}}
					case e.Permission == PermissionDeny && r.PatternType == PatternLiteral:
						deniedLiteral[r.Name] = true
					case e.Permission == PermissionDeny:
						deniedPrefixes[r.Name] = true
					default:
						wildcardAllow = wildcardAllow || literalWildcard
						allows = append(allows, Binding{Resource: r, Entry: e})
					}
				}
				if principal == WildcardPrincipal {
					break
				}
			}
		}
	}
	// Which ALLOW is reported must not depend on map order: the least, in
	// Bindings order, of those that would allow.
	var best *Binding
	for i := range allows {
		allow := &allows[i]
		name := allow.Resource.Name
		if wildcardAllow {
			if allow.Resource.PatternType != PatternLiteral || name != Wildcard {
				continue
			}
		} else if allow.Resource.PatternType == PatternLiteral && deniedLiteral[name] || dominated(name, deniedPrefixes) {
			continue
		}
		if best == nil || compareBindings(*allow, *best) < 0 {
			best = allow
		}
	}
	if best != nil {
		return Decision{Allowed: true, Rule: RuleMatchingACL, Binding: *best}
	}
	return Decision{Rule: RuleNoMatchingACL}
}

// dominated reports whether some prefix of name (name included) is denied.
func dominated(name string, deniedPrefixes map[string]bool) bool {
	if len(deniedPrefixes) == 0 {
		return false
	}
	for i := 1; i <= len(name); i++ {
		if deniedPrefixes[name[:i]] {
			return true
		}
	}
	return false
}
