package quota

import (
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// MatchType is how a DescribeClientQuotas filter component matches one
// entity type; the values are the protocol's.
type MatchType int8

const (
	// MatchExact matches the given name.
	MatchExact MatchType = 0
	// MatchDefault matches the default (<default>).
	MatchDefault MatchType = 1
	// MatchSpecified matches any entity that has this type, named or
	// default: Kafka's "ofEntityType". (The protocol's comment says "any
	// specified name", but Kafka's ClientQuotasImage also returns the
	// default, and its ClientQuotasRequestTest expects it to.)
	MatchSpecified MatchType = 2
)

// FilterComponent is one component of a DescribeClientQuotas filter.
type FilterComponent struct {
	EntityType string
	MatchType  MatchType
	Match      *string // the name for MatchExact; must be nil otherwise
}

// Described is one entity and its quotas.
type Described struct {
	Entity Entity
	Values map[Key]float64
}

// Error is a Kafka error code and its message, for a response.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return "quota: " + e.Code.Message + ": " + e.Message }

// Unwrap lets errors.Is match the kerr error.
func (e *Error) Unwrap() error { return e.Code }

func invalidRequest(message string) *Error {
	return &Error{Code: kerr.InvalidRequest, Message: message}
}

// Describe answers DescribeClientQuotas as Kafka's ClientQuotasImage does.
// A filter error is an error for the whole response (Kafka's
// DescribeClientQuotas has one error code): INVALID_REQUEST for an empty
// or repeated entity type, a match string where none belongs (or none
// where one does), an unknown match type, or ip combined with user or
// client-id; UNSUPPORTED_VERSION for an entity type other than user,
// client-id and ip. An ip filter matches nothing, since Samsa keeps no ip
// quotas.
//
// Without strict, an entity matches when it has every filtered type with a
// matching name (it may have more parts); with strict it must also have no
// other part. An empty filter matches everything without strict and
// nothing with it. Entries come sorted by entity for a stable answer.
func (s *Store) Describe(components []FilterComponent, strict bool) ([]Described, *Error) {
	type match struct {
		used      bool
		specified bool // MatchSpecified: any name, default included
		name      Name // MatchExact or MatchDefault
	}
	var user, clientID, ip match
	for _, component := range components {
		var target *match
		switch component.EntityType {
		case "":
			return nil, invalidRequest("Invalid empty entity type.")
		case EntityTypeUser:
			target = &user
		case EntityTypeClientID:
			target = &clientID
		case EntityTypeIP:
			target = &ip
		}
		if target != nil && target.used {
			return nil, invalidRequest("Entity type " + component.EntityType + " cannot appear more than once in the filter.")
		}
		if target == nil {
			return nil, &Error{Code: kerr.UnsupportedVersion, Message: "Unsupported entity type " + component.EntityType}
		}
		switch component.MatchType {
		case MatchExact:
			if component.Match == nil {
				return nil, invalidRequest("Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
			*target = match{used: true, name: Specific(*component.Match)}
		case MatchDefault:
			if component.Match != nil {
				return nil, invalidRequest("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
			*target = match{used: true, name: Default()}
		case MatchSpecified:
			if component.Match != nil {
				return nil, invalidRequest("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
			*target = match{used: true, specified: true}
		default:
			return nil, invalidRequest("Unknown match type " + strconv.Itoa(int(component.MatchType)))
		}
	}
	if ip.used && (user.used || clientID.used) {
		return nil, invalidRequest("Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	if ip.used || (len(components) == 0 && strict) {
		return []Described{}, nil
	}
	matches := func(filter match, name Name) bool {
		if !filter.used {
			return true
		}
		if !name.IsSet() {
			return false
		}
		return filter.specified || filter.name == name
	}
	wanted := 0
	if user.used {
		wanted++
	}
	if clientID.used {
		wanted++
	}
	s.mu.RLock()
	described := make([]Described, 0)
	for entity, quotas := range s.entities {
		if !matches(user, entity.User) || !matches(clientID, entity.ClientID) {
			continue
		}
		if strict && len(entity.Components()) != wanted {
			continue
		}
		values := make(map[Key]float64, len(quotas))
		for key, value := range quotas {
			values[key] = value
		}
		described = append(described, Described{Entity: entity, Values: values})
	}
	s.mu.RUnlock()
	sort.Slice(described, func(i, j int) bool { return entityLess(described[i].Entity, described[j].Entity) })
	return described, nil
}

// entityLess orders entities user first, absent before default before
// named, so that Describe's answer does not depend on map order.
func entityLess(a, b Entity) bool {
	if a.User != b.User {
		return nameLess(a.User, b.User)
	}
	return nameLess(a.ClientID, b.ClientID)
}

func nameLess(a, b Name) bool {
	if a.state != b.state {
		return a.state == nameAbsent || (a.state == nameDefault && b.state == nameSpecific)
	}
	return a.name < b.name
}
