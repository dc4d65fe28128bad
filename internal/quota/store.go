package quota

import (
	"math"
	"sync"
)

// Store is the broker's table of client quotas, kept from the replicated
// metadata log (ClientQuotaRecord): Set applies one record. It answers
// DescribeClientQuotas (Describe), checks AlterClientQuotas (Plan), and
// tells each Meter which quota applies to a client (Resolve).
//
// A Store is safe for concurrent use: writers (the metadata applier) take
// the write lock, readers (every metered request) the read lock, and no
// method calls out while holding it.
type Store struct {
	mu       sync.RWMutex
	entities map[Entity]map[Key]float64
	byKey    [len(Keys)]keyTable
}

// keyTable holds the quotas of one key, as each of Kafka's quota managers
// holds only its own type in its DefaultQuotaCallback.
type keyTable struct {
	values map[Entity]float64
	// How many entities of each shape carry this key: Kafka's
	// quotaTypesEnabled bitmask, which picks the metric tags, is built
	// from them.
	userAndClientEntities int
	userEntities          int
	clientEntities        int
}

// The bits of Kafka's ClientQuotaManager.quotaTypesEnabled.
const (
	clientIDQuotaEnabled     = 1
	userQuotaEnabled         = 2
	userClientIDQuotaEnabled = 4
)

// NewStore returns an empty Store.
func NewStore() *Store {
	store := &Store{entities: make(map[Entity]map[Key]float64)}
	for i := range store.byKey {
		store.byKey[i].values = make(map[Entity]float64)
	}
	return store
}

// Set applies one ClientQuotaRecord: value nil removes key from entity.
// Keys this package does not meter are still kept, so Describe shows them.
// A record for an entity without a user or client-id part is ignored.
func (s *Store) Set(entity Entity, key Key, value *float64) {
	if !entity.IsValid() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	quotas := s.entities[entity]
	if value == nil {
		if _, ok := quotas[key]; !ok {
			return
		}
		delete(quotas, key)
		if len(quotas) == 0 {
			delete(s.entities, entity)
		}
	} else {
		if quotas == nil {
			quotas = make(map[Key]float64, 1)
			s.entities[entity] = quotas
		}
		quotas[key] = *value
	}
	index, known := keyIndex(key)
	if !known {
		return
	}
	table := &s.byKey[index]
	_, had := table.values[entity]
	if value == nil {
		delete(table.values, entity)
	} else {
		table.values[entity] = *value
	}
	if had == (value != nil) {
		return
	}
	delta := 1
	if value == nil {
		delta = -1
	}
	switch {
	case entity.User.IsSet() && entity.ClientID.IsSet():
		table.userAndClientEntities += delta
	case entity.User.IsSet():
		table.userEntities += delta
	default:
		table.clientEntities += delta
	}
}

// Quotas returns a copy of the quotas set on exactly this entity.
func (s *Store) Quotas(entity Entity) map[Key]float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	quotas := make(map[Key]float64, len(s.entities[entity]))
	for key, value := range s.entities[entity] {
		quotas[key] = value
	}
	return quotas
}

// Resolution says which quota applies to a client for one key and which
// sensor meters it.
type Resolution struct {
	// Enabled is false when no entity carries the key at all; Kafka then
	// records nothing (maybeRecordAndGetThrottleTimeMs returns 0).
	Enabled bool
	// MetricUser and MetricClientID are Kafka's metric tags, which name the
	// sensor the client's usage is recorded in. A tag is "" when the quota
	// does not depend on that part. Clients with equal tags share a sensor
	// and so share the quota.
	MetricUser     string
	MetricClientID string
	// Limit is the quota, +Inf when none applies (Kafka's Long.MAX_VALUE).
	Limit float64
}

// Limited reports whether a finite quota applies.
func (r Resolution) Limited() bool { return !math.IsInf(r.Limit, 1) }

// Resolve finds the quota of key for a client, with Kafka's precedence:
//
//	/users/<user>/clients/<client-id>
//	/users/<user>/clients/<default>
//	/users/<user>
//	/users/<default>/clients/<client-id>
//	/users/<default>/clients/<default>
//	/users/<default>
//	/clients/<client-id>
//	/clients/<default>
//
// It is Kafka's DefaultQuotaCallback in two steps, kept apart because the
// second one's quirks depend on the first: quotaMetricTags picks the tags
// (the level that matched decides which of the client's own user and
// client-id go into them, so a default quota is a template applied to
// each user or client-id separately, not one bucket they share), then
// quotaLimit looks the limit up again from the tags alone.
func (s *Store) Resolve(key Key, client Client) Resolution {
	index, known := keyIndex(key)
	if !known {
		return Resolution{Limit: math.Inf(1)}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	table := &s.byKey[index]
	enabled := 0
	if table.clientEntities > 0 {
		enabled |= clientIDQuotaEnabled
	}
	if table.userEntities > 0 {
		enabled |= userQuotaEnabled
	}
	if table.userAndClientEntities > 0 {
		enabled |= userClientIDQuotaEnabled
	}
	resolution := Resolution{Enabled: enabled != 0}
	resolution.MetricUser, resolution.MetricClientID = table.metricTags(enabled, client)
	resolution.Limit = table.limit(resolution.MetricUser, resolution.MetricClientID)
	return resolution
}

// metricTags is DefaultQuotaCallback.quotaMetricTags. With one level of
// quotas in use the tags follow the level; with several, the first level
// (in precedence order) that holds a quota decides.
func (t *keyTable) metricTags(enabled int, client Client) (user, clientID string) {
	switch enabled {
	case 0, clientIDQuotaEnabled:
		return "", client.ClientID
	case userQuotaEnabled:
		return client.User, ""
	case userClientIDQuotaEnabled:
		return client.User, client.ClientID
	}
	userName, clientIDName := Specific(client.User), Specific(client.ClientID)
	levels := [...]struct {
		entity       Entity
		userOnlyTags bool
	}{
		{Entity{User: userName, ClientID: clientIDName}, false},
		{Entity{User: userName, ClientID: Default()}, false},
		{Entity{User: userName}, true},
		{Entity{User: Default(), ClientID: clientIDName}, false},
		{Entity{User: Default(), ClientID: Default()}, false},
		{Entity{User: Default()}, true},
	}
	for _, level := range levels {
		if _, ok := t.values[level.entity]; ok {
			if level.userOnlyTags {
				return client.User, ""
			}
			return client.User, client.ClientID
		}
	}
	return "", client.ClientID
}

// limit is DefaultQuotaCallback.quotaLimit: which tags are non-empty picks
// the chain searched. Note the user and client-id chain skips /users/<user>
// and /users/<default>, as Kafka's findUserClientQuota does.
func (t *keyTable) limit(user, clientID string) float64 {
	var chain [4]Entity
	var candidates []Entity
	switch {
	case user != "" && clientID != "":
		chain = [4]Entity{
			{User: Specific(user), ClientID: Specific(clientID)},
			{User: Specific(user), ClientID: Default()},
			{User: Default(), ClientID: Specific(clientID)},
			{User: Default(), ClientID: Default()},
		}
		candidates = chain[:4]
	case user != "":
		chain = [4]Entity{{User: Specific(user)}, {User: Default()}}
		candidates = chain[:2]
	case clientID != "":
		chain = [4]Entity{{ClientID: Specific(clientID)}, {ClientID: Default()}}
		candidates = chain[:2]
	}
	for _, entity := range candidates {
		if value, ok := t.values[entity]; ok {
			return value
		}
	}
	return math.Inf(1)
}
