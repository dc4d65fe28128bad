package acl

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceAuthorize is Kafka's rule read as plainly as possible — every
// binding looked at, no index — to check the indexed Authorize against.
func referenceAuthorize(bindings []Binding, cfg Config, principal, host string, op Operation, t ResourceType, name string) bool {
	for _, user := range cfg.SuperUsers {
		if user == principal {
			return true
		}
	}
	applies, allowed := false, false
	for _, b := range bindings {
		r, e := b.Resource, b.Entry
		if r.Type != t {
			continue
		}
		switch {
		case r.PatternType == PatternLiteral && (r.Name == name || r.Name == Wildcard):
		case r.PatternType == PatternPrefixed && strings.HasPrefix(name, r.Name):
		default:
			continue
		}
		applies = true
		if e.Principal != principal && e.Principal != WildcardPrincipal {
			continue
		}
		if e.Host != host && e.Host != Wildcard {
			continue
		}
		opMatches := e.Operation == OperationAll || e.Operation == op
		if e.Permission == PermissionAllow {
			switch op {
			case OperationDescribe:
				opMatches = opMatches || e.Operation == OperationRead || e.Operation == OperationWrite ||
					e.Operation == OperationDelete || e.Operation == OperationAlter
			case OperationDescribeConfigs:
				opMatches = opMatches || e.Operation == OperationAlterConfigs
			}
		}
		if !opMatches {
			continue
		}
		if e.Permission == PermissionDeny {
			return false
		}
		allowed = true
	}
	if allowed {
		return true
	}
	return !applies && cfg.AllowEveryoneIfNoACLFound
}

// A small alphabet makes prefixes, wildcards and collisions common.
var (
	randomNames      = []string{"a", "b", "*", "ab", "aa", "ba", "a*", "abc", "*a", "bab"}
	randomPrincipals = []string{"User:a", "User:b", "User:*", "Group:a"}
	randomHosts      = []string{"*", "h1", "h2"}
	randomTypes      = []ResourceType{ResourceTopic, ResourceGroup}
	randomOps        = []Operation{
		OperationAll, OperationRead, OperationWrite, OperationCreate, OperationDelete, OperationAlter,
		OperationDescribe, OperationDescribeConfigs, OperationAlterConfigs, OperationIdempotentWrite,
	}
)

func pick[T any](rng *rand.Rand, from []T) T { return from[rng.IntN(len(from))] }

func randomBinding(rng *rand.Rand) Binding {
	pattern := PatternLiteral
	if rng.IntN(2) == 0 {
		pattern = PatternPrefixed
	}
	permission := PermissionAllow
	if rng.IntN(3) == 0 {
		permission = PermissionDeny
	}
	return Binding{
		Resource: Resource{Type: pick(rng, randomTypes), Name: pick(rng, randomNames), PatternType: pattern},
		Entry:    Entry{Principal: pick(rng, randomPrincipals), Host: pick(rng, randomHosts), Operation: pick(rng, randomOps), Permission: permission},
	}
}

// checkAgainstReference builds a random ACL set from seed, churns it with
// adds and removes, and compares every answer with the reference.
func checkAgainstReference(t *testing.T, seed1, seed2 uint64) {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	cfg := Config{AllowEveryoneIfNoACLFound: rng.IntN(2) == 0}
	if rng.IntN(4) == 0 {
		cfg.SuperUsers = []string{"User:b"}
	}
	a := newAuthorizer(t, cfg)
	var held []Binding
	for range 1 + rng.IntN(30) {
		add := randomBinding(rng)
		if err := a.Add(add); err != nil {
			t.Fatal(err)
		}
		present := false
		for _, h := range held {
			present = present || h == add
		}
		if !present {
			held = append(held, add)
		}
		if len(held) > 0 && rng.IntN(4) == 0 {
			i := rng.IntN(len(held))
			if a.Remove(held[i]) != 1 {
				t.Fatalf("Remove(%v) found nothing", held[i])
			}
			held = append(held[:i], held[i+1:]...)
		}
	}
	if a.Len() != len(held) {
		t.Fatalf("Len %d, want %d", a.Len(), len(held))
	}
	queryNames := append([]string{"", "abcd", "bb", "*b"}, randomNames...)
	for range 200 {
		principal, host := pick(rng, randomPrincipals), pick(rng, randomHosts[1:])
		op, rt, name := pick(rng, randomOps[1:]), pick(rng, randomTypes), pick(rng, queryNames)
		want := referenceAuthorize(held, cfg, principal, host, op, rt, name)
		if got := a.Authorize(principal, host, op, literal(rt, name)); got.Allowed != want {
			t.Fatalf("%s from %s %s %s %q: got %v (%v), reference %v\nACLs: %v", principal, host, op, rt, name, got.Allowed, got, want, held)
		}
		// A MATCH filter for the name selects exactly the ACLs that apply.
		matching := MatchAll
		matching.Resource = ResourceFilter{Type: rt, Name: &name, PatternType: PatternMatch}
		applies := 0
		for _, h := range held {
			if h.Resource.Type == rt && (h.Resource.PatternType == PatternLiteral && (h.Resource.Name == name || h.Resource.Name == Wildcard) ||
				h.Resource.PatternType == PatternPrefixed && strings.HasPrefix(name, h.Resource.Name)) {
				applies++
			}
		}
		if got := len(a.Bindings(matching)); got != applies {
			t.Fatalf("MATCH %s %q: %d bindings, want %d", rt, name, got, applies)
		}
	}
}

func TestAgainstReference(t *testing.T) {
	for seed := range uint64(300) {
		checkAgainstReference(t, seed, 0x5eed)
	}
}

func FuzzAuthorize(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(0xdead), uint64(0xbeef))
	f.Fuzz(func(t *testing.T, seed1, seed2 uint64) {
		checkAgainstReference(t, seed1, seed2)
	})
}

// The parse helpers read what people type at a CLI; whatever they are
// given they must not panic, and what they accept prints back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"Read", "transactional-id", "DESCRIBE_CONFIGS", "", "-", "Ünïcode", "  all  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if op, err := ParseOperation(s); err == nil {
			if again, err := ParseOperation(op.String()); err != nil || again != op {
				t.Errorf("operation %q -> %v -> %v, %v", s, op, again, err)
			}
		}
		if rt, err := ParseResourceType(s); err == nil {
			if again, err := ParseResourceType(rt.PascalCase()); err != nil || again != rt {
				t.Errorf("resource type %q -> %v -> %v, %v", s, rt, again, err)
			}
		}
		if p, err := ParsePatternType(s); err == nil && p.IsUnknown() {
			t.Errorf("pattern type %q parsed to UNKNOWN", s)
		}
		if p, err := ParsePermission(s); err == nil && p.IsUnknown() {
			t.Errorf("permission %q parsed to UNKNOWN", s)
		}
		ParseSuperUsers(s)
	})
}
