package quota

import (
	"strconv"
	"strings"
)

// Entity types as they appear in DescribeClientQuotas and AlterClientQuotas
// (Kafka's ClientQuotaEntity.USER, CLIENT_ID and IP).
const (
	EntityTypeUser     = "user"
	EntityTypeClientID = "client-id"
	EntityTypeIP       = "ip"
)

// DefaultNameText is how Kafka prints a default entity name, as in
// /config/users/<default>.
const DefaultNameText = "<default>"

type nameState uint8

const (
	nameAbsent nameState = iota
	nameSpecific
	nameDefault
)

// Name is one part of an Entity: absent (the entity has no part of this
// type), the default (Kafka's <default>, a null name on the wire), or a
// specific name. The zero Name is absent. Names are comparable, so an
// Entity can key a map.
type Name struct {
	state nameState
	name  string
}

// Specific returns the Name for one user or client-id.
func Specific(name string) Name { return Name{state: nameSpecific, name: name} }

// Default returns the Name standing for every user or client-id that has
// no quota of its own (<default>).
func Default() Name { return Name{state: nameDefault} }

// IsSet reports whether the entity has this part at all.
func (n Name) IsSet() bool { return n.state != nameAbsent }

// IsDefault reports whether this is <default>.
func (n Name) IsDefault() bool { return n.state == nameDefault }

// IsSpecific reports whether this names one user or client-id.
func (n Name) IsSpecific() bool { return n.state == nameSpecific }

// Value is the specific name, or "" for the default or an absent part.
func (n Name) Value() string { return n.name }

// WireName is the name as DescribeClientQuotas and ClientQuotaRecord carry
// it: nil for the default.
func (n Name) WireName() *string {
	if n.state != nameSpecific {
		return nil
	}
	name := n.name
	return &name
}

func (n Name) String() string {
	switch n.state {
	case nameSpecific:
		return n.name
	case nameDefault:
		return DefaultNameText
	}
	return ""
}

// Entity is what a client quota is attached to: a user, a client-id, or a
// user and client-id together, each part a specific name or the default.
// IP entities are not represented: Samsa does not enforce connection-rate
// quotas.
type Entity struct {
	User     Name
	ClientID Name
}

// IsValid reports whether the entity has at least one part.
func (e Entity) IsValid() bool { return e.User.IsSet() || e.ClientID.IsSet() }

// Component is one entity part as the protocol carries it.
type Component struct {
	EntityType string
	Name       *string // nil is the default
}

// Components returns the entity's parts in the protocol's terms, user
// first.
func (e Entity) Components() []Component {
	components := make([]Component, 0, 2)
	if e.User.IsSet() {
		components = append(components, Component{EntityType: EntityTypeUser, Name: e.User.WireName()})
	}
	if e.ClientID.IsSet() {
		components = append(components, Component{EntityType: EntityTypeClientID, Name: e.ClientID.WireName()})
	}
	return components
}

// String prints the entity the way Kafka's ConfigCommand addresses it:
// /users/alice/clients/<default>, /clients/app-1.
func (e Entity) String() string {
	var builder strings.Builder
	if e.User.IsSet() {
		builder.WriteString("/users/")
		builder.WriteString(e.User.String())
	}
	if e.ClientID.IsSet() {
		builder.WriteString("/clients/")
		builder.WriteString(e.ClientID.String())
	}
	if builder.Len() == 0 {
		return "/(empty)"
	}
	return builder.String()
}

// EntityFromComponents builds an Entity from the components of a
// ClientQuotaRecord replayed from the metadata log. Those were validated by
// the controller when they were written; ok is false for anything this
// package cannot hold (an ip part, an unknown or repeated type), which the
// caller should skip.
func EntityFromComponents(components []Component) (entity Entity, ok bool) {
	for _, component := range components {
		name := Default()
		if component.Name != nil {
			name = Specific(*component.Name)
		}
		switch component.EntityType {
		case EntityTypeUser:
			if entity.User.IsSet() {
				return Entity{}, false
			}
			entity.User = name
		case EntityTypeClientID:
			if entity.ClientID.IsSet() {
				return Entity{}, false
			}
			entity.ClientID = name
		default:
			return Entity{}, false
		}
	}
	return entity, entity.IsValid()
}

// Key is a client quota configuration key.
type Key string

// The user and client-id quota keys (Kafka's QuotaConfig).
const (
	// ProducerByteRate bounds the bytes per second of produce requests.
	ProducerByteRate Key = "producer_byte_rate"
	// ConsumerByteRate bounds the bytes per second of fetch responses.
	ConsumerByteRate Key = "consumer_byte_rate"
	// RequestPercentage bounds the request handler and network thread time,
	// as a percentage of one thread, per quota window.
	RequestPercentage Key = "request_percentage"
	// ControllerMutationRate bounds the partitions created or deleted per
	// second by CreateTopics, CreatePartitions and DeleteTopics.
	ControllerMutationRate Key = "controller_mutation_rate"
)

// Keys lists the quota keys in a fixed order.
var Keys = [...]Key{ProducerByteRate, ConsumerByteRate, RequestPercentage, ControllerMutationRate}

// keyIndex maps a key to its slot in per-key arrays; ok is false for a key
// this package does not know.
func keyIndex(key Key) (index int, ok bool) {
	for i, known := range Keys {
		if known == key {
			return i, true
		}
	}
	return 0, false
}

// integral reports whether Kafka defines the key as a LONG (a whole number
// of bytes per second) rather than a DOUBLE.
func (k Key) integral() bool { return k == ProducerByteRate || k == ConsumerByteRate }

// Client is who a request comes from, as a quota sees it: the
// authenticated principal's name and the request header's client-id.
type Client struct {
	User     string
	ClientID string
}

func (c Client) String() string {
	return "user " + strconv.Quote(c.User) + " client-id " + strconv.Quote(c.ClientID)
}
