package quota

import (
	"math"
	"sort"
	"strings"
)

// Op is one operation of an AlterClientQuotas entry.
type Op struct {
	Key    string
	Value  float64
	Remove bool
}

// Alteration is one entry of an AlterClientQuotas request.
type Alteration struct {
	Entity []Component
	Ops    []Op
}

// Change is one ClientQuotaRecord to write: Value nil removes the key.
type Change struct {
	Entity Entity
	Key    Key
	Value  *float64
}

// Result is the answer for one Alteration: Err nil is success.
type Result struct {
	Entity []Component // as the request gave it, for the response
	Err    *Error
}

// Plan checks an AlterClientQuotas request against the store, as Kafka's
// ClientQuotaControlManager.alterClientQuotas: it returns one Result per
// alteration, in order, and the records to write for those that
// succeeded. Nothing is applied: the caller writes the changes to the
// metadata log (unless validate_only) and applies them with Set as they
// are replayed. A removal of an absent key and a value equal to the
// current one produce no change.
//
// Kafka's quirks are kept: a repeated key, or an entity that already
// appeared earlier in the request, makes the entity's result "Ignoring
// duplicate entity" (the earlier entry's too, since Kafka answers once per
// entity), and the earlier entry's changes are still returned.
func (s *Store) Plan(alterations []Alteration) ([]Result, []Change) {
	results := make([]Result, len(alterations))
	var changes []Change
	resultFor := make(map[string]int, len(alterations))
	for i, alteration := range alterations {
		identity := componentsKey(alteration.Entity)
		results[i].Entity = alteration.Entity
		seenKeys := make(map[string]bool, len(alteration.Ops))
		duplicateKey := ""
		for _, op := range alteration.Ops {
			if seenKeys[op.Key] && duplicateKey == "" {
				duplicateKey = op.Key
			}
			seenKeys[op.Key] = true
		}
		previous, seenEntity := resultFor[identity]
		resultFor[identity] = i
		if duplicateKey != "" || seenEntity {
			results[i].Err = invalidRequest("Ignoring duplicate entity " + componentsString(alteration.Entity))
			if seenEntity {
				// Kafka keys its results by entity, so the earlier
				// entry's answer is replaced too.
				results[previous].Err = results[i].Err
			}
			continue
		}
		entityChanges, err := s.planOne(alteration)
		if err != nil {
			results[i].Err = err
			continue
		}
		changes = append(changes, entityChanges...)
	}
	return results, changes
}

func (s *Store) planOne(alteration Alteration) ([]Change, *Error) {
	entity, err := validateEntity(alteration.Entity)
	if err != nil {
		return nil, err
	}
	current := s.Quotas(entity)
	changes := make([]Change, 0, len(alteration.Ops))
	for _, op := range alteration.Ops {
		key := Key(op.Key)
		if op.Remove {
			if _, ok := current[key]; ok {
				changes = append(changes, Change{Entity: entity, Key: key})
			}
			continue
		}
		if err := validateValue(key, op.Value); err != nil {
			return nil, err
		}
		if value, ok := current[key]; ok && value == op.Value {
			continue
		}
		value := op.Value
		changes = append(changes, Change{Entity: entity, Key: key, Value: &value})
	}
	return changes, nil
}

// validateEntity is ClientQuotaControlManager's validateEntity and
// configKeysForEntityType, with ip entities refused: Samsa does not
// enforce connection_creation_rate.
func validateEntity(components []Component) (Entity, *Error) {
	if len(components) == 0 {
		return Entity{}, invalidRequest("Invalid empty client quota entity")
	}
	var entity Entity
	hasIP := false
	seen := make(map[string]bool, len(components))
	for _, component := range components {
		if seen[component.EntityType] {
			return Entity{}, invalidRequest("Invalid client quota entity, duplicate entity entry " + component.EntityType)
		}
		seen[component.EntityType] = true
		name := Default()
		if component.Name != nil {
			name = Specific(*component.Name)
		}
		switch component.EntityType {
		case EntityTypeUser:
			entity.User = name
		case EntityTypeClientID:
			entity.ClientID = name
		case EntityTypeIP:
			hasIP = true
		default:
			return Entity{}, invalidRequest("Unhandled client quota entity type: " + component.EntityType)
		}
		if component.Name != nil && *component.Name == "" {
			return Entity{}, invalidRequest("Empty " + component.EntityType + " not supported")
		}
	}
	if hasIP {
		if entity.IsValid() {
			return Entity{}, invalidRequest("Invalid quota entity combination, IP entity should not be combined with User or ClientId")
		}
		return Entity{}, invalidRequest("IP quotas (connection_creation_rate) are not supported by this broker")
	}
	return entity, nil
}

// validateValue is ClientQuotaControlManager.validateQuotaKeyValue for the
// user and client-id keys: producer_byte_rate and consumer_byte_rate are
// LONGs, so whole numbers up to 2^63-1; request_percentage and
// controller_mutation_rate are DOUBLEs. Every value must be above 0.
// Unlike Kafka we also refuse NaN and infinities, which Kafka's checks let
// through (NaN compares false with everything) and which would turn the
// throttle arithmetic into nonsense.
func validateValue(key Key, value float64) *Error {
	if _, known := keyIndex(key); !known {
		return invalidRequest("Invalid configuration key " + string(key))
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return invalidRequest("Quota " + string(key) + " must be a finite number")
	}
	if value <= 0 {
		return invalidRequest("Quota " + string(key) + " must be greater than 0")
	}
	if key.integral() {
		if value > math.MaxInt64 {
			return invalidRequest("Proposed value for " + string(key) + " is too large for a LONG.")
		}
		if math.Abs(math.Mod(value, 1)) > 1e-6 {
			return invalidRequest(string(key) + " cannot be a fractional value.")
		}
	}
	return nil
}

// componentsKey identifies an entity as the request spelled it, for
// spotting the same entity twice.
func componentsKey(components []Component) string {
	parts := make([]string, 0, len(components))
	for _, component := range components {
		name := "\x00default"
		if component.Name != nil {
			name = "=" + *component.Name
		}
		parts = append(parts, component.EntityType+name)
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x01")
}

// componentsString prints an entity as Kafka's ClientQuotaEntity does.
func componentsString(components []Component) string {
	parts := make([]string, 0, len(components))
	for _, component := range components {
		name := "null"
		if component.Name != nil {
			name = *component.Name
		}
		parts = append(parts, component.EntityType+"="+name)
	}
	return "ClientQuotaEntity(entries={" + strings.Join(parts, ", ") + "})"
}
